"""The emulator's HTTP and websocket routes: IBM's runtime v1 API (PROTOCOL.md §3-§5, §8).

The runtime API is mounted at ``/api/v1`` and again at ``/experimental/api/v1`` (rt 0.51 uses
a URL containing "experimental" verbatim); IAM is ``POST /identity/token`` at the root, as
IBM's separate IAM host; ``/gs`` and ``/gc`` answer rt 0.51's instance look-ups (§2.3).
Handlers that touch SQLite are plain functions, so FastAPI runs them in its thread pool and a
busy database never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import sqlite3
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Any

import qiskit
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qcourier.plugins.emulator.backends import Backend, BackendCatalog
from qcourier.plugins.emulator.errors import JOB_NOT_FOUND, ApiError, error_body
from qcourier.plugins.emulator.executor import Executor
from qcourier.plugins.emulator.faults import FaultInjector, FaultMiddleware
from qcourier.plugins.emulator.programs import InputError, ProgramNotFoundError, load
from qcourier.plugins.emulator.store import (
    FINAL_STATUSES,
    JobFilters,
    JobRecord,
    Store,
    new_job_id,
    utc_iso,
)
from qcourier.plugins.emulator.tokens import Principal, TokenAuthority, TokenError, instance_crn

__all__ = ["DEFAULT_MAX_BODY_BYTES", "EmulatorState", "StatusBroadcast", "build_app"]

log = logging.getLogger(__name__)

#: Largest request body accepted; bigger ones get 413 (``EmulatorServer(max_body_bytes=...)``
#: changes it). 16 MiB holds thousands of small QPY circuits.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
_MAX_PAGE = 1000
_DEFAULT_PAGE = 200
_APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
_PLAN_ID = "qcourier-emulator-open"
# Every key sees one legacy hub/group/project (prov 0.11 reads them from each job).
_HGP = {"hub": "ibm-q", "group": "open", "project": "main"}
# Legacy access tokens live 14 days, like IBM's (PROTOCOL.md §2.2).
_LEGACY_TTL = 14 * 24 * 3600


class StatusBroadcast:
    """Wakes websocket streams when a job changes state in this process.

    Changes made by another process sharing the database are found by the streams' own
    periodic re-read of the store.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def notify(self, job_id: str) -> None:
        """Wake every stream of *job_id*; callable from any thread."""
        with self._lock:
            waiters = list(self._waiters.get(job_id, ()))
        for loop, event in waiters:
            # A stream's loop may close between the copy above and here (server stopping).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def listeners(self, job_id: str) -> int:
        """How many streams of *job_id* are open in this process."""
        with self._lock:
            return len(self._waiters.get(job_id, ()))

    def subscribe(self, job_id: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """Register the calling coroutine's event for *job_id*."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(job_id, set()).add(entry)
        return entry

    def unsubscribe(
        self, job_id: str, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]
    ) -> None:
        """Forget an entry from :meth:`subscribe`."""
        with self._lock:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(entry)
                if not waiters:
                    del self._waiters[job_id]


@dataclass
class EmulatorState:
    """Everything the routes need, owned by :class:`~.server.EmulatorServer`."""

    store: Store
    authority: TokenAuthority
    catalog: BackendCatalog
    executor: Executor
    faults: FaultInjector
    broadcast: StatusBroadcast
    admin_secret: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    stream_poll_seconds: float = 0.5
    stopping: threading.Event = field(default_factory=threading.Event)


def _error_response(exc: ApiError) -> Response:
    body, headers = error_body(exc.status, exc.message, exc.code)
    return Response(body, status_code=exc.status, headers={**headers, **exc.headers})


def _job_not_found(job_id: str) -> ApiError:
    return ApiError(404, f"Job not found: {job_id}.", JOB_NOT_FOUND)


def _flag(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ApiError(400, f"query parameter {name} must be true or false, not {value!r}")


def _iso_bound(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, f"query parameter {name} is not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return utc_iso(moment)


def _tags(value: Any, where: str) -> list[str]:
    # PROTOCOL.md §8: a list of strings, nothing else (a tuple arrives as a list in JSON).
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ApiError(400, f"{where} must be a list of strings")
    return value


def _estimated_seconds(job: JobRecord) -> float:
    # A rough figure, shown as usage_estimation; the emulator has no calibrated cost model.
    return round(0.05 + 2e-6 * int(job.summary.get("shots", 0)), 3)


def _job_document(job: JobRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": job.id,
        "backend": job.backend,
        "program": {"id": job.program_id},
        "status": job.status,
        "state": {"status": job.status, "reason": job.reason, "reason_code": job.reason_code},
        "created": job.created,
        "end_time": job.finished,
        "tags": job.tags,
        "session_id": job.session_id,
        "runtime": "",
        "private": False,
        "cost": job.max_execution_time,
        "estimated_running_time_seconds": _estimated_seconds(job),
        **_HGP,
    }
    if job.params is not None:
        doc["params"] = json.loads(job.params)
    return doc


def _frame(job_id: str, status: str, reason: str | None, code: int | None) -> str:
    data = {"id": job_id, "status": status, "reason": reason, "reason_code": code}
    return json.dumps({"type": "job-status", "data": data})


class BodyLimitMiddleware:
    """Refuses request bodies over *limit* bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        message = f"Request body exceeds the limit of {self._limit} bytes."
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self._limit:
            await _error_response(ApiError(413, message))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self._limit:
                    raise ApiError(413, message)
            return msg

        await self._app(scope, limited_receive, send)


def authenticate(
    state: EmulatorState, headers: Mapping[str, str], require_crn: bool = True
) -> Principal:
    """Check the credentials in request *headers* (PROTOCOL.md §2.1).

    :raises ApiError: 401 for a missing, expired, foreign or revoked credential, or a
        ``Service-CRN`` the key does not own.
    """
    legacy = headers.get("x-access-token")
    if legacy:
        # prov 0.11's legacy login: the token alone names the caller, no Service-CRN.
        try:
            return state.authority.principal_for_token(legacy)
        except TokenError as exc:
            raise ApiError(401, str(exc)) from exc
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    try:
        if scheme.lower() == "bearer" and credential:
            principal = state.authority.principal_for_token(credential)
        elif scheme.lower() == "apikey" and credential:
            principal = state.authority.principal_for_key(credential)
        else:
            raise ApiError(401, "Missing or malformed Authorization header.")
    except TokenError as exc:
        raise ApiError(401, str(exc)) from exc
    if require_crn and headers.get("service-crn") != principal.instance:
        raise ApiError(401, "Service-CRN header missing or not an instance of this API key.")
    return principal


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _principal(request: Request) -> Principal:
    return authenticate(_state(request), request.headers)


async def _json_body(request: Request) -> Any:
    # Content-Type is not required: prov 0.11 posts jobs and tags without one.
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "Request body is empty; a JSON object was expected.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ApiError(400, "Request body is not valid JSON: it is nested too deeply.") from None


# Module level, so FastAPI can resolve these annotations from the handlers' globals.
Who = Annotated[Principal, Depends(_principal)]
JsonBody = Annotated[Any, Depends(_json_body)]


class ContainErrorsMiddleware:
    """Logs what escapes the app after its 500 reply went out, and keeps the connection.

    Starlette sends the error handler's reply, then re-raises; uvicorn would close the
    keep-alive connection on it, and a client reusing that connection would see a reset.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        except Exception:
            if scope["type"] != "http":
                raise
            log.exception("emulator bug answering %s %s", scope.get("method"), scope.get("path"))


def build_app(state: EmulatorState) -> ASGIApp:
    """Return the emulator's ASGI application, fault injection included."""
    app = FastAPI(
        title="qcourier emulator of the IBM Quantum runtime API",
        version="1",
        redirect_slashes=False,
    )
    app.state.emulator = state
    _install_error_handlers(app)

    def owned_job(job_id: str, who: Principal, with_params: bool = False) -> JobRecord:
        job = state.store.get(job_id, who.instance, with_params)
        if job is None:
            raise _job_not_found(job_id)
        return job

    def backend_named(name: str) -> Backend:
        backend = state.catalog.get(name)
        if backend is None:
            raise ApiError(404, f"Backend not found: {name!r}.")
        return backend

    runtime = APIRouter()

    @runtime.get("/backends")
    def list_backends(who: Who, provider: str | None = None) -> dict[str, Any]:
        if provider is not None:
            return {"devices": state.catalog.names()}
        return {
            "devices": [
                backend.list_item(state.store.queue_length(backend.name))
                for backend in state.catalog.backends()
            ]
        }

    @runtime.get("/backends/")
    def list_backend_names(who: Who) -> dict[str, Any]:
        # prov 0.11 asks with a trailing slash and expects names, not objects.
        return {"devices": state.catalog.names()}

    @runtime.get("/backends/{name}/configuration")
    def configuration(name: str, who: Who) -> dict[str, Any]:
        return backend_named(name).configuration

    @runtime.get("/backends/{name}/properties")
    def properties(name: str, who: Who) -> dict[str, Any]:
        return backend_named(name).properties

    @runtime.get("/backends/{name}/status")
    def backend_status(name: str, who: Who) -> dict[str, Any]:
        return backend_named(name).status(state.store.queue_length(name))

    @runtime.get("/backends/{name}/defaults")
    def defaults(name: str, who: Who) -> dict[str, Any]:
        backend_named(name)
        return {}

    @runtime.post("/jobs")
    def submit(body: JsonBody, who: Who) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object.")
        program_id, backend_name = body.get("program_id"), body.get("backend")
        if not isinstance(program_id, str) or not program_id:
            raise ApiError(400, "program_id is required and must be a string.")
        if not isinstance(backend_name, str) or not backend_name:
            raise ApiError(400, "backend is required and must be a string.")
        params = body.get("params")
        if not isinstance(params, dict):
            raise ApiError(400, "params is required and must be an object.")
        tags = _tags(body.get("tags") or [], "tags")
        session_id = body.get("session_id")
        if session_id is not None and not isinstance(session_id, str):
            raise ApiError(400, "session_id must be a string.")
        cost = body.get("cost")
        if cost is not None and (
            isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost > 0
        ):
            raise ApiError(400, "cost (the maximum execution time in seconds) must be positive.")
        backend = backend_named(backend_name)
        params_text = json.dumps(params)
        try:
            workload = load(program_id, params_text)
        except ProgramNotFoundError as exc:
            raise ApiError(404, str(exc)) from exc
        except InputError as exc:
            raise ApiError(400, str(exc)) from exc
        job = JobRecord(
            id=new_job_id(),
            instance=who.instance,
            program_id=program_id,
            backend=backend.name,
            status="Queued",
            created=utc_iso(),
            summary=workload.summary(),
            session_id=session_id,
            max_execution_time=float(cost) if cost is not None else None,
            seed=workload.seed,
            tags=sorted(set(tags)),
        )
        state.store.insert(job, params_text)
        state.executor.remember(job.id, workload)
        state.executor.wake()
        reply: dict[str, Any] = {"id": job.id, "backend": job.backend}
        if session_id is not None:
            reply["session_id"] = session_id
        return reply

    @runtime.get("/jobs")
    def list_jobs(
        who: Who,
        limit: Annotated[int, Query(ge=0, le=_MAX_PAGE)] = _DEFAULT_PAGE,
        offset: Annotated[int, Query(ge=0)] = 0,
        pending: str | None = None,
        program: str | None = None,
        backend: str | None = None,
        session_id: str | None = None,
        tags: Annotated[list[str] | None, Query()] = None,
        created_after: str | None = None,
        created_before: str | None = None,
        sort: str = "DESC",
        exclude_params: str | None = None,
    ) -> dict[str, Any]:
        if sort.upper() not in ("ASC", "DESC"):
            raise ApiError(400, f"query parameter sort must be ASC or DESC, not {sort!r}")
        filters = JobFilters(
            pending=_flag(pending, "pending"),
            program=program,
            backend=backend,
            session_id=session_id,
            tags=tags or (),
            created_after=_iso_bound(created_after, "created_after"),
            created_before=_iso_bound(created_before, "created_before"),
        )
        with_params = not _flag(exclude_params, "exclude_params")
        jobs, count = state.store.list_jobs(
            who.instance, filters, limit, offset, sort.upper() == "ASC", with_params
        )
        return {
            "jobs": [_job_document(job) for job in jobs],
            "count": count,
            "limit": limit,
            "offset": offset,
        }

    @runtime.get("/jobs/{job_id}")
    def get_job(job_id: str, who: Who, exclude_params: str | None = None) -> dict[str, Any]:
        with_params = not _flag(exclude_params, "exclude_params")
        return _job_document(owned_job(job_id, who, with_params))

    @runtime.get("/jobs/{job_id}/results")
    def results(job_id: str, who: Who) -> Response:
        job = owned_job(job_id, who)
        if job.status not in FINAL_STATUSES:
            raise ApiError(409, f"Job {job_id} is {job.status}; results exist once it is final.")
        text = state.store.result(job_id) or ""
        # Failed jobs answer 200 with the error text: rt 0.51's status() needs it (§4.4).
        if job.status == "Completed":
            return Response(text, media_type="application/json")
        return PlainTextResponse(text)

    @runtime.get("/jobs/{job_id}/metrics")
    def metrics(job_id: str, who: Who) -> dict[str, Any]:
        job = owned_job(job_id, who)
        final = job.status in FINAL_STATUSES
        positions = state.store.queue_positions(job)
        seconds = round(job.quantum_seconds or 0.0, 6) if final else 0
        summary = job.summary
        return {
            "timestamps": {
                "created": job.created,
                "running": job.running,
                "finished": job.finished,
            },
            "bss": {"seconds": seconds},
            "usage": {
                "quantum_seconds": seconds,
                "seconds": seconds,
                "qpu_charge_time_seconds": seconds,
                "status": "completed" if final else "pending",
            },
            "qiskit_version": qiskit.__version__,
            "executions": summary.get("shots", 0),
            "num_circuits": summary.get("num_circuits", 0),
            "num_qubits": summary.get("num_qubits", []),
            "circuit_depths": summary.get("circuit_depths", []),
            "position_in_queue": positions[0] if positions else None,
            "position_in_provider": positions[1] if positions else None,
            # The emulator does not forecast; clients treat null as unknown.
            "estimated_start_time": None,
            "estimated_completion_time": None,
        }

    @runtime.get("/jobs/{job_id}/logs")
    def logs(job_id: str, who: Who) -> Response:
        owned_job(job_id, who)
        lines = [f"{e.at} {e.status}: {e.message}" for e in state.store.events(job_id)]
        return PlainTextResponse("\n".join(lines) + "\n")

    @runtime.post("/jobs/{job_id}/cancel")
    def cancel(job_id: str, who: Who) -> Response:
        outcome = state.store.request_cancel(job_id, who.instance)
        if outcome == "missing":
            raise _job_not_found(job_id)
        if outcome == "final":
            raise ApiError(
                409, f"Job {job_id} is already in a final state and cannot be cancelled."
            )
        state.broadcast.notify(job_id)
        return Response(status_code=204)

    @runtime.delete("/jobs/{job_id}")
    def delete(job_id: str, who: Who) -> Response:
        outcome = state.store.delete(job_id, who.instance)
        if outcome == "missing":
            raise _job_not_found(job_id)
        if outcome is not None:
            raise ApiError(409, f"Job {job_id} is {outcome}; only final jobs can be deleted.")
        return Response(status_code=204)

    @runtime.put("/jobs/{job_id}/tags")
    def replace_tags(job_id: str, body: JsonBody, who: Who) -> Response:
        if not isinstance(body, dict) or "tags" not in body:
            raise ApiError(400, 'Request body must be an object {"tags": [...]}.')
        tags = _tags(body["tags"], "tags")
        if not state.store.replace_tags(job_id, who.instance, sorted(set(tags))):
            raise _job_not_found(job_id)
        return Response(status_code=204)

    @runtime.get("/facade/v1/jobs/{job_id}/type")
    def job_type(job_id: str, who: Who) -> dict[str, str]:
        owned_job(job_id, who)
        return {"type": "RUNTIME"}

    @runtime.get("/instances/usage")
    def usage(who: Who) -> dict[str, Any]:
        consumed = state.store.usage_seconds(who.instance)
        # The emulator has no quota; a large allocation keeps rt 0.51 from warning.
        allocation = 10 * 365 * 24 * 3600
        return {
            "instance_id": who.instance,
            "plan_id": _PLAN_ID,
            "usage_consumed_seconds": consumed,
            "usage_limit_seconds": allocation,
            "usage_allocation_seconds": allocation,
            "usage_remaining_seconds": allocation - consumed,
            "usage_limit_reached": False,
            "usage_period": {"start_time": "2024-01-01T00:00:00Z", "end_time": None},
        }

    @runtime.websocket("/stream/jobs/{job_id}")
    async def stream(websocket: WebSocket, job_id: str) -> None:
        try:
            who = authenticate(state, websocket.headers)
            job = await run_in_threadpool(state.store.get, job_id, who.instance)
            if job is None:
                raise _job_not_found(job_id)
        except ApiError as exc:
            # HTTP status before the upgrade (PROTOCOL.md §5.4): 401 bad auth, 404 unknown job.
            await websocket.send_denial_response(_error_response(exc))
            return
        await websocket.accept()
        try:
            await websocket.send_text(json.dumps({"type": "ack", "job_id": job_id}))
            await _stream_status(websocket, job_id, state)
        except WebSocketDisconnect:
            return
        except sqlite3.Error:
            log.exception("job stream of %s failed", job_id)
            # PROTOCOL.md §5.4: 4001 tells the client it was the server's fault.
            await websocket.close(4001)

    app.include_router(runtime, prefix="/api/v1")
    app.include_router(runtime, prefix="/experimental/api/v1")
    _add_iam_routes(app, state)
    _add_legacy_routes(app, state)
    _add_admin_routes(app, state)
    limited = BodyLimitMiddleware(ContainErrorsMiddleware(app), state.max_body_bytes)
    return FaultMiddleware(limited, state.faults)


async def _stream_status(websocket: WebSocket, job_id: str, state: EmulatorState) -> None:
    """Send one frame per state change, then close 1000 after the final one."""
    entry = state.broadcast.subscribe(job_id)
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        events = await run_in_threadpool(state.store.events, job_id)
        # The current state first (a reconnect to a finished job gets just the final frame).
        pending = events[-1:]
        last_seq = events[-1].seq if events else 0
        while True:
            for event in pending:
                await websocket.send_text(
                    _frame(job_id, event.status, event.reason, event.reason_code)
                )
                if event.status in FINAL_STATUSES:
                    await websocket.close(1000)
                    return
            entry[1].clear()
            waiter = asyncio.ensure_future(entry[1].wait())
            done, _ = await asyncio.wait(
                {receiver, waiter},
                timeout=state.stream_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            waiter.cancel()
            if receiver in done:
                if receiver.result()["type"] == "websocket.disconnect":
                    return
                receiver = asyncio.ensure_future(websocket.receive())
            if state.stopping.is_set():
                await websocket.close(1001)
                return
            pending = await run_in_threadpool(state.store.events, job_id, last_seq)
            if pending:
                last_seq = pending[-1].seq
    finally:
        receiver.cancel()
        state.broadcast.unsubscribe(job_id, entry)


def _iam_error(code: str, message: str) -> JSONResponse:
    # IAM's own error shape, not the runtime's (PROTOCOL.md §2.1).
    return JSONResponse(
        {"errorCode": code, "errorMessage": message, "context": {"requestId": new_job_id()}},
        status_code=400,
    )


def _add_iam_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.post("/identity/token")
    async def iam_token(request: Request) -> Response:
        try:
            form = urllib.parse.parse_qs((await request.body()).decode(), strict_parsing=False)
        except UnicodeDecodeError:
            return _iam_error("BXNIM0109E", "Request body is not form-encoded text.")
        grant = form.get("grant_type", [""])[0]
        api_key = form.get("apikey", [""])[0]
        if grant != _APIKEY_GRANT:
            return _iam_error("BXNIM0103E", f"Unsupported grant_type; use {_APIKEY_GRANT}.")
        if not api_key:
            return _iam_error("BXNIM0104E", "Missing apikey form field.")
        try:
            token, issued, expires = state.authority.mint(api_key)
        except TokenError as exc:
            return _iam_error("BXNIM0415E", str(exc))
        return JSONResponse(
            {
                "access_token": token,
                "refresh_token": "not-supported",
                "token_type": "Bearer",
                "expires_in": expires - issued,
                "expiration": expires,
                "scope": "ibm openid",
            }
        )

    @app.post("/gs/v3/resources/search")
    def search_instances(request: Request) -> dict[str, Any]:
        who = authenticate(state, request.headers, require_crn=False)
        item = {
            "crn": who.instance,
            "name": "qcourier-emulator",
            "service_plan_unique_id": _PLAN_ID,
            "tags": [],
            "doc": {"extensions": {"quantum_computing": {"emulator": True}}},
        }
        return {"items": [item], "search_cursor": None, "limit": 100}

    @app.get("/gc/{plan_id}")
    def catalog_plan(plan_id: str, request: Request) -> dict[str, Any]:
        authenticate(state, request.headers, require_crn=False)
        if plan_id != _PLAN_ID:
            raise ApiError(404, f"Plan not found: {plan_id!r}.")
        return {
            "id": _PLAN_ID,
            "overview_ui": {"en": {"display_name": "Open"}},
            "metadata": {"pricing": {"type": "free"}},
        }


def _add_legacy_routes(app: FastAPI, state: EmulatorState) -> None:
    """The retired ``ibm_quantum`` login that prov 0.11 speaks (PROTOCOL.md §2.2)."""

    @app.get("/api/version")
    def version() -> dict[str, Any]:
        return {"api-auth": "0.1", "new_api": True}

    @app.post("/api/users/loginWithToken")
    def login(body: JsonBody) -> dict[str, Any]:
        api_token = body.get("apiToken") if isinstance(body, dict) else None
        if not isinstance(api_token, str) or not api_token:
            raise ApiError(400, 'Request body must be {"apiToken": "<API token>"}.')
        try:
            token, issued, expires = state.authority.mint(api_token, ttl=_LEGACY_TTL)
        except TokenError as exc:
            raise ApiError(401, f"Login failed: {exc}") from exc
        return {
            "id": token,
            "ttl": expires - issued,
            "userId": instance_crn(api_token).split(":")[-3],
            "created": utc_iso(datetime.fromtimestamp(issued, timezone.utc)),
        }

    @app.get("/api/users/me")
    def me(request: Request, who: Who) -> dict[str, Any]:
        root = str(request.base_url).rstrip("/")
        return {
            "urls": {
                "http": f"{root}/api",
                "ws": f"{root.replace('http', 'ws', 1)}/api/v1",
                "services": {"runtime": f"{root}/api/v1"},
            }
        }

    @app.get("/api/Network")
    def network(who: Who) -> list[dict[str, Any]]:
        project = {_HGP["project"]: {"isDefault": True}}
        return [{"name": _HGP["hub"], "groups": {_HGP["group"]: {"projects": project}}}]


def _add_admin_routes(app: FastAPI, state: EmulatorState) -> None:
    def check(request: Request) -> None:
        # Off unless the server has an admin secret; then loopback callers with it only.
        if state.admin_secret is None:
            raise ApiError(404, f"Not found: {request.method} {request.url.path}.")
        host = request.client.host if request.client else ""
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ApiError(403, "The admin endpoint answers loopback clients only.")
        given = request.headers.get("x-admin-secret", "")
        if not hmac.compare_digest(given.encode(), state.admin_secret.encode()):
            raise ApiError(403, "Missing or wrong X-Admin-Secret header.")

    @app.get("/admin/faults")
    def read_faults(request: Request) -> dict[str, Any]:
        check(request)
        return state.faults.state()

    @app.post("/admin/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        check(request)
        try:
            body = json.loads(await request.body() or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object.")
        try:
            _apply_faults(state.faults, body)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid fault: {exc}") from exc
        return state.faults.state()


def _apply_faults(faults: FaultInjector, body: dict[str, Any]) -> None:
    """Apply an admin request; keys as the :class:`FaultInjector` methods they call."""
    known = {
        "clear",
        "latency",
        "fail_next",
        "rate_limit_next",
        "drop_websocket_after",
        "refuse_websockets",
        "pause_execution",
        "slow_execution",
        "expire_tokens",
        "revoke_key",
    }
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if body.get("clear"):
        faults.clear()
    if "latency" in body:
        latency = body["latency"]
        if isinstance(latency, dict):
            faults.set_latency(**latency)
        else:
            faults.set_latency(float(latency))
    if "fail_next" in body:
        faults.fail_next(**_kwargs(body["fail_next"], "fail_next"))
    if "rate_limit_next" in body:
        faults.rate_limit_next(**_kwargs(body["rate_limit_next"], "rate_limit_next"))
    if "drop_websocket_after" in body:
        faults.drop_websocket_after(**_kwargs(body["drop_websocket_after"], "drop_websocket_after"))
    if "refuse_websockets" in body:
        faults.refuse_websockets(bool(body["refuse_websockets"]))
    if "pause_execution" in body:
        faults.pause_execution(bool(body["pause_execution"]))
    if "slow_execution" in body:
        faults.slow_execution(float(body["slow_execution"]))
    if body.get("expire_tokens"):
        faults.expire_tokens()
    if "revoke_key" in body:
        if not isinstance(body["revoke_key"], str):
            raise TypeError("revoke_key must be the API key string")
        faults.revoke_key(body["revoke_key"])


def _kwargs(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be an object of keyword arguments")
    return value


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"Not found: {request.method} {request.url.path}."
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        else:
            message = str(exc.detail)
        return _error_response(ApiError(exc.status_code, message))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{' '.join(str(part) for part in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return _error_response(ApiError(400, f"Invalid request: {problems}."))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Logged by ContainErrorsMiddleware, which Starlette re-raises the exception into.
        return _error_response(ApiError(500, f"Internal emulator error: {exc!r}."))

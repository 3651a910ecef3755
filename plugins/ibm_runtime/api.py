"""``ibm_runtime``: the IBM Quantum runtime v1 API dialect (PROTOCOL.md §3).

:class:`RuntimeClient` implements :class:`qcourier.api.RuntimeApi` over the connection's
:meth:`~qcourier.host.PluginHost.send`, so auth, retries and transport stay in their plugins.
It turns the service's answers into the job error family: 404 with code 3250 →
:class:`~qcourier.IBMJobNotFoundError`, 401 → :class:`~qcourier.IBMAuthError`, 409 on
cancel/delete/results → :class:`~qcourier.IBMJobInvalidStateError`, an unreachable service →
:class:`~qcourier.IBMJobApiError` with ``status_code=None``; every message names the request and
carries the service's own message and trace id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

from qcourier.errors import (
    IBMAuthError,
    IBMJobApiError,
    IBMJobInvalidStateError,
    IBMJobNotFoundError,
    TransportError,
)
from qcourier.hooks import hookimpl
from qcourier.messages import Request, Response
from qcourier.plugins.ibm_runtime import tagged_json
from qcourier.validation import validate_tags

if TYPE_CHECKING:
    from qcourier.api import RuntimeApi
    from qcourier.host import PluginHost

__all__ = ["JOB_NOT_FOUND_CODE", "RuntimeApiPlugin", "RuntimeClient"]

log = logging.getLogger(__name__)

#: ``error.code`` of the service's "job not found" answers.
JOB_NOT_FOUND_CODE = 3250

_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


class RuntimeApiPlugin:
    """Provides the connection's :class:`RuntimeClient`."""

    def __init__(self) -> None:
        self._host: PluginHost | None = None

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        self._host = host

    @hookimpl
    def qcourier_api_client(self) -> RuntimeApi | None:
        return RuntimeClient(self._host) if self._host is not None else None


class RuntimeClient:
    """Speaks the runtime v1 job and backend endpoints for one connection."""

    def __init__(self, host: PluginHost) -> None:
        self._host = host
        self._base = host.endpoint.runtime_url.rstrip("/")

    # -- backends -------------------------------------------------------------------------

    def backends(self) -> list[dict[str, Any]]:
        devices = self._json("GET", "/backends").get("devices", [])
        # The legacy dialect lists names, the current one objects; callers get objects.
        return [{"name": item} if isinstance(item, str) else dict(item) for item in devices]

    def backend_configuration(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/backends/{_segment(name)}/configuration")

    def backend_properties(self, name: str) -> dict[str, Any] | None:
        # An empty document means "no properties" (simulators).
        return self._json("GET", f"/backends/{_segment(name)}/properties") or None

    def backend_status(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/backends/{_segment(name)}/status")

    # -- jobs -----------------------------------------------------------------------------

    def submit_job(
        self,
        program_id: str,
        backend: str,
        params: dict[str, Any],
        *,
        tags: Sequence[str] | None = None,
        session_id: str | None = None,
        max_execution_time: int | None = None,
    ) -> dict[str, Any]:
        checked = validate_tags(tags, ValueError)
        body: dict[str, Any] = {
            "program_id": program_id,
            "backend": backend,
            "params": _to_wire(params),
        }
        if checked:
            body["tags"] = checked
        if session_id:
            body["session_id"] = session_id
        if max_execution_time is not None:
            body["cost"] = int(max_execution_time)
        # Not idempotent: a retry after the body went out could create a second job.
        reply = self._json(
            "POST",
            "/jobs",
            json_body=body,
            timeout=self._host.options.result_timeout,
            idempotent=False,
        )
        log.debug("submitted job %s to %s", reply.get("id"), backend)
        return reply

    def job_get(self, job_id: str, *, exclude_params: bool = True) -> dict[str, Any]:
        return self._json(
            "GET",
            f"/jobs/{_segment(job_id)}",
            params=(("exclude_params", "true" if exclude_params else "false"),),
        )

    def jobs_list(
        self,
        *,
        limit: int,
        offset: int = 0,
        pending: bool | None = None,
        backend: str | None = None,
        program: str | None = None,
        tags: Sequence[str] | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        ascending: bool = False,
    ) -> dict[str, Any]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a whole number >= 1, got {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a whole number >= 0, got {offset!r}")
        query: list[tuple[str, str]] = [("limit", str(limit))]
        if offset:
            query.append(("offset", str(offset)))
        if pending is not None:
            query.append(("pending", "true" if pending else "false"))
        if program:
            query.append(("program", program))
        if backend:
            query.append(("backend", backend))
        query += [("tags", tag) for tag in validate_tags(tags, ValueError)]
        if created_after:
            query.append(("created_after", created_after))
        if created_before:
            query.append(("created_before", created_before))
        if ascending:
            query.append(("sort", "ASC"))
        query.append(("exclude_params", "true"))
        return self._json("GET", "/jobs", params=tuple(query))

    def job_results(self, job_id: str) -> str:
        response = self._call(
            "GET", f"/jobs/{_segment(job_id)}/results", timeout=self._host.options.result_timeout
        )
        return response.text

    def job_metrics(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{_segment(job_id)}/metrics")

    def job_logs(self, job_id: str) -> str:
        try:
            return self._call("GET", f"/jobs/{_segment(job_id)}/logs").text
        except IBMJobApiError as exc:
            # As qiskit-ibm-runtime does: a 404 means there are no logs to show.
            if exc.status_code == 404:
                return ""
            raise

    def job_cancel(self, job_id: str) -> None:
        self._call("POST", f"/jobs/{_segment(job_id)}/cancel")

    def job_delete(self, job_id: str) -> None:
        self._call("DELETE", f"/jobs/{_segment(job_id)}")

    def job_update_tags(self, job_id: str, tags: Sequence[str]) -> None:
        checked = validate_tags(tags, ValueError)
        path = f"/jobs/{_segment(job_id)}/tags"
        response = self._call("PUT", path, json_body={"tags": checked})
        # Both IBM clients treat anything but exactly 204 as a failure.
        if response.status != 204:
            raise IBMJobApiError(
                f"PUT {self._base}{path} answered {response.status}, expected 204: "
                f"{_service_message(response)}",
                status_code=response.status,
            )

    def stream_url(self, job_id: str) -> str:
        parts = urlsplit(self._base)
        scheme = _WS_SCHEMES.get(parts.scheme.lower())
        if scheme is None:
            raise ValueError(f"no websocket scheme for runtime URL {self._base!r}")
        return urlunsplit(parts._replace(scheme=scheme)) + f"/stream/jobs/{_segment(job_id)}"

    # -- plumbing -------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: tuple[tuple[str, str], ...] = (),
        json_body: Any = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        response = self._call(
            method, path, params=params, json_body=json_body, timeout=timeout, idempotent=idempotent
        )
        try:
            document = response.json()
        except ValueError:
            raise IBMJobApiError(
                f"{method} {self._base}{path} answered {response.status} with a body that is "
                f"not JSON: {response.text[:200]!r}",
                status_code=response.status,
            ) from None
        if not isinstance(document, dict):
            raise IBMJobApiError(
                f"{method} {self._base}{path} answered with JSON that is not an object",
                status_code=response.status,
            )
        return document

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: tuple[tuple[str, str], ...] = (),
        json_body: Any = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> Response:
        request = Request(
            method,
            f"{self._base}{path}",
            params=params,
            json_body=json_body,
            timeout=timeout,
            idempotent=idempotent,
        )
        try:
            response = self._host.send(request)
        except TransportError as exc:
            raise IBMJobApiError(str(exc), status_code=None) from None
        if not response.ok:
            _raise_for(request, response)
        return response

    def __repr__(self) -> str:
        return f"<RuntimeClient {self._base}>"


def _segment(value: str) -> str:
    """Quote *value* as one path segment, so an id can never reach another endpoint."""
    return quote(str(value), safe="")


def _to_wire(value: Any) -> Any:
    """Make *value* JSON-ready, tagging qiskit and numpy objects (QPY circuits, arrays).

    Only the leaves JSON cannot hold go through the tagged-JSON encoder, so plain data is
    neither copied into text nor parsed back.
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {key: _to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_wire(item) for item in value]
    return json.loads(tagged_json.encode(value))


def _service_message(response: Response) -> str:
    """The service's own explanation of an error answer, with its trace id when given."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message: str | None = None
    trace = response.header("uber-trace-id")
    if isinstance(body, dict):
        error = body.get("error")
        errors = body.get("errors")
        if isinstance(error, dict) and error.get("message"):
            message = str(error["message"])
            if error.get("code") is not None:
                message += f" (code {error['code']})"
        elif isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = str(errors[0].get("message", ""))
        else:
            found = body.get("message", body.get("detail", body.get("errorMessage")))
            message = str(found) if found else None
        if isinstance(body.get("trace"), str):
            trace = trace or body["trace"]
    if not message:
        message = response.text.strip()[:300] or "no message"
    return f"{message} [trace {trace}]" if trace else message


def _error_code(response: Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def _raise_for(request: Request, response: Response) -> NoReturn:
    status = response.status
    where = f"{request.method} {request.url}"
    message = _service_message(response)
    if status == 404 and _error_code(response) == JOB_NOT_FOUND_CODE:
        raise IBMJobNotFoundError(f"{where}: job not found: {message}", status_code=404)
    if status == 401:
        raise IBMAuthError(
            f"{where}: the service refused the credentials (401): {message}; check the API key "
            "or token and that the instance CRN belongs to it",
            status_code=401,
        )
    if status == 409:
        raise IBMJobInvalidStateError(f"{where}: not possible in the job's state: {message}")
    if status == 429:
        retry_after = response.header("Retry-After")
        hint = f"; retry after {retry_after} s" if retry_after else ""
        raise IBMJobApiError(f"{where}: rate limited (429): {message}{hint}", status_code=429)
    raise IBMJobApiError(f"{where} failed with {status}: {message}", status_code=status)

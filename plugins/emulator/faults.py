"""Fault injection, so client resilience is tested against the real server.

:class:`FaultInjector` holds the faults (settable from Python or ``POST /admin/faults``);
:class:`FaultMiddleware` applies them to every HTTP request and websocket except ``/admin``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qcourier.plugins.emulator.errors import error_body
from qcourier.plugins.emulator.tokens import TokenAuthority

__all__ = ["FaultInjector", "FaultMiddleware"]


@dataclass
class _Burst:
    remaining: int
    status: int
    retry_after: float | None
    path_prefix: str | None
    method: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )


@dataclass(frozen=True)
class WebsocketFaults:
    """What to do to the next websocket: refuse it, or drop it after some frames."""

    refuse: bool
    drop_after: int | None
    drop_code: int


class FaultInjector:
    """The faults a running emulator applies; every method is thread-safe."""

    def __init__(self, authority: TokenAuthority) -> None:
        self._authority = authority
        self._lock = threading.Lock()
        self._latency = 0.0
        self._latency_prefix: str | None = None
        self._bursts: list[_Burst] = []
        self._ws = WebsocketFaults(refuse=False, drop_after=None, drop_code=1011)
        self._paused = False
        self._step_delay = 0.0

    def set_latency(self, seconds: float, *, path_prefix: str | None = None) -> None:
        """Delay every request by *seconds* (0 turns it off).

        :param path_prefix: only requests whose path starts with it (e.g. ``/api/v1``, which
            spares IAM at ``/identity/token``).
        """
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = seconds
            self._latency_prefix = path_prefix

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        path_prefix: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next *count* matching requests with *status* (a 5xx).

        :param path_prefix: only requests whose path starts with it (e.g. ``/api/v1/jobs``).
        :param method: only requests with this method (e.g. ``"GET"``).
        """
        if not 500 <= status <= 599:
            raise ValueError(f"fail_next takes a 5xx status, not {status}")
        self._add(_Burst(count, status, None, path_prefix, method and method.upper()))

    def rate_limit_next(
        self,
        count: int,
        *,
        retry_after: float | None = None,
        path_prefix: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next *count* matching requests with 429, with ``Retry-After`` if given."""
        self._add(_Burst(count, 429, retry_after, path_prefix, method and method.upper()))

    def drop_websocket_after(self, frames: int, code: int = 1011) -> None:
        """Close every stream after *frames* frames (the ACK counts) with *code* (not 1000)."""
        if frames < 0 or code == 1000:
            raise ValueError("drop after >= 0 frames, with a close code other than 1000")
        with self._lock:
            self._ws = WebsocketFaults(self._ws.refuse, frames, code)

    def refuse_websockets(self, refuse: bool = True) -> None:
        """Refuse every websocket upgrade with HTTP 503 (or accept them again)."""
        with self._lock:
            self._ws = WebsocketFaults(refuse, self._ws.drop_after, self._ws.drop_code)

    def pause_execution(self, paused: bool = True) -> None:
        """Stop starting queued jobs (or start again); jobs already running go on."""
        with self._lock:
            self._paused = paused

    def slow_execution(self, seconds_per_step: float) -> None:
        """Add *seconds_per_step* before each circuit or pub runs, like a busy device."""
        if seconds_per_step < 0:
            raise ValueError("seconds_per_step must be >= 0")
        with self._lock:
            self._step_delay = seconds_per_step

    @property
    def execution_paused(self) -> bool:
        """Whether :meth:`pause_execution` holds the queue."""
        with self._lock:
            return self._paused

    @property
    def step_delay(self) -> float:
        """The delay :meth:`slow_execution` set."""
        with self._lock:
            return self._step_delay

    def expire_tokens(self) -> None:
        """Make every bearer token issued so far expired; keys can fetch new ones."""
        self._authority.expire_all()

    def revoke_key(self, api_key: str) -> None:
        """Refuse *api_key* (IAM and ``apikey`` auth) and the tokens it got, until :meth:`clear`."""
        self._authority.revoke(api_key)

    def clear(self) -> None:
        """Remove every fault and accept revoked keys again (expired tokens stay expired)."""
        with self._lock:
            self._latency = 0.0
            self._latency_prefix = None
            self._bursts.clear()
            self._ws = WebsocketFaults(refuse=False, drop_after=None, drop_code=1011)
            self._paused = False
            self._step_delay = 0.0
        self._authority.restore_all()

    def state(self) -> dict[str, Any]:
        """A JSON description of the active faults."""
        with self._lock:
            return {
                "latency": self._latency,
                "latency_path_prefix": self._latency_prefix,
                "bursts": [
                    {
                        "remaining": b.remaining,
                        "status": b.status,
                        "retry_after": b.retry_after,
                        "path_prefix": b.path_prefix,
                        "method": b.method,
                    }
                    for b in self._bursts
                ],
                "refuse_websockets": self._ws.refuse,
                "drop_websocket_after": self._ws.drop_after,
                "execution_paused": self._paused,
                "step_delay": self._step_delay,
            }

    def _add(self, burst: _Burst) -> None:
        if burst.remaining < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._bursts.append(burst)

    def take_http(self, method: str, path: str) -> tuple[float, _Burst | None]:
        """Return the latency and, consuming it, the burst that hits this request."""
        with self._lock:
            prefix = self._latency_prefix
            latency = self._latency if prefix is None or path.startswith(prefix) else 0.0
            for burst in self._bursts:
                if burst.matches(method, path):
                    burst.remaining -= 1
                    if burst.remaining == 0:
                        self._bursts.remove(burst)
                    return latency, burst
            return latency, None

    def websocket(self) -> WebsocketFaults:
        """The websocket faults in force."""
        with self._lock:
            return self._ws


class _Dropped(Exception):
    """Raised into the websocket handler once the injected drop happened."""


class FaultMiddleware:
    """ASGI middleware applying a :class:`FaultInjector`; paths under *exempt* are spared."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, exempt: str = "/admin") -> None:
        self._app = app
        self._faults = injector
        self._exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or path.startswith(self._exempt):
            await self._app(scope, receive, send)
            return
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        latency, burst = self._faults.take_http(method, path)
        if latency:
            await asyncio.sleep(latency)
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if burst is None:
            await self._app(scope, receive, send)
            return
        message = f"Injected fault: HTTP {burst.status}."
        body, headers = error_body(burst.status, message)
        if burst.retry_after is not None:
            headers["retry-after"] = f"{burst.retry_after:g}"
        await send(
            {
                "type": "http.response.start",
                "status": burst.status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self._faults.websocket()
        if faults.refuse:
            body, headers = error_body(503, "Injected fault: websockets refused.")
            if "websocket.http.response" in scope.get("extensions", {}):
                await receive()  # the websocket.connect message
                await send(
                    {
                        "type": "websocket.http.response.start",
                        "status": 503,
                        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
                    }
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1013})
            return
        if faults.drop_after is None:
            await self._app(scope, receive, send)
            return
        sent = 0
        limit, code = faults.drop_after, faults.drop_code

        async def counting_send(message: Message) -> None:
            nonlocal sent
            if message["type"] == "websocket.send":
                if sent >= limit:
                    await send({"type": "websocket.close", "code": code})
                    raise _Dropped
                sent += 1
            await send(message)

        try:
            await self._app(scope, receive, counting_send)
        except _Dropped:
            return

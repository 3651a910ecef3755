"""``websocket``: wait for a job on its status stream instead of polling (PROTOCOL.md §5.4).

IBM deprecated the stream and its clients dropped it, so this strategy is an optimisation that
must never cost a job: anything unexpected (a refused or failed handshake, a bad frame, a close
other than 1000, a close while the job is not final, silence) ends it quietly, logged at DEBUG,
and the next strategy (``polling``) takes the rest of the deadline. There is no reconnect loop.
Frames are only hints: the job's status is always confirmed with one ``GET /jobs/{id}``.
"""

from __future__ import annotations

import json
import logging
import ssl
import struct
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import websocket
from qiskit.providers import JobStatus

from qcourier.errors import IBMJobApiError, IBMJobTimeoutError, QcourierError
from qcourier.hooks import hookimpl
from qcourier.messages import Request
from qcourier.status import FINAL_STATES, to_job_status

if TYPE_CHECKING:
    from qcourier.host import PluginHost
    from qcourier.job import IBMCircuitJob

__all__ = ["PING_INTERVAL", "WebsocketWait"]

log = logging.getLogger(__name__)

#: Seconds of quiet after which the client pings; twice that without any frame ends the wait.
PING_INTERVAL = 30.0
_NORMAL_CLOSE = 1000
_NO_STATUS = 1005
# Seconds to wait for the server's side of the close handshake.
_CLOSE_TIMEOUT = 0.5


class _Fallback(Exception):
    """The stream cannot serve this wait; the message says why (for the DEBUG log)."""


class WebsocketWait:
    """Waits on ``{runtime}/stream/jobs/{id}``; hands over to the next strategy on any trouble.

    :param ping_interval: seconds of quiet before a ping (tests shorten it).
    """

    def __init__(self, ping_interval: float = PING_INTERVAL) -> None:
        self._ping_interval = ping_interval
        self._host: PluginHost | None = None

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        self._host = host

    @hookimpl
    def qcourier_wait_for_final_state(
        self, job: IBMCircuitJob, deadline: float | None
    ) -> JobStatus | None:
        if self._host is None:
            return None
        started = time.monotonic()
        try:
            stream = self._connect(job, deadline)
        except _Fallback as exc:
            log.debug("job %s: no websocket wait (%s); handing over", job.job_id(), exc)
            return None
        try:
            return self._follow(stream, job, deadline, started)
        except _Fallback as exc:
            log.debug("job %s: websocket wait ended (%s); handing over", job.job_id(), exc)
            return None
        finally:
            _close(stream)

    def _connect(self, job: IBMCircuitJob, deadline: float | None) -> websocket.WebSocket:
        assert self._host is not None
        options = self._host.options
        try:
            url = self._host.api.stream_url(job.job_id())
            headers = self._host.auth_headers(Request("GET", url))
        except (ValueError, QcourierError, IBMJobApiError) as exc:
            raise _Fallback(f"{type(exc).__name__}: {exc}") from None
        timeout = options.connect_timeout
        if deadline is not None:
            timeout = max(min(timeout, deadline - time.monotonic()), 0.001)
        try:
            return websocket.create_connection(
                url,
                timeout=timeout,
                header=[f"{name}: {value}" for name, value in headers.items()],
                sslopt=self._ssl_options(),
                **_proxy_options(options.proxy),
            )
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            # Never include the headers: only the exception type and the server's status.
            status = getattr(exc, "status_code", None)
            raise _Fallback(
                f"connect to {url} failed: {type(exc).__name__}"
                + (f" (HTTP {status})" if status else "")
            ) from None

    def _ssl_options(self) -> dict[str, Any]:
        assert self._host is not None
        options = self._host.options
        if not options.verify:
            return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        return {"ca_certs": options.ca_bundle} if options.ca_bundle else {}

    def _follow(
        self,
        stream: websocket.WebSocket,
        job: IBMCircuitJob,
        deadline: float | None,
        started: float,
    ) -> JobStatus:
        acknowledged = False
        last_frame = time.monotonic()
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise IBMJobTimeoutError(
                    f"job {job.job_id()} did not reach a final state within the timeout "
                    f"(waited {now - started:.1f} s on its status stream)"
                )
            if now - last_frame >= 2 * self._ping_interval:
                # A server this quiet would not answer a close handshake either.
                stream.shutdown()  # type: ignore[no-untyped-call]  # unannotated upstream
                raise _Fallback(f"no frame for {now - last_frame:.1f} s")
            wait = (
                self._ping_interval
                if deadline is None
                else min(self._ping_interval, deadline - now)
            )
            stream.settimeout(max(wait, 0.001))
            try:
                opcode, frame = stream.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                if time.monotonic() - last_frame >= self._ping_interval:
                    _ping(stream)
                continue
            except (websocket.WebSocketException, OSError) as exc:
                raise _Fallback(f"stream broke: {type(exc).__name__}") from None
            last_frame = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return self._closed(stream, job, frame.data)
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            if not acknowledged:
                # The first frame is the ACK, whatever it holds.
                acknowledged = True
                continue
            if _announces_final(frame.data):
                status = _confirm(job)
                if status in FINAL_STATES:
                    return status

    @staticmethod
    def _closed(stream: websocket.WebSocket, job: IBMCircuitJob, payload: bytes) -> JobStatus:
        stream.shutdown()  # type: ignore[no-untyped-call]  # unannotated upstream
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else _NO_STATUS
        if code != _NORMAL_CLOSE:
            raise _Fallback(f"the server closed the stream with code {code}")
        status = _confirm(job)
        if status not in FINAL_STATES:
            raise _Fallback(f"the stream ended while the job is {status.name}")
        return status

    def __repr__(self) -> str:
        return f"<WebsocketWait ping_interval={self._ping_interval:g}>"


def _announces_final(data: bytes) -> bool:
    """Whether a frame announces a final (or unknown) status, which is worth one GET to confirm.

    Queued and Running frames cost nothing: the wait only needs the end, and each confirming
    request counts against the service's rate limit. Other well-formed frames are ignored.

    :raises _Fallback: when the frame is not JSON or not an object.
    """
    try:
        message = json.loads(data)
    except ValueError:
        raise _Fallback("a frame is not JSON") from None
    if not isinstance(message, dict):
        raise _Fallback("a frame is not a JSON object")
    payload = message.get("data")
    if message.get("type") != "job-status" or not isinstance(payload, dict):
        return False
    announced = payload.get("status")
    status = to_job_status(announced) if isinstance(announced, str) else None
    return status is None or status in FINAL_STATES


def _confirm(job: IBMCircuitJob) -> JobStatus:
    """Ask the service for the job's status: frames are hints, the job document is the truth."""
    try:
        status: JobStatus = job.status()
    except IBMJobApiError as exc:
        raise _Fallback(f"status check failed: {exc}") from None
    return status


def _ping(stream: websocket.WebSocket) -> None:
    try:
        stream.ping()
    except (websocket.WebSocketException, OSError) as exc:
        raise _Fallback(f"ping failed: {type(exc).__name__}") from None


def _close(stream: websocket.WebSocket) -> None:
    if not stream.connected:
        return
    try:
        stream.close(status=_NORMAL_CLOSE, timeout=_CLOSE_TIMEOUT)
    except (websocket.WebSocketException, OSError):
        stream.shutdown()  # type: ignore[no-untyped-call]  # unannotated upstream


def _proxy_options(proxy: str | None) -> dict[str, Any]:
    """websocket-client's proxy arguments for the connection's ``proxy`` URL."""
    if not proxy:
        return {}
    parts = urlsplit(proxy)
    options: dict[str, Any] = {
        "http_proxy_host": parts.hostname,
        "http_proxy_port": parts.port or (443 if parts.scheme == "https" else 80),
        "proxy_type": "http",
    }
    if parts.username:
        options["http_proxy_auth"] = (unquote(parts.username), unquote(parts.password or ""))
    return options

"""Loopback HTTP and websocket servers that answer from a script, for what the emulator cannot do.

It records each request's method, target and headers, so tests can check what the transport
put on the wire (the emulator ignores ``User-Agent`` and friends) and answer with things the
emulator never sends (a ``Retry-After`` HTTP date, a proxy's reply).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"{}"


class ScriptedServer:
    """Answers the n-th request with ``replies[n]`` (the last one repeats)."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval makes shutdown quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    index = len(server.seen)
                    server.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                    reply = server.replies[min(index, len(server.replies) - 1)]
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def text_frame(payload: str) -> bytes:
    """A short unmasked server text frame."""
    data = payload.encode()
    assert len(data) < 126
    return bytes([0x81, len(data)]) + data


def close_frame(code: int) -> bytes:
    return bytes([0x88, 2]) + code.to_bytes(2, "big")


class ScriptedStream:
    """A websocket server for one connection that sends *frames*, then stays silent.

    It answers the upgrade, sends the frames, then neither sends nor answers anything (not
    even pings) until the client hangs up: a stream the emulator never produces.
    """

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/stream/jobs/j1"

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            request = connection.recv(65536).decode("latin-1")
            key = re.search(r"sec-websocket-key:\s*(\S+)", request, re.IGNORECASE)
            assert key is not None
            digest = hashlib.sha1((key.group(1) + _WEBSOCKET_GUID).encode()).digest()
            connection.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                + base64.b64encode(digest)
                + b"\r\n\r\n"
            )
            for frame in self.frames:
                connection.sendall(frame)
            # Swallow what the client sends (pings, its close) until it hangs up.
            with contextlib.suppress(OSError):
                while connection.recv(65536):
                    pass

    def __enter__(self) -> ScriptedStream:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()
        self._thread.join(5)

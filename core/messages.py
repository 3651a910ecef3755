"""The request and response records that cross the transport hook."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Request", "Response"]

#: Header names whose values are credentials and never printed.
SENSITIVE_HEADERS = frozenset({"authorization", "x-access-token", "cookie", "set-cookie"})


@dataclass(frozen=True)
class Request:
    """One HTTP request as the API plugin describes it.

    :ivar url: absolute URL.
    :ivar json_body: a JSON-able body, sent with ``Content-Type: application/json``.
    :ivar form: a form body (``application/x-www-form-urlencoded``), e.g. for IAM.
    :ivar timeout: read timeout in seconds; ``None`` uses the connection's default.
    :ivar authenticate: ``False`` for requests that carry their own credentials (token fetches).
    :ivar idempotent: ``False`` marks a request that must not be repeated once it may have
        reached the server (``POST /jobs``).
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: dict[str, str] | None = None
    timeout: float | None = None
    authenticate: bool = True
    idempotent: bool = True

    def with_headers(self, extra: dict[str, str]) -> Request:
        """Return a copy with *extra* headers merged in (they win)."""
        return replace(self, headers={**self.headers, **extra})

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


@dataclass(frozen=True)
class Response:
    """One HTTP response, fully read."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """Look a header up case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"

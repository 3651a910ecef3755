"""The IBM-style error replies every failing emulator request sends (PROTOCOL.md §3.1)."""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus

__all__ = ["JOB_NOT_FOUND", "ApiError", "error_body"]

#: ``error.code`` meaning "job not found"; prov 0.11 turns it into ``IBMJobNotFoundError``.
JOB_NOT_FOUND = 3250


class ApiError(Exception):
    """An error reply: HTTP *status*, a message for the caller and an optional IBM code.

    :param headers: extra reply headers (e.g. ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def error_body(status: int, message: str, code: int | None = None) -> tuple[bytes, dict[str, str]]:
    """Return the JSON body and headers of an error reply.

    The body is the superset both upstream clients read: ``errors[]`` (IBM Cloud style),
    ``trace`` and ``error {code, message}`` (runtime style); ``uber-trace-id`` repeats the
    trace, since prov appends the raw body to its message without it. Without an IBM code,
    ``error.code`` is the HTTP status.
    """
    trace = uuid.uuid4().hex
    slug = HTTPStatus(status).phrase.lower().replace(" ", "_") if status in _STATUSES else "error"
    body = {
        "errors": [{"code": slug, "message": message, "more_info": ""}],
        "trace": trace,
        "error": {"code": code if code is not None else status, "message": message},
    }
    headers = {"uber-trace-id": f"{trace}:{trace[:16]}:0:1", "content-type": "application/json"}
    return json.dumps(body).encode(), headers


_STATUSES = frozenset(int(s) for s in HTTPStatus)

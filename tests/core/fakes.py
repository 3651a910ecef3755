"""Small local plugins for testing the host's hook semantics without discovery."""

from __future__ import annotations

from typing import Any

from qcourier import hookimpl
from qcourier.config import Options
from qcourier.endpoint import Endpoint
from qcourier.messages import Request, Response


class StaticChannel:
    """A channel that names a fixed endpoint and starts nothing."""

    @hookimpl
    def qcourier_open_channel(self, options: Options) -> Endpoint:
        return Endpoint(runtime_url="http://127.0.0.1:9/api/v1", iam_url="http://127.0.0.1:9")


class RecordingApi:
    """An API plugin whose client is itself; records the calls core makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def qcourier_api_client(self) -> Any:
        return self


class ScriptedTransport:
    """Answers requests from a list of statuses and records what it was sent."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.sent: list[Request] = []

    @hookimpl
    def qcourier_send(self, request: Request) -> Response:
        self.sent.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(status=status, headers={}, body=b"{}", url=request.url)

"""Fixtures for the IBM plugins: connections to the ``emulator`` fixture through the IBM path.

``connect`` opens a :class:`~qcourier.Service` with ``channel="ibm_quantum_platform"`` pointed
at the emulator, exactly as a user reaches IBM. ``build_host`` assembles a
:class:`~qcourier.host.PluginHost` from plugin *objects* (to pass a fake clock, a console, a
short ping interval). ``request_log`` records every request the ``ibm_rest`` transport is asked
to deliver, so tests count requests instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from qcourier import Service, hookimpl
from qcourier.backend import IBMBackend
from qcourier.config import Options, resolve_options
from qcourier.host import PluginHost
from qcourier.messages import Request, Response
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.ibm_rest.transport import RestTransport
from qcourier.plugins.ibm_runtime.api import RuntimeApiPlugin
from qcourier.plugins.ibm_runtime.auth import IamAuth
from qcourier.plugins.ibm_runtime.channel import IbmCloudChannel
from qcourier.plugins.ibm_runtime.decoders import ResultDecoder, TaggedJsonDecoder
from qcourier.plugins.ibm_runtime.polling import PollingWait
from qcourier.plugins.websocket.wait import WebsocketWait
from tests.conftest import EMULATOR_KEYS

ALICE = EMULATOR_KEYS[0]


def ibm_options(server: EmulatorServer, key: str = ALICE, **extra: Any) -> Options:
    """Options reaching *server* through the ``ibm_quantum_platform`` channel."""
    given = {
        "channel": "ibm_quantum_platform",
        "base_url": server.runtime_url,
        "iam_url": server.url,
        "api_key": key,
        "instance": server.instance_for(key),
        "events": [],
        **extra,
    }
    return resolve_options(given, environ={})


@dataclass(frozen=True)
class Sent:
    """One request as the transport was asked to send it."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    at: float


class RequestLog:
    """Requests delivered by ``ibm_rest`` in this test, in order; thread-safe."""

    def __init__(self) -> None:
        self._sent: list[Sent] = []
        self._changed = threading.Condition()

    def add(self, request: Request) -> None:
        with self._changed:
            path = urlsplit(request.url).path
            self._sent.append(Sent(request.method, path, request.params, time.monotonic()))
            self._changed.notify_all()

    @property
    def sent(self) -> list[Sent]:
        with self._changed:
            return list(self._sent)

    def count(self, method: str, path: str | None = None, suffix: str | None = None) -> int:
        """Requests with *method* and exactly *path* (or a path ending in *suffix*)."""
        return sum(
            1
            for item in self.sent
            if item.method == method
            and (path is None or item.path == path)
            and (suffix is None or item.path.endswith(suffix))
        )

    def wait_for(self, predicate: Callable[[list[Sent]], bool], timeout: float = 30.0) -> None:
        """Block until *predicate* holds for the requests sent so far."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self._sent), timeout):
                raise AssertionError(f"the expected requests were not sent within {timeout} s")


@pytest.fixture
def request_log(monkeypatch: pytest.MonkeyPatch) -> RequestLog:
    """Record every request handed to the ``ibm_rest`` transport (retries inside it excluded)."""
    log = RequestLog()
    deliver = RestTransport.qcourier_send

    @hookimpl
    def recording_send(self: RestTransport, request: Request) -> Response:
        log.add(request)
        return deliver(self, request)

    monkeypatch.setattr(RestTransport, "qcourier_send", recording_send)
    return log


@pytest.fixture
def connect(emulator: EmulatorServer) -> Iterator[Callable[..., Service]]:
    """Open services on the emulator through the IBM channel; closed after the test."""
    services: list[Service] = []

    def open_service(key: str = ALICE, **options: Any) -> Service:
        service = Service(ibm_options(emulator, key, **options))
        services.append(service)
        return service

    yield open_service
    for service in services:
        service.close()


def default_plugins() -> dict[str, Any]:
    """The built-in IBM plugins by registration name, as fresh objects."""
    return {
        "channel:ibm_quantum_platform": IbmCloudChannel(),
        "transport:ibm_rest": RestTransport(),
        "auth:ibm_iam": IamAuth(),
        "api:ibm_runtime": RuntimeApiPlugin(),
        "decoder:ibm_result": ResultDecoder(),
        "decoder:ibm_tagged_json": TaggedJsonDecoder(),
        "wait:websocket": WebsocketWait(),
        "wait:polling": PollingWait(),
    }


@pytest.fixture
def build_host(emulator: EmulatorServer) -> Iterator[Callable[..., PluginHost]]:
    """Assemble hosts from plugin objects.

    ``plugins`` maps registration names to objects that replace or add to the defaults;
    ``None`` drops a default.
    """
    hosts: list[PluginHost] = []

    def build(
        options: Options | None = None, plugins: Mapping[str, Any] | None = None
    ) -> PluginHost:
        chosen = default_plugins()
        for name, plugin in (plugins or {}).items():
            if plugin is None:
                chosen.pop(name, None)
            else:
                chosen[name] = plugin
        host = PluginHost(options or ibm_options(emulator), list(chosen.items()))
        hosts.append(host)
        return host

    yield build
    for host in hosts:
        host.close()


def simulator(host: PluginHost, name: str = "aer_simulator") -> IBMBackend:
    """The emulator's backend *name*, on *host*."""
    return IBMBackend(host, host.api.backend_configuration(name), None)

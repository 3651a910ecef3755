"""Fixtures for testing core in isolation: a PluginHost built from local plugin objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qcourier.config import Options
from qcourier.host import PluginHost
from tests.core.fakes import RecordingApi, StaticChannel

HostFactory = Callable[..., PluginHost]


@pytest.fixture
def make_host() -> Iterator[HostFactory]:
    """Build hosts from ``(name, plugin)`` pairs after a static channel and API; close them."""
    hosts: list[PluginHost] = []

    def build(*plugins: tuple[str, Any], options: Options | None = None) -> PluginHost:
        base = [("channel:static", StaticChannel()), ("api:recording", RecordingApi())]
        host = PluginHost(options or Options(), [*base, *plugins])
        hosts.append(host)
        return host

    yield build
    for host in hosts:
        host.close()

"""Wire-level clients of the ``emulator`` fixture, one per API key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qcourier.plugins.emulator.server import EmulatorServer
from tests.conftest import EMULATOR_KEYS
from tests.emulator.wire import Api


@pytest.fixture
def alice(emulator: EmulatorServer) -> Iterator[Api]:
    """Runtime API calls as the first key."""
    with Api(emulator, EMULATOR_KEYS[0]) as api:
        yield api


@pytest.fixture
def bob(emulator: EmulatorServer) -> Iterator[Api]:
    """Runtime API calls as the second key, which owns another instance."""
    with Api(emulator, EMULATOR_KEYS[1]) as api:
        yield api

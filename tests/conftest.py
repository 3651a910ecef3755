"""Fixtures shared by every test folder.

``emulator`` is a running :class:`~qcourier.plugins.emulator.server.EmulatorServer` of its own:
a fresh SQLite file under ``tmp_path``, an ephemeral loopback port, two API keys
(:data:`EMULATOR_KEYS`), seeded runs, two workers, and fault injection reachable from Python
(``emulator.faults``) or over HTTP with :data:`EMULATOR_ADMIN_SECRET`. It is stopped, with its
threads and sockets, when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qcourier.plugins.emulator.server import EmulatorServer

#: API keys the ``emulator`` fixture accepts; each owns its own instance.
EMULATOR_KEYS = ("test-key-alice", "test-key-bob")
#: ``X-Admin-Secret`` of the ``emulator`` fixture's ``/admin/faults`` endpoint.
EMULATOR_ADMIN_SECRET = "test-admin-secret"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    """A started emulator on a fresh database; see the module docstring."""
    server = EmulatorServer(
        db_path=tmp_path / "emulator.sqlite3",
        port=0,
        api_keys=EMULATOR_KEYS,
        workers=2,
        seed=1234,
        admin_secret=EMULATOR_ADMIN_SECRET,
    )
    server.start()
    yield server
    server.stop()

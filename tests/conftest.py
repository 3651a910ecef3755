"""Fixtures shared by every test folder.

Every test runs with its own empty config, data and cache directories and no ``QCOURIER_*``
variables (:func:`isolated_user_state`).

``emulator`` is a running :class:`~qcourier.plugins.emulator.server.EmulatorServer` of its own:
a fresh SQLite file under ``tmp_path``, an ephemeral loopback port, two API keys
(:data:`EMULATOR_KEYS`), seeded runs, two workers, and fault injection reachable from Python
(``emulator.faults``) or over HTTP with :data:`EMULATOR_ADMIN_SECRET`. It is stopped, with its
threads and sockets, when the test ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qcourier.config import ENV_PREFIX
from qcourier.plugins.emulator.server import EmulatorServer

#: API keys the ``emulator`` fixture accepts; each owns its own instance.
EMULATOR_KEYS = ("test-key-alice", "test-key-bob")
#: ``X-Admin-Secret`` of the ``emulator`` fixture's ``/admin/faults`` endpoint.
EMULATOR_ADMIN_SECRET = "test-admin-secret"


@pytest.fixture(autouse=True)
def isolated_user_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the user's ``QCOURIER_*`` variables, config file or data directory.

    Without this a user's ``default_profile`` could send an end-to-end test to IBM.
    """
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


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

"""The ``local`` channel: an embedded emulator of the IBM Quantum service on loopback.

The connection starts its own :class:`EmulatorServer` on an ephemeral port and talks to it
over real HTTP with the same plugins that talk to IBM. Jobs persist in a SQLite file in the
user data directory (``emulator_db`` overrides it), so a job submitted in one process can be
read in the next.
"""

from __future__ import annotations

from pathlib import Path

from qcourier import hookimpl
from qcourier.config import Options
from qcourier.endpoint import Endpoint
from qcourier.errors import ConfigError
from qcourier.plugins.emulator.server import EmulatorServer, default_db_path
from qcourier.secret import Secret

__all__ = ["LocalChannel"]

CHANNEL = "local"


class LocalChannel:
    """Starts the emulator when the connection opens and stops it when it closes."""

    def __init__(self) -> None:
        self._server: EmulatorServer | None = None

    @hookimpl
    def qcourier_open_channel(self, options: Options) -> Endpoint | None:
        if options.channel != CHANNEL:
            return None
        if options.base_url is not None:
            raise ConfigError(
                "base_url is set, but the local channel runs its own emulator; "
                'use channel="ibm_quantum_platform" to reach a server at base_url'
            )
        db_path = Path(options.emulator_db) if options.emulator_db else default_db_path()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        api_keys = (options.api_key.reveal(),) if options.api_key else ()
        server = EmulatorServer(
            db_path=db_path, api_keys=api_keys, workers=options.emulator_workers
        )
        server.start()
        self._server = server
        key = server.api_keys[0]
        return Endpoint(
            runtime_url=server.runtime_url,
            iam_url=server.url,
            api_key=Secret(key),
            instance=server.instance_for(key),
            channel=CHANNEL,
        )

    @hookimpl
    def qcourier_close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

"""``EmulatorServer``: the emulator on a loopback port, run by uvicorn in a background thread."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs
import uvicorn

from qcourier.plugins.emulator.app import (
    DEFAULT_MAX_BODY_BYTES,
    EmulatorState,
    StatusBroadcast,
    build_app,
)
from qcourier.plugins.emulator.backends import BackendCatalog
from qcourier.plugins.emulator.executor import Executor
from qcourier.plugins.emulator.faults import FaultInjector
from qcourier.plugins.emulator.store import Store
from qcourier.plugins.emulator.tokens import TokenAuthority, instance_crn

__all__ = ["EmulatorServer", "EmulatorStartError", "default_db_path"]


def default_db_path() -> Path:
    """Where the emulator keeps its jobs unless told otherwise: the user data directory."""
    return Path(platformdirs.user_data_dir("qcourier")) / "emulator.sqlite3"


class EmulatorStartError(RuntimeError):
    """The emulator could not start (port taken, unusable database, startup timeout)."""


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that reports readiness through a thread event."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._ready.set()


class EmulatorServer:
    """A local emulator of the IBM Quantum runtime service.

    :param db_path: the SQLite job store; created if missing, shared safely between processes.
    :param host: interface to listen on (loopback by default).
    :param port: TCP port; 0 picks a free one (read it back from :attr:`url`).
    :param api_keys: keys accepted; with none, one is generated on first start and kept in the
        database, so later processes on the same file accept the same key.
    :param workers: size of the simulation pool (default: the CPU count).
    :param token_ttl: lifetime of the bearer tokens IAM mints, in seconds.
    :param seed: makes runs reproducible: a job without ``seed_simulator`` uses
        ``seed + its job number``.
    :param admin_secret: enables ``POST /admin/faults`` for loopback callers sending it in
        ``X-Admin-Secret``; without it the endpoint does not exist.
    :param max_body_bytes: larger request bodies get 413.
    :param lease_seconds: a Running job of a process silent this long is taken back.
    :param log_level: uvicorn's log level; access logs are off.
    """

    def __init__(
        self,
        db_path: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Sequence[str] = (),
        workers: int | None = None,
        token_ttl: float = 3600.0,
        seed: int | None = None,
        *,
        admin_secret: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        lease_seconds: float = 10.0,
        log_level: str = "warning",
    ) -> None:
        if isinstance(api_keys, str):
            raise TypeError("api_keys takes a sequence of keys, not one string")
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        if token_ttl <= 0:
            raise ValueError("token_ttl must be positive")
        self._db_path = Path(db_path)
        self._host = host
        self._port = port
        self._given_keys = list(api_keys)
        self._workers = workers or os.cpu_count() or 1
        self._token_ttl = token_ttl
        self._seed = seed
        self._admin_secret = admin_secret
        self._max_body_bytes = max_body_bytes
        self._lease = lease_seconds
        self._log_level = log_level
        self._state: EmulatorState | None = None
        self._socket: socket.socket | None = None
        self._uvicorn: _Uvicorn | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Open the store, bind the port and serve; return once requests are answered.

        :raises EmulatorStartError: if the port cannot be bound, the database cannot be used,
            or the server is not up within *timeout* seconds.
        """
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        store = Store(self._db_path)
        try:
            self._socket = self._bind()
            self._state = self._assemble(store)
        except BaseException:
            store.close()
            if self._socket is not None:
                self._socket.close()
                self._socket = None
            raise
        state = self._state
        state.executor.start()
        config = uvicorn.Config(
            build_app(state),
            log_level=self._log_level,
            access_log=False,
            # Leave the host application's logging alone.
            log_config=None,
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        ready = threading.Event()
        self._uvicorn = _Uvicorn(config, ready)
        sockets = [self._socket]

        def serve() -> None:
            try:
                assert self._uvicorn is not None
                self._uvicorn.run(sockets=sockets)
            finally:
                ready.set()

        self._thread = threading.Thread(target=serve, name="qcourier-emulator-http", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or not self._uvicorn.started:
            self.stop()
            raise EmulatorStartError(f"the emulator did not start within {timeout:g} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, give running jobs back to the queue, close every socket and thread."""
        state = self._state
        if state is not None:
            state.stopping.set()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if state is not None:
            state.executor.stop(timeout)
            state.store.close()
        if self._socket is not None:
            self._socket.close()
        self._state, self._socket, self._uvicorn, self._thread = None, None, None, None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:PORT``; IAM is ``{url}/identity/token``."""
        if self._socket is None:
            raise RuntimeError("the emulator is not started")
        port = self._socket.getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{port}"

    @property
    def runtime_url(self) -> str:
        """The runtime API base, ``{url}/api/v1``."""
        return f"{self.url}/api/v1"

    @property
    def api_keys(self) -> list[str]:
        """The API keys this server accepts."""
        return self._require_state().authority.api_keys

    def instance_for(self, api_key: str) -> str:
        """The instance CRN owned by *api_key* (send it as ``Service-CRN``)."""
        if api_key not in self.api_keys:
            raise KeyError("not an API key of this emulator")
        return instance_crn(api_key)

    @property
    def faults(self) -> FaultInjector:
        """The fault injector of the running server."""
        return self._require_state().faults

    def open_streams(self, job_id: str) -> int:
        """How many websocket status streams of *job_id* this server is serving now."""
        return self._require_state().broadcast.listeners(job_id)

    # -- internals ----------------------------------------------------------------------------

    def _require_state(self) -> EmulatorState:
        if self._state is None:
            raise RuntimeError("the emulator is not started")
        return self._state

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # proto must say TCP: asyncio only sets TCP_NODELAY on sockets whose proto is
        # IPPROTO_TCP, and without it every keep-alive request stalls ~40 ms (Nagle + delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise EmulatorStartError(
                f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        return sock

    def _assemble(self, store: Store) -> EmulatorState:
        keys = self._given_keys or [
            store.setting("generated_api_key", lambda: "qce-" + secrets.token_urlsafe(24))
        ]
        secret = store.setting("token_secret", lambda: secrets.token_hex(32))
        authority = TokenAuthority(keys, bytes.fromhex(secret), self._token_ttl)
        broadcast = StatusBroadcast()
        catalog = BackendCatalog()
        faults = FaultInjector(authority)
        executor = Executor(
            store,
            catalog,
            self._workers,
            self._seed,
            broadcast.notify,
            faults,
            lease_seconds=self._lease,
        )
        return EmulatorState(
            store=store,
            authority=authority,
            catalog=catalog,
            executor=executor,
            faults=faults,
            broadcast=broadcast,
            admin_secret=self._admin_secret,
            max_body_bytes=self._max_body_bytes,
        )

    def __repr__(self) -> str:
        where: Any = self.url if self._socket is not None else "stopped"
        return f"<EmulatorServer {where} db={str(self._db_path)!r}>"

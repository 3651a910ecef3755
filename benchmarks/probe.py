"""A ``qcourier.events`` plugin that counts HTTP requests and timestamps finished jobs.

It reaches the connection the way a third-party plugin does: :func:`install` writes a tiny
distribution (``*.dist-info`` with one entry point) into a temporary directory on ``sys.path``,
so entry-point discovery finds ``bench_probe`` in ``qcourier.events`` and the host registers
:data:`PROBE`, no core or plugin code patched. Counting happens in a new-style wrapper around
``qcourier_send``, so every request the transport delivers is seen once (urllib3's own retries
below it are not requests the client asked for, and none happen without injected faults).
Websocket handshakes bypass the transport; :func:`handshakes` counts them from the log line
uvicorn writes for each one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from qcourier import hookimpl

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qcourier import IBMCircuitJob
    from qcourier.messages import Request, Response

__all__ = ["NAME", "PROBE", "HandshakeCounter", "Probe", "handshakes", "install", "route"]

#: The probe's entry-point name in ``qcourier.events``.
NAME = "bench_probe"

_JOB_PATH = re.compile(r"/jobs/[a-z][a-z0-9]{19}(?=/|$)")
_BACKEND_PATH = re.compile(r"/backends/[^/]+/")
_API_PREFIX = re.compile(r"^(/experimental)?/api/v1")


def route(url: str) -> str:
    """The path of *url* with job ids and backend names replaced by placeholders."""
    path = _API_PREFIX.sub("", urlsplit(url).path)
    path = _JOB_PATH.sub("/jobs/{id}", path)
    return _BACKEND_PATH.sub("/backends/{name}/", path)


class Probe:
    """Counts requests per route and records when each job was seen to finish."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.finished_at: dict[str, float] = {}

    def reset(self) -> None:
        """Forget every count and timestamp."""
        with self._lock:
            self.requests.clear()
            self.finished_at.clear()

    def total(self) -> int:
        """Requests delivered since the last :meth:`reset`."""
        with self._lock:
            return sum(self.requests.values())

    def snapshot(self) -> Counter[str]:
        """A copy of the per-route counts."""
        with self._lock:
            return Counter(self.requests)

    @hookimpl(wrapper=True)
    def qcourier_send(self, request: Request) -> Generator[None, Response | None, Response | None]:
        with self._lock:
            self.requests[f"{request.method} {route(request.url)}"] += 1
        return (yield)

    @hookimpl
    def qcourier_job_finished(self, job: IBMCircuitJob, status: JobStatus) -> None:
        now = time.time()
        with self._lock:
            self.finished_at.setdefault(job.job_id(), now)


#: The one probe; its entry point names this object, so every connection shares it.
PROBE = Probe()

_installed: Path | None = None


def install() -> None:
    """Make ``bench_probe`` discoverable in ``qcourier.events`` for this process."""
    global _installed
    if _installed is not None:
        return
    root = Path(tempfile.mkdtemp(prefix="qcourier-bench-probe-"))
    atexit.register(shutil.rmtree, root, True)
    dist = root / "qcourier_bench_probe-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: qcourier-bench-probe\nVersion: 0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        f"[qcourier.events]\n{NAME} = {__name__}:PROBE\n", encoding="utf-8"
    )
    sys.path.append(str(root))
    _installed = root


class HandshakeCounter(logging.Handler):
    """Counts the websocket handshakes uvicorn logs (accepted or refused)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith('%s - "WebSocket %s"'):
            self.count += 1

    def reset(self) -> None:
        """Start counting from zero."""
        self.count = 0


@contextlib.contextmanager
def handshakes() -> Iterator[HandshakeCounter]:
    """Count websocket handshakes of in-process emulators while the block runs.

    Enter it after the emulator started: uvicorn sets its logger's level when it starts.
    """
    logger = logging.getLogger("uvicorn.error")
    counter = HandshakeCounter()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)

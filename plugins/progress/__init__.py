"""``progress``: a live status line per job while you wait, when stderr is a terminal.

A wait shorter than :data:`SHOW_AFTER` shows nothing; a longer one shows the job's status and
its place in the queue, updated from the job events and, every :data:`QUEUE_REFRESH` seconds
while the job is queued, from its metrics. Nothing is printed when stderr is not a terminal
(pipes, CI, pytest), and a display failure never reaches the wait it decorates.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qiskit.providers import JobStatus
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from qcourier.hooks import hookimpl

if TYPE_CHECKING:
    from qcourier.job import IBMCircuitJob

__all__ = ["QUEUE_REFRESH", "SHOW_AFTER", "ProgressDisplay"]

log = logging.getLogger(__name__)

#: Seconds a wait lasts before its line appears.
SHOW_AFTER = 1.0
#: Seconds between queue-position reads of a displayed, queued job.
QUEUE_REFRESH = 5.0
_REDRAW = 0.25


@dataclass
class _Row:
    job: IBMCircuitJob
    since: float
    status: JobStatus | None = None
    position: int | None = None
    position_read: float = float("-inf")
    waiters: int = 1


class ProgressDisplay:
    """Shows waiting jobs on stderr with rich.

    :param console: where to draw; by default stderr, and only when it is a terminal.
    """

    def __init__(self, console: Console | None = None) -> None:
        self._console = console if console is not None else Console(stderr=True)
        self._enabled = self._console.is_terminal
        self._lock = threading.Lock()
        self._rows: dict[int, _Row] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @hookimpl(wrapper=True)
    def qcourier_wait_for_final_state(
        self, job: IBMCircuitJob, deadline: float | None
    ) -> Generator[None, JobStatus | None, JobStatus | None]:
        if not self._enabled:
            return (yield)
        self._guarded(self._begin, job)
        try:
            return (yield)
        finally:
            self._guarded(self._end, job)

    @hookimpl
    def qcourier_job_status_changed(
        self, job: IBMCircuitJob, old: JobStatus | None, new: JobStatus, queue_position: int | None
    ) -> None:
        with self._lock:
            row = self._rows.get(id(job))
            if row is not None:
                row.status = new
                if queue_position is not None or new is not JobStatus.QUEUED:
                    row.position = queue_position

    @hookimpl
    def qcourier_close(self) -> None:
        with self._lock:
            self._rows.clear()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=2.0)

    @staticmethod
    def _guarded(action: Callable[[IBMCircuitJob], None], job: IBMCircuitJob) -> None:
        try:
            action(job)
        except Exception:
            log.debug("progress display failed; the wait goes on", exc_info=True)

    def _begin(self, job: IBMCircuitJob) -> None:
        with self._lock:
            row = self._rows.get(id(job))
            if row is not None:
                row.waiters += 1
            else:
                self._rows[id(job)] = _Row(job=job, since=time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="qcourier-progress", daemon=True
                )
                self._thread.start()

    def _end(self, job: IBMCircuitJob) -> None:
        with self._lock:
            row = self._rows.get(id(job))
            if row is not None:
                row.waiters -= 1
                if row.waiters <= 0:
                    del self._rows[id(job)]
            if not self._rows:
                self._wake.set()

    def _run(self) -> None:
        live: Live | None = None
        try:
            while True:
                with self._lock:
                    if not self._rows:
                        self._thread = None
                        return
                    shown = self._due_rows()
                self._refresh_positions(shown)
                if shown and live is None:
                    live = Live(console=self._console, transient=True, auto_refresh=False)
                    live.start()
                if live is not None:
                    live.update(self._render(shown), refresh=True)
                self._wake.wait(_REDRAW)
                self._wake.clear()
        except Exception:
            log.debug("progress display failed; it stays off for this connection", exc_info=True)
            with self._lock:
                self._enabled = False
                self._thread = None
        finally:
            if live is not None:
                with contextlib.suppress(Exception):
                    live.stop()

    def _due_rows(self) -> list[_Row]:
        now = time.monotonic()
        return [row for row in self._rows.values() if now - row.since >= SHOW_AFTER]

    @staticmethod
    def _refresh_positions(rows: list[_Row]) -> None:
        now = time.monotonic()
        for row in rows:
            if (
                row.status not in (None, JobStatus.QUEUED)
                or now - row.position_read < QUEUE_REFRESH
            ):
                continue
            row.position_read = now
            try:
                row.position = row.job.queue_position(refresh=True)
            except Exception as exc:
                log.debug("queue position of job %s unavailable: %s", row.job.job_id(), exc)

    @staticmethod
    def _render(rows: list[_Row]) -> Group:
        now = time.monotonic()
        lines = []
        for row in rows:
            status = row.status.name if row.status is not None else None
            if status is None:
                status = "QUEUED" if row.position is not None else "waiting"
            line = Text.assemble(("job ", "dim"), (row.job.job_id(), "bold"), f"  {status}")
            if row.position is not None:
                line.append(f"  position {row.position}", style="cyan")
            line.append(f"  {now - row.since:.0f} s", style="dim")
            lines.append(line)
        return Group(*lines)

    def __repr__(self) -> str:
        return f"<ProgressDisplay {'on' if self._enabled else 'off (not a terminal)'}>"

"""JobWatcher: one thread per connection that polls every job somebody waits for.

It calls ``job.status()`` (one request per poll) on an adaptive schedule: at once, then after
50 ms, growing ×1.5 up to the connection's ``poll_interval_max``. When a job reaches a final
state the watcher calls the callbacks registered for it, so it serves blocking waits (the
``polling`` plugin sets a :class:`threading.Event`) and asyncio alike (:mod:`qcourier.aio`
hands the status to the event loop). A transient failure (no answer, 5xx, 429) is retried at
the next poll and never changes a job's state; an error that polling cannot fix (job not
found, credentials refused) ends the wait with that error. The thread exits when nothing is
left to watch and starts again on demand; each connection's plugin host owns one watcher
(``host.watcher``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qiskit.providers import JobStatus

from qcourier.errors import IBMAuthError, IBMJobApiError, IBMJobError, IBMJobNotFoundError
from qcourier.status import FINAL_STATES

if TYPE_CHECKING:
    from qcourier.job import IBMCircuitJob

__all__ = ["FIRST_INTERVAL", "GROWTH", "JobWatcher", "OnFinal", "Watch"]

log = logging.getLogger(__name__)

#: Called once from the watcher thread: ``(final status, None)`` or ``(None, error)``.
OnFinal = Callable[[JobStatus | None, BaseException | None], None]

FIRST_INTERVAL = 0.05
GROWTH = 1.5
#: After this many seconds of failing polls for one job, say so once at WARNING.
WARN_AFTER = 30.0


def _transient(exc: BaseException) -> bool:
    """Whether polling again may help: no answer, a server error, a timeout or a rate limit."""
    if not isinstance(exc, IBMJobApiError) or isinstance(exc, IBMJobNotFoundError | IBMAuthError):
        return False
    return exc.status_code is None or exc.status_code >= 500 or exc.status_code in {408, 429}


@dataclass(eq=False)
class _Entry:
    """One watched job and everybody waiting for it."""

    job: IBMCircuitJob
    interval: float
    callbacks: dict[int, OnFinal] = field(default_factory=dict)
    failing_since: float | None = None
    warned: bool = False


@dataclass(frozen=True)
class Watch:
    """A registration returned by :meth:`JobWatcher.watch`; pass it to ``unwatch``."""

    entry: _Entry
    key: int


class JobWatcher:
    """Polls many jobs from one thread and reports each one's final state to its callbacks.

    :param poll_interval_max: the longest gap between two polls of one job, in seconds.
    :param name: the thread's name, for debugging.
    """

    def __init__(self, poll_interval_max: float, name: str = "qcourier-watcher") -> None:
        self._interval_max = poll_interval_max
        self._name = name
        self._cond = threading.Condition()
        self._entries: dict[int, _Entry] = {}
        self._schedule: list[tuple[float, int, _Entry]] = []
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, job: IBMCircuitJob, on_final: OnFinal) -> Watch:
        """Start watching *job*; *on_final* is called once from the watcher thread.

        Watching a job that is already watched adds a callback and costs no extra request.

        :raises IBMJobError: if the watcher was closed with its connection.
        """
        with self._cond:
            if self._closed:
                raise IBMJobError(f"cannot watch job {job.job_id()}: its connection is closed")
            entry = self._entries.get(id(job))
            if entry is None:
                entry = _Entry(job=job, interval=FIRST_INTERVAL)
                self._entries[id(job)] = entry
                self._push(entry, time.monotonic())
            key = next(self._keys)
            entry.callbacks[key] = on_final
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return Watch(entry, key)

    def unwatch(self, watch: Watch) -> None:
        """Drop a registration; the job is no longer polled once nobody waits for it."""
        with self._cond:
            watch.entry.callbacks.pop(watch.key, None)
            if not watch.entry.callbacks and self._entries.get(id(watch.entry.job)) is watch.entry:
                del self._entries[id(watch.entry.job)]
                self._cond.notify()

    def close(self) -> None:
        """Stop watching; pending callbacks get an error saying the connection closed."""
        with self._cond:
            self._closed = True
            entries, self._entries = list(self._entries.values()), {}
            self._schedule.clear()
            self._cond.notify()
        for entry in entries:
            error = IBMJobError(f"stopped waiting for job {entry.job.job_id()}: connection closed")
            self._finish(entry, list(entry.callbacks.values()), None, error)

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def _push(self, entry: _Entry, due: float) -> None:
        heapq.heappush(self._schedule, (due, next(self._keys), entry))

    def _live(self, entry: _Entry) -> bool:
        return self._entries.get(id(entry.job)) is entry

    def _run(self) -> None:
        while True:
            with self._cond:
                entry = self._next_due()
                if entry is None:
                    self._thread = None
                    return
            self._poll(entry)

    def _next_due(self) -> _Entry | None:
        """Wait for the next due poll; ``None`` when nothing is left to watch."""
        while True:
            while self._schedule and not self._live(self._schedule[0][2]):
                heapq.heappop(self._schedule)
            if self._closed or not self._schedule:
                return None
            due = self._schedule[0][0]
            now = time.monotonic()
            if due <= now:
                return heapq.heappop(self._schedule)[2]
            self._cond.wait(due - now)

    def _poll(self, entry: _Entry) -> None:
        try:
            status = entry.job.status()
        except Exception as exc:
            if not _transient(exc):
                self._finish(entry, self._drop(entry), None, exc)
                return
            self._note_failure(entry, exc)
            rate_limited = isinstance(exc, IBMJobApiError) and exc.status_code == 429
            self._reschedule(entry, rate_limited=rate_limited)
            return
        entry.failing_since = None
        if status in FINAL_STATES:
            self._finish(entry, self._drop(entry), status, None)
        else:
            self._reschedule(entry)

    def _note_failure(self, entry: _Entry, exc: BaseException) -> None:
        now = time.monotonic()
        log.debug("job %s: status poll failed, retrying: %s", entry.job.job_id(), exc)
        if entry.failing_since is None:
            entry.failing_since = now
        elif not entry.warned and now - entry.failing_since >= WARN_AFTER:
            entry.warned = True
            log.warning(
                "job %s: status requests have failed for %.0f s (last: %s); still trying",
                entry.job.job_id(),
                now - entry.failing_since,
                exc,
            )

    def _reschedule(self, entry: _Entry, rate_limited: bool = False) -> None:
        with self._cond:
            if not self._live(entry):
                return
            # A rate-limited poll waits the longest interval: the service asked us to slow down.
            wait = self._interval_max if rate_limited else min(entry.interval, self._interval_max)
            entry.interval = min(entry.interval * GROWTH, self._interval_max)
            self._push(entry, time.monotonic() + wait)

    def _drop(self, entry: _Entry) -> list[OnFinal]:
        """Stop watching *entry*; return the callbacks to notify (none if it was dropped)."""
        with self._cond:
            if not self._live(entry):
                return []
            del self._entries[id(entry.job)]
            return list(entry.callbacks.values())

    @staticmethod
    def _finish(
        entry: _Entry,
        callbacks: list[OnFinal],
        status: JobStatus | None,
        error: BaseException | None,
    ) -> None:
        for callback in callbacks:
            try:
                callback(status, error)
            except Exception:
                log.exception("a callback waiting for job %s failed", entry.job.job_id())

    def __repr__(self) -> str:
        return f"<JobWatcher {self._name} watching {len(self)} job(s)>"

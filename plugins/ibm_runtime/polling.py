"""``polling``: the wait strategy that always works, by asking the service for the job's status.

Polls are made by the connection's one :class:`~qcourier.watcher.JobWatcher` thread (see
:mod:`qcourier.watcher`), so a hundred threads waiting for a hundred jobs cost one extra thread and
one request per job per poll interval: at once, then 50 ms, growing ×1.5 to
``poll_interval_max``. The waiting thread blocks on an event with a timeout, so a deadline
ends the wait on time and Ctrl-C interrupts it at once.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from qiskit.providers import JobStatus

from qcourier.errors import IBMJobTimeoutError
from qcourier.hooks import hookimpl

if TYPE_CHECKING:
    from qcourier.host import PluginHost
    from qcourier.job import IBMCircuitJob

__all__ = ["PollingWait"]

# Longest single block on the event: keeps Ctrl-C prompt on platforms where an untimed
# wait cannot be interrupted.
_WAKE_EVERY = 0.5


class PollingWait:
    """Waits for a job by polling its status through the connection's shared watcher."""

    def __init__(self) -> None:
        self._host: PluginHost | None = None

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        self._host = host

    @hookimpl
    def qcourier_wait_for_final_state(
        self, job: IBMCircuitJob, deadline: float | None
    ) -> JobStatus | None:
        if self._host is None:
            return None
        started = time.monotonic()
        done = threading.Event()
        outcome: list[tuple[JobStatus | None, BaseException | None]] = []

        def on_final(status: JobStatus | None, error: BaseException | None) -> None:
            outcome.append((status, error))
            done.set()

        watcher = self._host.watcher
        watch = watcher.watch(job, on_final)
        try:
            while not done.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise IBMJobTimeoutError(
                        f"job {job.job_id()} did not reach a final state within the timeout "
                        f"(waited {time.monotonic() - started:.1f} s)"
                    )
                done.wait(_WAKE_EVERY if remaining is None else min(remaining, _WAKE_EVERY))
        finally:
            watcher.unwatch(watch)
        status, error = outcome[0]
        if error is not None:
            raise error
        assert status is not None
        return status

    def __repr__(self) -> str:
        return "<PollingWait>"

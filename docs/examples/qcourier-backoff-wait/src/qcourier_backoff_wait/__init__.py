"""A qcourier wait strategy that polls a job with exponential backoff.

Install this package, then name the strategy when you connect::

    qcourier.connect(wait=["backoff"])
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from qiskit.providers.jobstatus import JOB_FINAL_STATES

import qcourier

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

__all__ = ["BackoffWait"]


class BackoffWait:
    """Poll ``job.status()`` with pauses that double from *first* up to *cap* seconds.

    qcourier creates one instance per connection, so the instance may hold state: here, an
    event that closing the connection sets, to wake a wait that is in a long pause. A failed
    poll (:class:`qcourier.IBMJobApiError`) propagates and leaves the job's state as it was.

    :param first: the pause after the first poll, in seconds.
    :param factor: how much longer each pause is than the one before.
    :param cap: the longest pause, in seconds.
    """

    def __init__(self, first: float = 0.1, factor: float = 2.0, cap: float = 5.0) -> None:
        if not 0 < first <= cap or factor < 1:
            raise ValueError("backoff needs 0 < first <= cap and factor >= 1")
        self.first = first
        self.factor = factor
        self.cap = cap
        self._closing = threading.Event()

    @qcourier.hookimpl
    def qcourier_wait_for_final_state(
        self, job: qcourier.IBMCircuitJob, deadline: float | None
    ) -> JobStatus | None:
        delay = self.first
        while True:
            status = job.status()
            if status in JOB_FINAL_STATES:
                return status
            wait = delay
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise qcourier.IBMJobTimeoutError(
                        f"job {job.job_id()} is still {status.name} at the deadline"
                    )
                wait = min(delay, left)
            if self.pause(wait):
                return None  # The connection is closing: let the next strategy answer.
            delay = min(delay * self.factor, self.cap)

    def pause(self, seconds: float) -> bool:
        """Wait *seconds*, or less if the connection closes; return whether it is closing."""
        return self._closing.wait(seconds)

    @qcourier.hookimpl
    def qcourier_close(self) -> None:
        self._closing.set()

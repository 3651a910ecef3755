"""The worker pool that runs queued jobs with qiskit-aer, in FIFO order.

Workers claim the oldest Queued job from the store (atomically, so several processes may share
one database), run it step by step, and check between steps for a cancel request, the job's
``max_execution_time`` and shutdown. A maintenance thread keeps this process's heartbeat fresh
and takes back jobs whose owner died.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from qcourier.plugins.emulator.backends import BackendCatalog, BackendError
from qcourier.plugins.emulator.faults import FaultInjector
from qcourier.plugins.emulator.programs import (
    REASON_EXECUTION_FAILED,
    InputError,
    Workload,
    load,
)
from qcourier.plugins.emulator.store import (
    CANCELLED,
    COMPLETED,
    FAILED,
    JobRecord,
    Store,
)

__all__ = ["REASON_TIME_LIMIT", "Executor"]

log = logging.getLogger(__name__)

#: IBM's reason_code for a job cancelled for running past its maximum execution time.
REASON_TIME_LIMIT = 1305
#: A job started this many times by processes that died is failed instead of re-queued.
MAX_ATTEMPTS = 3


#: Parsed workloads kept between submission and run (about a queue's worth of small jobs).
_PARSED_KEPT = 256


class Executor:
    """Runs jobs from *store* on a bounded pool of worker threads.

    :param workers: pool size; each Aer run gets ``cpu_count // workers`` threads.
    :param seed: server seed; jobs without ``seed_simulator`` get ``seed + job number``.
    :param on_change: called with a job id after each state change this pool makes.
    :param faults: consulted for :meth:`~.FaultInjector.pause_execution` and
        :meth:`~.FaultInjector.slow_execution`.
    :param lease_seconds: a Running job whose owner's heartbeat is older is taken back.
    :param poll_interval: how often idle workers look for jobs queued by other processes.
    """

    def __init__(
        self,
        store: Store,
        catalog: BackendCatalog,
        workers: int,
        seed: int | None,
        on_change: Callable[[str], None],
        faults: FaultInjector,
        lease_seconds: float = 10.0,
        poll_interval: float = 0.5,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._workers = workers
        self._seed = seed
        self._on_change = on_change
        self._faults = faults
        self._lease = lease_seconds
        self._poll = poll_interval
        self._threads_per_run = max(1, (os.cpu_count() or 1) // workers)
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._parsed: OrderedDict[str, Workload] = OrderedDict()
        self._parsed_lock = threading.Lock()

    def start(self) -> None:
        """Take back orphaned jobs, then start the workers and the heartbeat."""
        self._store.beat(self.owner)
        self._store.recover(self._lease, self._owner_is_dead, MAX_ATTEMPTS)
        # Daemon threads: a wedged Aer run must not keep the interpreter alive; stop() joins.
        self._threads = [
            threading.Thread(target=self._work, name=f"qcourier-emulator-worker-{i}", daemon=True)
            for i in range(self._workers)
        ]
        self._threads.append(
            threading.Thread(target=self._maintain, name="qcourier-emulator-heartbeat", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Tell idle workers that a job was queued."""
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout: float) -> None:
        """Stop the workers; a job still running is given back to the queue.

        :param timeout: seconds to wait for the current step of each running job.
        """
        self._stopping.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._store.retire(self.owner)

    def _owner_is_dead(self, owner: str) -> bool:
        host, _, rest = owner.partition("/")
        pid_text = rest.partition("/")[0]
        if host != socket.gethostname() or not pid_text.isdigit():
            return False
        pid = int(pid_text)
        if pid == os.getpid():
            # Another server in this process: its heartbeat is the only evidence.
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _maintain(self) -> None:
        interval = self._lease / 4
        while not self._stopping.wait(interval):
            try:
                self._store.beat(self.owner)
                if self._store.recover(self._lease, self._owner_is_dead, MAX_ATTEMPTS):
                    self.wake()
            except Exception:
                log.exception("emulator heartbeat failed")

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = None if self._faults.execution_paused else self._store.claim(self.owner)
            except Exception:
                log.exception("emulator worker could not claim a job")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(self._poll)
                continue
            self._on_change(job.id)
            try:
                self._run(job)
            except Exception as exc:
                # Recording the outcome failed (disk full, store closed at shutdown): try to
                # end the job as failed; if even that fails, recovery takes it back later.
                log.exception("emulator worker could not record job %s", job.id)
                with contextlib.suppress(Exception):
                    self._fail(job, time.monotonic(), f"internal emulator error: {exc!r}")
            self._on_change(job.id)

    def remember(self, job_id: str, workload: Workload) -> None:
        """Keep the workload parsed at submission, so the run does not parse it again.

        Bounded: jobs cancelled while queued are never taken, and the oldest entries go.
        """
        with self._parsed_lock:
            self._parsed[job_id] = workload
            while len(self._parsed) > _PARSED_KEPT:
                self._parsed.popitem(last=False)

    def _workload(self, job: JobRecord) -> Workload:
        # Jobs queued by another process or before a restart are parsed from the store.
        with self._parsed_lock:
            workload = self._parsed.pop(job.id, None)
        return (
            workload if workload is not None else load(job.program_id, self._store.params(job.id))
        )

    def _run(self, job: JobRecord) -> None:
        started = time.monotonic()
        seed = job.seed
        if seed is None and self._seed is not None:
            seed = self._seed + job.seq
        try:
            backend = self._catalog.get(job.backend)
            if backend is None:
                raise BackendError(f"backend {job.backend!r} is no longer served")
            workload = self._workload(job)
            for index in range(workload.steps):
                delay = self._faults.step_delay
                if delay:
                    self._stopping.wait(delay)
                if self._interrupted(job, started):
                    return
                workload.run_step(index, backend, seed, self._threads_per_run)
            if self._interrupted(job, started):
                return
            result = workload.result_text(job.id, backend)
        except (BackendError, InputError) as exc:
            self._fail(job, started, str(exc))
            return
        except Exception as exc:
            log.exception("emulator job %s failed unexpectedly", job.id)
            self._fail(job, started, f"internal emulator error: {exc!r}")
            return
        self._store.finish(
            job.id,
            self.owner,
            COMPLETED,
            None,
            None,
            result,
            time.monotonic() - started,
            "Job completed.",
        )

    def _interrupted(self, job: JobRecord, started: float) -> bool:
        """Check the safe point between steps; end or give back the job if it must stop."""
        elapsed = time.monotonic() - started
        if self._stopping.is_set():
            # Given back to the queue by stop(); it runs again after the next start.
            return True
        if self._store.cancel_requested(job.id):
            self._store.finish(
                job.id, self.owner, CANCELLED, None, None, "", elapsed, "Job cancelled by the user."
            )
            return True
        limit = job.max_execution_time
        if limit is not None and elapsed > limit:
            reason = (
                f"Job ran longer than its maximum execution time of {limit:g} s "
                f"({elapsed:.3f} s) and was cancelled."
            )
            self._store.finish(
                job.id, self.owner, CANCELLED, reason, REASON_TIME_LIMIT, reason, elapsed, reason
            )
            return True
        return False

    def _fail(self, job: JobRecord, started: float, reason: str) -> None:
        text = f"Job {job.id} failed with error code {REASON_EXECUTION_FAILED}: {reason}"
        self._store.finish(
            job.id,
            self.owner,
            FAILED,
            reason,
            REASON_EXECUTION_FAILED,
            text,
            time.monotonic() - started,
            f"Job failed: {reason}",
        )

"""Waiting for jobs from asyncio, on the connection's shared :class:`~qcourier.watcher.JobWatcher`.

:func:`result_async` and :func:`as_completed` register a callback with the watcher that hands
the final status to their event loop with ``loop.call_soon_threadsafe``: the loop never blocks
and no thread is started per job. The only other thread is the one :func:`result_async`
borrows from the loop's default executor to download and decode a finished job's result,
which is blocking I/O.

Async waits poll; they do not use the configured wait strategies (the websocket plugin blocks
the thread that calls it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from qiskit.providers import JobStatus

from qcourier.errors import IBMJobTimeoutError
from qcourier.watcher import JobWatcher, OnFinal, Watch

if TYPE_CHECKING:
    from qiskit.result import Result

    from qcourier.job import IBMCircuitJob

__all__ = ["as_completed", "result_async"]

log = logging.getLogger(__name__)


def _deliver(loop: asyncio.AbstractEventLoop, sink: OnFinal) -> OnFinal:
    """An :data:`OnFinal` that runs *sink* in *loop*'s thread."""

    def on_final(status: JobStatus | None, error: BaseException | None) -> None:
        try:
            loop.call_soon_threadsafe(sink, status, error)
        except RuntimeError:
            # The loop closed while we waited: nobody is left to tell.
            log.debug("event loop closed before a job finished")

    return on_final


async def _final_status(job: IBMCircuitJob, timeout: float | None) -> JobStatus:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[JobStatus] = loop.create_future()

    def settle(status: JobStatus | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            assert status is not None
            future.set_result(status)

    watcher = job._host.watcher
    watch = watcher.watch(job, _deliver(loop, settle))
    started = loop.time()
    try:
        return await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        raise IBMJobTimeoutError(
            f"job {job.job_id()} did not reach a final state within {loop.time() - started:.1f} s"
        ) from None
    finally:
        watcher.unwatch(watch)


async def result_async(job: IBMCircuitJob, timeout: float | None = None) -> Result:
    """Wait for *job* without blocking the event loop, then return its result.

    :param timeout: seconds to wait for the job to finish; ``None`` waits until it ends.
    :raises IBMJobTimeoutError: if the job is not final by *timeout*.
    :raises IBMJobFailureError: if the job failed.
    :raises IBMJobInvalidStateError: if the job was cancelled.
    """
    await _final_status(job, timeout)
    # The job is final now, so result() only downloads and decodes: blocking I/O, done on the
    # loop's default executor.
    return await asyncio.to_thread(job.result)


async def as_completed(
    jobs: Iterable[IBMCircuitJob], timeout: float | None = None
) -> AsyncIterator[IBMCircuitJob]:
    """Yield *jobs* as each reaches a final state (DONE, CANCELLED or ERROR).

    :param timeout: seconds for all of them to finish; ``None`` waits until they do.
    :raises IBMJobTimeoutError: when *timeout* passes first, naming the jobs still running.
    """
    pending = list(jobs)
    loop = asyncio.get_running_loop()
    finished: asyncio.Queue[tuple[IBMCircuitJob, BaseException | None]] = asyncio.Queue()
    watches: list[tuple[JobWatcher, Watch]] = []

    def sink_for(job: IBMCircuitJob) -> OnFinal:
        return lambda status, error: finished.put_nowait((job, error))

    started = loop.time()
    try:
        for job in pending:
            watcher = job._host.watcher
            watches.append((watcher, watcher.watch(job, _deliver(loop, sink_for(job)))))
        waiting = list(pending)
        for _ in range(len(pending)):
            remaining = None if timeout is None else timeout - (loop.time() - started)
            try:
                job, error = await asyncio.wait_for(finished.get(), remaining)
            except asyncio.TimeoutError:
                names = ", ".join(item.job_id() for item in waiting)
                raise IBMJobTimeoutError(
                    f"{len(waiting)} of {len(pending)} jobs did not reach a final state within "
                    f"{loop.time() - started:.1f} s: {names}"
                ) from None
            if error is not None:
                raise error
            waiting.remove(job)
            yield job
    finally:
        for watcher, watch in watches:
            watcher.unwatch(watch)

"""asyncio waits: ``result_async`` and ``as_completed`` over the shared watcher thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from qiskit import QuantumCircuit

from qcourier import IBMCircuitJob, IBMJobFailureError, IBMJobTimeoutError, Service
from qcourier.aio import as_completed, result_async
from qcourier.plugins.emulator.server import EmulatorServer
from tests.circuits import bell
from tests.plugins.conftest import RequestLog, Sent

Connect = Callable[..., Service]


def polled(jobs: list[IBMCircuitJob]) -> Callable[[list[Sent]], bool]:
    paths = {f"/api/v1/jobs/{job.job_id()}" for job in jobs}
    return lambda sent: paths <= {item.path for item in sent if item.method == "GET"}


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qcourier-watcher")]


def test_result_async_waits_without_blocking_the_event_loop(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.slow_execution(0.5)
    job = connect().backend().run(bell(), shots=50)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def main() -> dict[str, int]:
        ticker = asyncio.create_task(tick())
        try:
            result = await result_async(job, timeout=60)
        finally:
            ticker.cancel()
        counts: dict[str, int] = result.get_counts()
        return counts

    counts = asyncio.run(main())
    assert sum(counts.values()) == 50
    assert ticks >= 20  # the loop ran all along the half-second job


def test_as_completed_yields_every_job_once_with_one_watcher_thread(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.pause_execution()
    service = connect()
    jobs = [service.backend().run(bell(), shots=10) for _ in range(10)]
    finished: list[IBMCircuitJob] = []

    async def main() -> None:
        completed = as_completed(jobs, timeout=60)
        first = asyncio.ensure_future(completed.__anext__())
        await asyncio.to_thread(request_log.wait_for, polled(jobs))
        assert len(watcher_threads()) == 1
        emulator.faults.pause_execution(False)
        finished.append(await first)
        finished.extend([job async for job in completed])

    asyncio.run(main())
    assert sorted(job.job_id() for job in finished) == sorted(job.job_id() for job in jobs)
    assert all(job.done() for job in finished)
    assert len(service.host.watcher) == 0


def test_as_completed_timeout_names_the_jobs_still_running(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.pause_execution()
    backend = connect().backend()
    jobs = [backend.run(bell(), shots=10) for _ in range(2)]

    async def main() -> None:
        async for _ in as_completed(jobs, timeout=0.3):
            pytest.fail("nothing can finish while execution is paused")

    with pytest.raises(IBMJobTimeoutError, match="2 of 2 jobs") as caught:
        asyncio.run(main())
    assert all(job.job_id() in str(caught.value) for job in jobs)


def test_result_async_timeout_raises_and_stops_watching(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.pause_execution()
    service = connect()
    job = service.backend().run(bell(), shots=10)
    with pytest.raises(IBMJobTimeoutError, match=job.job_id()):
        asyncio.run(result_async(job, timeout=0.2))
    assert len(service.host.watcher) == 0


def test_cancelling_an_awaiting_task_stops_watching_the_job(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.pause_execution()
    service = connect()
    job = service.backend().run(bell(), shots=10)

    async def main() -> None:
        task = asyncio.create_task(result_async(job))
        await asyncio.to_thread(request_log.wait_for, polled([job]))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(service.host.watcher) == 0


def test_result_async_of_a_failing_job_raises_the_failure(connect: Connect) -> None:
    wide = QuantumCircuit(6)
    wide.measure_all()
    job = connect().backend("fake_t5").run(wide, shots=10)
    with pytest.raises(IBMJobFailureError, match="6 qubits"):
        asyncio.run(result_async(job, timeout=60))

"""Isolation between API keys: key B cannot see or touch key A's jobs, through the client.

Every operation B tries on A's jobs ends in :class:`~qcourier.IBMJobNotFoundError` (a 404, as
if the job did not exist); A's jobs come out unchanged and complete with intact results.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from qiskit.providers import JobStatus

from qcourier import IBMCircuitJob, IBMJobError, IBMJobNotFoundError, Service
from qcourier.plugins.emulator.server import EmulatorServer
from tests.conftest import EMULATOR_KEYS
from tests.reliability.conftest import Scenario

Connect = Callable[..., Service]
ALICE, BOB = EMULATOR_KEYS


def not_found(error: BaseException) -> IBMJobNotFoundError | None:
    """The 404 behind *error*: ``cancel`` wraps it in an ``IBMJobError``, as upstream does."""
    current: BaseException | None = error
    while current is not None and not isinstance(current, IBMJobNotFoundError):
        current = current.__cause__
    return current


def test_key_b_gets_not_found_for_every_operation_on_key_a_jobs(
    connect: Connect,
    emulator: EmulatorServer,
    scenario: Scenario,
    subtests: pytest.Subtests,
) -> None:
    alice, bob = connect(ALICE), connect(BOB, wait=["websocket", "polling"])
    backend = alice.backend()
    done = scenario.submit(backend, shots=33, seed=1, job_tags=["alice-only"])
    done.result(timeout=60)
    emulator.faults.pause_execution()
    queued = scenario.submit(backend, shots=44, seed=2, job_tags=["alice-only"])

    # Bob's handles on Alice's ids, as he would build them from ids he learnt somehow.
    bob_done = IBMCircuitJob(None, bob.host, done.job_id(), status="Completed")
    bob_queued = IBMCircuitJob(None, bob.host, queued.job_id(), status="Queued")
    attempts: dict[str, Callable[[], object]] = {
        "read": lambda: bob.job(done.job_id()),
        "status": bob_queued.status,
        "wait": lambda: bob_queued.wait_for_final_state(timeout=30),
        "results": bob_done.result,
        "metrics": bob_done.queue_info,
        "tag": lambda: bob_done.update_tags(["bob-was-here"]),
        "rename": lambda: bob_done.update_name("bob's now"),
        "cancel": bob_queued.cancel,
        "delete": lambda: bob.delete_job(done.job_id()),
    }
    for operation, attempt in attempts.items():
        with subtests.test(operation=operation):
            with pytest.raises(IBMJobError) as caught:
                attempt()
            found = not_found(caught.value)
            assert found is not None, f"{operation}: {caught.value!r} is not a 404"
            assert found.status_code == 404
    with subtests.test(operation="list"):
        mine = {job.job_id() for job in bob.jobs(limit=None, program=None)}
        assert mine.isdisjoint({done.job_id(), queued.job_id()})
        assert list(bob.jobs(tags=["alice-only"])) == []

    emulator.faults.pause_execution(False)
    assert alice.job(done.job_id()).tags() == ["alice-only"]
    assert alice.job(done.job_id()).name() is None
    for job in (done, queued):
        scenario.verify(job)
    assert queued.status() is JobStatus.DONE

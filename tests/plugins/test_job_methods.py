"""Every public method of ``IBMCircuitJob``, through the IBM plugins, against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from qcourier import (
    IBMJobFailureError,
    IBMJobInvalidStateError,
    IBMJobTimeoutError,
    QueueInfo,
    Service,
)
from qcourier.plugins.emulator.server import EmulatorServer
from tests.circuits import bell
from tests.plugins.conftest import RequestLog

Connect = Callable[..., Service]


def test_a_finished_job_answers_every_question_about_itself(
    connect: Connect, request_log: RequestLog
) -> None:
    service = connect()
    backend = service.backend()
    job = backend.run(
        bell(), shots=128, job_tags=["t1"], job_name="first", header={"who": "me"}, memory=True
    )
    result = job.result(timeout=60)
    assert set(result.get_counts()) <= {"00", "11"}
    assert len(result.get_memory()) == 128

    assert job.job_id()
    assert job.backend() is backend
    assert (job.name(), job.tags()) == ("first", ["t1"])
    assert job.status() is JobStatus.DONE
    assert job.done()
    assert job.in_final_state()
    assert not job.running()
    assert not job.cancelled()
    assert job.error_message() is None
    assert isinstance(job.creation_date(), datetime)
    assert job.scheduling_mode() is None
    steps = job.time_per_step()
    assert steps is not None
    assert set(steps) == {"created", "running", "finished"}
    assert steps["created"] <= steps["running"] <= steps["finished"]
    assert job.queue_position(refresh=True) is None
    assert job.queue_info() is None
    assert isinstance(job.client_version, dict)
    assert "quantum_seconds" in job.usage_estimation
    job.refresh()
    assert job.properties() is None  # the ideal simulator has no calibration data

    assert job.circuits() == [bell()]
    assert job.header() == {"who": "me"}
    options = job.backend_options()
    assert (options["shots"], options["memory"]) == (128, True)

    # A final status is cached: asking again sends nothing.
    before = len(request_log.sent)
    assert job.status() is JobStatus.DONE
    assert job.result() is result
    assert len(request_log.sent) == before

    with pytest.raises(NotImplementedError, match=r"backend\.run"):
        job.submit()


def test_tags_and_name_are_replaced_on_the_service(connect: Connect) -> None:
    service = connect()
    job = service.backend().run(bell(), shots=10, job_tags=["old"])
    assert job.update_tags(["x", "y"]) == ["x", "y"]
    assert job.update_name("renamed") == "renamed"
    again = service.job(job.job_id())
    assert (again.tags(), again.name()) == (["x", "y"], "renamed")
    assert [found.job_id() for found in service.jobs(name="renamed")] == [job.job_id()]


def test_cancel_a_queued_job_then_cancel_again(connect: Connect, emulator: EmulatorServer) -> None:
    emulator.faults.pause_execution()
    job = connect().backend().run(bell(), shots=10)
    assert job.cancel() is True
    assert job.cancelled()
    assert job.status() is JobStatus.CANCELLED
    with pytest.raises(IBMJobInvalidStateError, match="cancelled"):
        job.result()
    with pytest.raises(IBMJobInvalidStateError):
        job.cancel()


def test_queue_position_and_info_of_waiting_jobs(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.pause_execution()
    backend = connect().backend()
    first, second = backend.run(bell(), shots=10), backend.run(bell(), shots=10)
    assert first.status() is JobStatus.QUEUED
    assert first.queue_position(refresh=True) == 1
    assert second.queue_position(refresh=True) == 2
    info = second.queue_info()
    assert isinstance(info, QueueInfo)
    assert info.position == 2


def test_a_failing_circuit_reports_why(connect: Connect) -> None:
    wide = QuantumCircuit(6, name="too-wide")
    wide.h(range(6))
    wide.measure_all()
    job = connect().backend("fake_t5").run(wide, shots=10)
    with pytest.raises(IBMJobFailureError, match="6 qubits"):
        job.result(timeout=60)
    assert job.status() is JobStatus.ERROR
    message = job.error_message()
    assert message is not None
    assert message.startswith("Error code 1500; ")
    assert "6 qubits but backend fake_t5 has only 5" in message


def test_result_with_a_timeout_raises_and_the_job_stays_queued(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.pause_execution()
    job = connect().backend().run(bell(), shots=10)
    with pytest.raises(IBMJobTimeoutError):
        job.result(timeout=0.2)
    assert job.status() is JobStatus.QUEUED
    emulator.faults.pause_execution(False)
    assert sum(job.result(timeout=60).get_counts().values()) == 10

"""The tutorial's example package, docs/examples/qcourier-backoff-wait, works as documented.

The package must be installed (tox installs it; locally ``pip install -e
docs/examples/qcourier-backoff-wait``), so a missing install fails here rather than skipping.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import cast

import pytest
from qcourier_backoff_wait import BackoffWait
from qiskit.providers import JobStatus

import qcourier
from qcourier.discovery import available, load_named
from tests.circuits import bell

DEADLINE_SECONDS = 60


class ScriptedJob:
    """Reports the given statuses, one per ``status()`` call, then the last one forever."""

    def __init__(self, *statuses: JobStatus) -> None:
        self._statuses = list(statuses)
        self.polls = 0

    def job_id(self) -> str:
        return "scripted"

    def status(self) -> JobStatus:
        self.polls += 1
        return self._statuses[min(self.polls, len(self._statuses)) - 1]


class RecordingBackoff(BackoffWait):
    """Records each pause instead of waiting, so the schedule is checked without a clock."""

    def __init__(self, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.pauses: list[float] = []

    def pause(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        return False


def wait_for(wait: BackoffWait, job: ScriptedJob, deadline: float | None) -> JobStatus | None:
    """Call the hook as qcourier would, with the scripted job standing in for a real one."""
    return wait.qcourier_wait_for_final_state(
        job=cast("qcourier.IBMCircuitJob", job), deadline=deadline
    )


def test_backoff_is_offered_in_the_wait_group() -> None:
    assert "backoff" in available("qcourier.wait")
    assert load_named("qcourier.wait", "backoff") is BackoffWait


def test_job_reaches_done_through_the_backoff_wait(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    with qcourier.connect(emulator_db=db, wait=["backoff"]) as service:
        names = service.host.plugin_names()
        job = service.backend().run(bell(), shots=256)
        job.wait_for_final_state(timeout=DEADLINE_SECONDS)
        status = job.last_status()
        counts = job.result().get_counts()
    assert [name for name in names if name.startswith("wait:")] == ["wait:backoff"]
    assert status is JobStatus.DONE
    assert sum(counts.values()) == 256


def test_backoff_pauses_double_up_to_the_cap() -> None:
    wait = RecordingBackoff(first=1.0, factor=2.0, cap=5.0)
    job = ScriptedJob(*[JobStatus.RUNNING] * 5, JobStatus.DONE)
    assert wait_for(wait, job, None) is JobStatus.DONE
    assert wait.pauses == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert job.polls == 6


def test_backoff_returns_the_final_status_it_sees() -> None:
    wait = RecordingBackoff()
    job = ScriptedJob(JobStatus.QUEUED, JobStatus.CANCELLED)
    assert wait_for(wait, job, None) is JobStatus.CANCELLED


def test_backoff_never_pauses_past_the_deadline() -> None:
    wait = RecordingBackoff(first=10.0, cap=10.0)
    job = ScriptedJob(JobStatus.RUNNING, JobStatus.DONE)
    deadline = time.monotonic() + 1.0
    assert wait_for(wait, job, deadline) is JobStatus.DONE
    assert len(wait.pauses) == 1
    assert 0 < wait.pauses[0] <= 1.0


def test_backoff_raises_timeout_once_the_deadline_passed() -> None:
    wait = RecordingBackoff()
    job = ScriptedJob(JobStatus.RUNNING)
    with pytest.raises(qcourier.IBMJobTimeoutError, match="scripted is still RUNNING"):
        wait_for(wait, job, time.monotonic() - 1)
    assert wait.pauses == []


def test_closing_the_connection_wakes_a_waiting_backoff() -> None:
    wait = BackoffWait(first=60.0, cap=60.0)
    job = ScriptedJob(JobStatus.RUNNING)
    answers: list[JobStatus | None] = []
    thread = threading.Thread(target=lambda: answers.append(wait_for(wait, job, None)))
    thread.start()
    wait.qcourier_close()
    thread.join(timeout=DEADLINE_SECONDS)
    assert not thread.is_alive()
    assert answers == [None]


@pytest.mark.parametrize(
    ("first", "factor", "cap"), [(0.0, 2.0, 5.0), (1.0, 0.5, 5.0), (6.0, 2.0, 5.0)]
)
def test_backoff_rejects_a_schedule_that_cannot_back_off(
    first: float, factor: float, cap: float
) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        BackoffWait(first=first, factor=factor, cap=cap)

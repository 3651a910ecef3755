"""Bursts of 5xx and 429 answers on every endpoint kind the client uses.

Each operation either succeeds or fails with an :class:`~qcourier.IBMJobApiError` carrying the
service's status; retrying it then succeeds. ``POST /jobs`` is never repeated behind the
caller's back: the service ends up with exactly the jobs the caller was told about.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
from qiskit.providers import JobStatus

from qcourier import IBMBackend, IBMCircuitJob, IBMJobApiError, IBMJobError, Service
from qcourier.errors import IBMJobNotFoundError
from qcourier.plugins.emulator.server import EmulatorServer
from tests.emulator.wire import Api
from tests.plugins.conftest import ALICE
from tests.reliability.conftest import Scenario, reference_counts

Connect = Callable[..., Service]
SHOTS, SEED = 24, 42


@dataclass
class Stage:
    """What an operation works on: a connection, its backend and the jobs the caller knows of."""

    service: Service
    backend: IBMBackend
    scenario: Scenario
    spare: Service
    jobs: list[IBMCircuitJob] = field(default_factory=list)
    deleted: int = 0

    @property
    def job(self) -> IBMCircuitJob:
        return self.jobs[0]


@dataclass(frozen=True)
class Kind:
    """One endpoint kind: its route, the job it needs, and an operation that checks its answer."""

    method: str
    path: str
    needs: Literal["queued", "done", ""]  # "" needs no job
    operate: Callable[[Stage], None]


def submit(stage: Stage) -> None:
    stage.jobs.append(stage.scenario.submit(stage.backend, shots=SHOTS, seed=SEED))


def get(stage: Stage) -> None:
    assert stage.job.status() is JobStatus.QUEUED


def listing(stage: Stage) -> None:
    assert stage.job.job_id() in [job.job_id() for job in stage.service.jobs(limit=10)]


def results(stage: Stage) -> None:
    handle = stage.service.job(stage.job.job_id())
    assert handle.result().get_counts() == reference_counts(SHOTS, SEED)


def metrics(stage: Stage) -> None:
    steps = stage.service.job(stage.job.job_id()).time_per_step()
    assert steps is not None
    assert set(steps) == {"created", "running", "finished"}


def tags(stage: Stage) -> None:
    assert stage.job.update_tags(["burst-survivor"]) == ["burst-survivor"]


def cancel(stage: Stage) -> None:
    assert stage.job.cancel()
    stage.scenario.expect_cancelled(stage.job)


def backends(stage: Stage) -> None:
    assert "aer_simulator" in [backend.name for backend in stage.service.backends()]


def delete(stage: Stage) -> None:
    stage.service.delete_job(stage.job.job_id())
    stage.deleted += 1
    with pytest.raises(IBMJobNotFoundError):
        stage.service.job(stage.job.job_id())


def token(stage: Stage) -> None:
    # The spare connection has no token yet: its first call goes to IAM.
    assert stage.spare.host.api.backends()


KINDS = {
    "submit": Kind("POST", "/api/v1/jobs", "", submit),
    "get": Kind("GET", "/api/v1/jobs/{job}", "queued", get),
    "list": Kind("GET", "/api/v1/jobs", "done", listing),
    "results": Kind("GET", "/api/v1/jobs/{job}/results", "done", results),
    "metrics": Kind("GET", "/api/v1/jobs/{job}/metrics", "done", metrics),
    "tags": Kind("PUT", "/api/v1/jobs/{job}/tags", "done", tags),
    "cancel": Kind("POST", "/api/v1/jobs/{job}/cancel", "queued", cancel),
    "backends": Kind("GET", "/api/v1/backends", "", backends),
    "delete": Kind("DELETE", "/api/v1/jobs/{job}", "done", delete),
    "iam": Kind("POST", "/identity/token", "", token),
}


@dataclass(frozen=True)
class Burst:
    """*count* answers of *status* on one kind, and how many calls must fail before one works.

    With the default five retries a repeatable request survives a burst of 10 on its second
    call; ``POST /jobs``, statuses outside the retry list and 429 without ``Retry-After`` are
    never retried, so each call uses up one answer of the burst.
    """

    kind: str
    status: int
    count: int = 10
    failures: int = 1
    retry_after: int | None = None

    @property
    def id(self) -> str:
        hint = f"-retry-after-{self.retry_after}" if self.retry_after is not None else ""
        return f"{self.kind}-{self.status}x{self.count}{hint}"


BURSTS = [
    Burst("submit", 503, failures=10),
    Burst("get", 502),
    Burst("list", 504),
    Burst("list", 501, failures=10),
    Burst("results", 500),
    Burst("metrics", 520),
    Burst("tags", 521),
    Burst("cancel", 522),
    Burst("backends", 524),
    Burst("delete", 503),
    Burst("iam", 502),
    Burst("submit", 429, count=2, failures=2),
    Burst("submit", 429, count=2, failures=2, retry_after=1),
    Burst("get", 429, count=2, failures=2),
    Burst("results", 429, count=2, failures=2),
    Burst("results", 429, count=1, failures=0, retry_after=1),
    Burst("tags", 429, count=1, failures=0, retry_after=1),
]


def api_error(exc: BaseException) -> IBMJobApiError:
    """The :class:`IBMJobApiError` behind *exc* (``cancel`` wraps it, as upstream does)."""
    current: BaseException | None = exc
    while current is not None and not isinstance(current, IBMJobApiError):
        current = current.__cause__
    assert current is not None, f"{exc!r} carries no IBMJobApiError"
    return current


@pytest.fixture
def wire(emulator: EmulatorServer) -> Iterator[Api]:
    """Counts the service's jobs without going through the client under test."""
    with Api(emulator, ALICE) as api:
        yield api


@pytest.mark.parametrize("burst", BURSTS, ids=[burst.id for burst in BURSTS])
def test_each_call_succeeds_or_reports_the_status_and_no_job_is_duplicated(
    connect: Connect, emulator: EmulatorServer, wire: Api, scenario: Scenario, burst: Burst
) -> None:
    kind = KINDS[burst.kind]
    service = connect(backoff_factor=0.01)
    stage = Stage(service, service.backend(), scenario, spare=connect(backoff_factor=0.01))
    if kind.needs == "queued":
        emulator.faults.pause_execution()
    if kind.needs:
        submit(stage)
    if kind.needs == "done":
        stage.job.result(timeout=60)
    path = kind.path.format(job=stage.job.job_id() if kind.needs else "")
    if burst.status == 429:
        emulator.faults.rate_limit_next(
            burst.count, retry_after=burst.retry_after, path_prefix=path, method=kind.method
        )
    else:
        emulator.faults.fail_next(burst.count, burst.status, path_prefix=path, method=kind.method)

    failed: list[IBMJobError] = []
    started = time.monotonic()
    for _ in range(burst.failures + 1):
        try:
            kind.operate(stage)
            break
        except IBMJobError as exc:
            failed.append(exc)
    else:
        pytest.fail(f"still failing after {len(failed)} calls: {failed[-1]}")
    if burst.retry_after is not None and burst.failures == 0:
        assert time.monotonic() - started >= burst.retry_after, "Retry-After was not honoured"
    assert len(failed) == burst.failures
    for error in failed:
        assert api_error(error).status_code == burst.status
        assert str(burst.status) in str(error)
        if burst.retry_after is not None:
            assert f"retry after {burst.retry_after} s" in str(error)
    assert emulator.faults.state()["bursts"] == []

    emulator.faults.pause_execution(False)
    for job in stage.jobs:
        scenario.verify(job)
    count = wire.get("/jobs", params={"limit": 1}).json()["count"]
    assert count == len(stage.jobs) - stage.deleted, "the service has jobs the caller never got"

"""The reliability suite: jobs pushed through the client while the service misbehaves.

Every scenario submits seeded Bell-pair jobs through :class:`Scenario` and checks each one with
:meth:`Scenario.verify`: it must reach the expected final state and, when DONE, its counts must
sum to the shots and equal an in-process Aer run with the same ``seed_simulator``. A job
submitted but never verified counts as lost. The session's :class:`Ledger` prints one line at
the end of the run, ``reliability: N scenarios run, M jobs checked, K jobs lost``, and fails the
session if K is not 0.

Tests marked ``slow`` (heavier variants) run only when ``-m`` selects them, e.g.
``pytest tests/reliability -m slow``, so the default run stays within its time budget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator

from qcourier import IBMBackend, IBMCircuitJob, IBMJobError, IBMJobInvalidStateError
from tests.circuits import bell
from tests.plugins.conftest import connect, request_log

__all__ = [
    "Ledger",
    "Scenario",
    "connect",
    "in_background",
    "reference_counts",
    "request_log",
]

T = TypeVar("T")

HERE = Path(__file__).parent
LEDGER = pytest.StashKey["Ledger"]()


@cache
def reference_counts(shots: int, seed: int) -> dict[str, int]:
    """The counts of the Bell pair run in-process by Aer: what every intact result must hold."""
    result = AerSimulator().run(bell(), shots=shots, seed_simulator=seed).result()
    counts: dict[str, int] = result.get_counts()
    return counts


class Ledger:
    """What the whole run checked; one per session, shared by every scenario's threads."""

    def __init__(self) -> None:
        self.scenarios = 0
        self.checked = 0
        self.lost: list[str] = []
        self._lock = threading.Lock()

    def open(self, name: str) -> Scenario:
        """Start counting the scenario *name*."""
        with self._lock:
            self.scenarios += 1
        return Scenario(self, name)

    def record(self, checked: int = 0, lost: Sequence[str] = ()) -> None:
        """Add jobs found intact (*checked*) and jobs found lost (one line each)."""
        with self._lock:
            self.checked += checked
            self.lost += lost

    def summary(self) -> str:
        return (
            f"reliability: {self.scenarios} scenarios run, {self.checked} jobs checked, "
            f"{len(self.lost)} jobs lost"
        )


class Scenario:
    """The jobs of one scenario: submitted with a known seed, then checked one by one."""

    def __init__(self, ledger: Ledger, name: str) -> None:
        self._ledger = ledger
        self._name = name
        self._expected: dict[str, tuple[int, int, JobStatus]] = {}
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def submit(self, backend: IBMBackend, shots: int, seed: int, **options: Any) -> IBMCircuitJob:
        """Run the Bell pair on *backend*; the job is expected to end DONE with intact counts."""
        job = backend.run(bell(), shots=shots, seed_simulator=seed, **options)
        with self._lock:
            self._expected[job.job_id()] = (shots, seed, JobStatus.DONE)
        return job

    def expect_cancelled(self, job: IBMCircuitJob) -> None:
        """*job* was cancelled on purpose: CANCELLED is its right final state."""
        with self._lock:
            shots, seed, _ = self._expected[job.job_id()]
            self._expected[job.job_id()] = (shots, seed, JobStatus.CANCELLED)

    def verify(self, job: IBMCircuitJob, timeout: float = 60.0) -> None:
        """Check that *job* reached its expected final state with an intact result.

        Waits at most *timeout* seconds for a result the job does not hold yet. A cancelled
        job's state is read again from the service.
        """
        problem = self._problem(job, timeout)
        if problem is not None:
            self._ledger.record(lost=[f"{self._name}: {job.job_id()} {problem}"])
            raise AssertionError(f"job {job.job_id()} {problem}")
        self._ledger.record(checked=1)
        with self._lock:
            self._verified.add(job.job_id())

    def _problem(self, job: IBMCircuitJob, timeout: float) -> str | None:
        shots, seed, final = self._expected[job.job_id()]
        if final is JobStatus.CANCELLED:
            job.refresh()
            with pytest.raises(IBMJobInvalidStateError, match="cancelled"):
                job.result(timeout=timeout)
        else:
            try:
                counts = job.result(timeout=timeout).get_counts()
            except IBMJobError as exc:
                return f"has no result: {exc}"
            if sum(counts.values()) != shots:
                return f"counts {counts} do not sum to {shots} shots"
            if counts != reference_counts(shots, seed):
                return f"counts {counts} differ from the seeded {reference_counts(shots, seed)}"
        return None if job.status() is final else f"ended {job.status().name}, not {final.name}"

    def close(self) -> None:
        """Count every job submitted but never verified as lost."""
        with self._lock:
            missing = sorted(set(self._expected) - self._verified)
        self._ledger.record(lost=[f"{self._name}: {job_id} never verified" for job_id in missing])


@pytest.fixture(scope="session")
def ledger(pytestconfig: pytest.Config) -> Iterator[Ledger]:
    """The session's tally; the session fails at its end if any job was lost."""
    tally = Ledger()
    pytestconfig.stash[LEDGER] = tally
    yield tally
    assert not tally.lost, "reliability: jobs lost:\n" + "\n".join(tally.lost)


@pytest.fixture
def scenario(ledger: Ledger, request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """This test as one reliability scenario."""
    current = ledger.open(request.node.nodeid)
    yield current
    current.close()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    tally = config.stash.get(LEDGER, None)
    if tally is not None:
        terminalreporter.write_line(tally.summary())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.markexpr:
        return  # the user chose with -m
    skip = pytest.mark.skip(reason="heavier reliability variant: select it with -m slow")
    for item in items:
        if item.get_closest_marker("slow") and item.path.is_relative_to(HERE):
            item.add_marker(skip)


def in_background(work: Callable[[], T]) -> Future[T]:
    """Run *work* on a daemon thread; ``.result(timeout)`` fails instead of hanging."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to whoever reads the future
            future.set_exception(exc)

    threading.Thread(target=run, name="reliability-background", daemon=True).start()
    return future

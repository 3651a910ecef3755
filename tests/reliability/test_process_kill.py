"""The emulator process is SIGKILLed mid-run and restarted on its port and database.

The client keeps waiting throughout, through the ``ibm_quantum_platform`` channel, either with
one thread per job calling ``result()`` (websocket first, then polling) or with ``as_completed``
(the shared watcher). No job may be lost or run twice, and every result must be intact.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from functools import partial
from pathlib import Path

import pytest
import requests

from qcourier import IBMCircuitJob, Service, as_completed
from qcourier.config import resolve_options
from tests.emulator.process import EmulatorProcess
from tests.reliability.conftest import Scenario, in_background

KEY = "reliability-kill-key"
ADMIN = "reliability-kill-admin"
# Long enough for a restart (a fresh interpreter importing qiskit) to fit in the client's
# transport retries, so a result download caught by a kill does not fail.
CLIENT = {"backoff_factor": 0.05, "max_retries": 8, "poll_interval_max": 0.5}
WAIT_LIMIT = 120.0


class Finished:
    """How many jobs the client has seen finish; tests wait on it instead of sleeping."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def add(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._count >= count, timeout):
                raise AssertionError(f"{count} jobs did not finish within {timeout:g} s")


class Emulator:
    """The standalone emulator in a child process, restartable on one port and database."""

    def __init__(self, db: Path) -> None:
        self._db = db
        self._process = self._start()
        self.url = self._process.url
        self.port = self.url.rsplit(":", 1)[1]
        banner = self._process.banner
        self.instance = next(line for line in banner if line.startswith("instance: ")).split()[1]

    def _start(self, *args: str) -> EmulatorProcess:
        return EmulatorProcess(
            self._db, *args, "--api-key", KEY, "--workers", "1", "--admin-secret", ADMIN
        )

    def connect(self) -> Service:
        """A client through the ``ibm_quantum_platform`` channel, as a user reaches IBM."""
        options = {
            "channel": "ibm_quantum_platform",
            "base_url": f"{self.url}/api/v1",
            "iam_url": self.url,
            "api_key": KEY,
            "instance": self.instance,
            "events": [],
            **CLIENT,
        }
        return Service(resolve_options(options, environ={}))

    def slow_down(self, seconds_per_circuit: float) -> None:
        reply = requests.post(
            f"{self.url}/admin/faults",
            json={"slow_execution": seconds_per_circuit},
            headers={"X-Admin-Secret": ADMIN},
            timeout=10,
        )
        reply.raise_for_status()

    def kill_and_restart(self) -> None:
        self._process.kill()
        # EmulatorProcess asks for port 0; the --port given after it wins.
        self._process = self._start("--port", self.port)
        assert self._process.url == self.url

    def stop(self) -> None:
        if self._process.process.poll() is None:
            self._process.terminate()


def wait_with_threads(jobs: list[IBMCircuitJob], finished: Finished) -> Future[None]:
    """One thread per job calling ``result()``; the future ends when they all returned."""

    def wait_one(job: IBMCircuitJob) -> None:
        job.result(timeout=WAIT_LIMIT)
        finished.add()

    waiters = [in_background(partial(wait_one, job)) for job in jobs]

    def join() -> None:
        for waiter in waiters:
            waiter.result(WAIT_LIMIT)

    return in_background(join)


def wait_with_as_completed(jobs: list[IBMCircuitJob], finished: Finished) -> Future[None]:
    """``as_completed`` on an event loop of its own thread."""

    async def main() -> None:
        async for _ in as_completed(jobs, timeout=WAIT_LIMIT):
            finished.add()

    return in_background(lambda: asyncio.run(main()))


WAITS = {"threads": wait_with_threads, "as_completed": wait_with_as_completed}


def pending_on_server(service: Service) -> int:
    return int(service.host.api.jobs_list(limit=1, pending=True)["count"])


def run_through_kills(
    tmp_path: Path, scenario: Scenario, waiting: str, jobs: int, kills: int
) -> None:
    emulator = Emulator(tmp_path / "emulator.sqlite3")
    service = emulator.connect()
    try:
        # One worker at 40 ms a circuit: the jobs take seconds, so each kill lands mid-run.
        emulator.slow_down(0.04)
        backend = service.backend()
        submitted = [
            scenario.submit(backend, shots=10 + index % 17, seed=500 + index)
            for index in range(jobs)
        ]
        finished = Finished()
        waited = WAITS[waiting](submitted, finished)
        for kill in range(1, kills + 1):
            finished.wait_for(kill * jobs // (kills + 2) + 1)
            assert pending_on_server(service) > 0, "the kill must land while jobs are in flight"
            emulator.kill_and_restart()
            if kill < kills:
                emulator.slow_down(0.04)
        waited.result(WAIT_LIMIT)
        for job in submitted:
            scenario.verify(job)
        count = service.host.api.jobs_list(limit=1)["count"]
        assert count == jobs, "the service holds jobs the client never submitted"
    finally:
        service.close()
        emulator.stop()


@pytest.mark.parametrize("waiting", sorted(WAITS))
def test_sigkill_and_restart_mid_run_loses_none_of_50_jobs_in_flight(
    tmp_path: Path, scenario: Scenario, waiting: str
) -> None:
    run_through_kills(tmp_path, scenario, waiting, jobs=50, kills=1)


@pytest.mark.slow
@pytest.mark.parametrize("waiting", sorted(WAITS))
def test_three_sigkills_during_200_jobs_lose_none(
    tmp_path: Path, scenario: Scenario, waiting: str
) -> None:
    run_through_kills(tmp_path, scenario, waiting, jobs=200, kills=3)

"""A slow service against ``result(timeout=...)``: it returns or times out on time, never hangs.

The latency applies to the runtime API (status reads, result downloads, the websocket
handshake), not to IAM, and starts after the job is submitted. ``TOLERANCE`` is a correctness
bound on the deadline, not a benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest

from qcourier import IBMJobTimeoutError, Service
from qcourier.plugins.emulator.server import EmulatorServer
from tests.reliability.conftest import Scenario, in_background

Connect = Callable[..., Service]
TOLERANCE = 0.5
WAITS = {"polling": ["polling"], "websocket": ["websocket", "polling"]}


@dataclass(frozen=True)
class Slowness:
    """*latency* seconds on every runtime request, *timeout* for ``result``."""

    latency: float
    timeout: float
    finishes: bool  # whether the job may run (else it is held in the queue)

    @property
    def id(self) -> str:
        outcome = "returns" if self.finishes else "times-out"
        return f"latency-{self.latency:g}s-timeout-{self.timeout:g}s-{outcome}"


CASES = [
    Slowness(latency=0.3, timeout=1.5, finishes=False),
    Slowness(latency=2.0, timeout=0.5, finishes=False),
    Slowness(latency=0.3, timeout=20.0, finishes=True),
]


@pytest.fixture
def slow_emulator(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The emulator, its faults cleared before it stops (so no request sleeps through it)."""
    yield emulator
    emulator.faults.clear()


@pytest.mark.parametrize("wait", sorted(WAITS))
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_result_with_a_timeout_keeps_its_deadline_on_a_slow_service(
    connect: Connect, slow_emulator: EmulatorServer, scenario: Scenario, case: Slowness, wait: str
) -> None:
    service = connect(wait=WAITS[wait], poll_interval_max=0.5)
    if not case.finishes:
        slow_emulator.faults.pause_execution()
    slow_emulator.faults.slow_execution(0.2)
    job = scenario.submit(service.backend(), shots=30, seed=11)
    slow_emulator.faults.set_latency(case.latency, path_prefix="/api/v1")
    started = time.monotonic()
    waiting = in_background(partial(job.result, timeout=case.timeout))
    if case.finishes:
        waiting.result(case.timeout + TOLERANCE)
        assert time.monotonic() - started <= case.timeout + TOLERANCE
        slow_emulator.faults.clear()
        scenario.verify(job)
        return
    with pytest.raises(IBMJobTimeoutError, match="did not reach a final state"):
        waiting.result(case.timeout + TOLERANCE)
    assert abs(time.monotonic() - started - case.timeout) <= TOLERANCE
    slow_emulator.faults.clear()
    scenario.verify(job)

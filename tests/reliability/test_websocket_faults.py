"""Status streams that break or never open: every job still finishes, quietly, on polling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import pytest

from qcourier import Service
from qcourier.plugins.emulator.server import EmulatorServer
from tests.emulator.wire import eventually
from tests.plugins.conftest import RequestLog
from tests.reliability.conftest import Scenario, in_background

Connect = Callable[..., Service]
WAIT_LOGGER = "qcourier.plugins.websocket.wait"
WAIT_LIMIT = 120.0


def qcourier_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """WARNING and worse logged by any ``qcourier`` logger, client or embedded emulator."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.name.startswith("qcourier") and record.levelno >= logging.WARNING
    ]


def handovers(caplog: pytest.LogCaptureFixture, reason: str) -> int:
    """Waits the websocket strategy handed to polling, for *reason*."""
    return sum(
        1
        for record in caplog.records
        if record.name == WAIT_LOGGER
        and "handing over" in record.getMessage()
        and reason in record.getMessage()
    )


def test_a_hundred_streams_dropped_mid_wait_cost_no_job_and_no_warning(
    connect: Connect,
    emulator: EmulatorServer,
    request_log: RequestLog,
    scenario: Scenario,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=WAIT_LOGGER)
    # A hundred handshakes at once on a busy machine: give each its time, so every stream
    # opens and the only way a wait ends early is the injected drop.
    service = connect(poll_interval_max=0.5, connect_timeout=30)
    backend = service.backend()
    emulator.faults.pause_execution()
    jobs = [scenario.submit(backend, shots=5 + index % 11, seed=index) for index in range(100)]
    # Each stream sends its ACK and the job's current state (Queued), then the next frame
    # (Running) becomes a close with code 1011: a drop in the middle of every wait.
    emulator.faults.drop_websocket_after(2)
    waiters = [in_background(partial(job.result, timeout=WAIT_LIMIT)) for job in jobs]
    eventually(
        lambda: all(emulator.open_streams(job.job_id()) for job in jobs) or None,
        timeout=60,
        what="every job's stream",
    )
    emulator.faults.pause_execution(False)
    for waiter in waiters:
        waiter.result(WAIT_LIMIT)
    for job in jobs:
        scenario.verify(job)
    assert handovers(caplog, "closed the stream with code 1011") == 100
    assert not qcourier_warnings(caplog)


def test_refused_websockets_cost_one_attempt_per_wait_and_no_warning(
    connect: Connect,
    emulator: EmulatorServer,
    scenario: Scenario,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=WAIT_LOGGER)
    emulator.faults.refuse_websockets()
    emulator.faults.slow_execution(0.02)
    service = connect(poll_interval_max=0.5)
    backend = service.backend()
    jobs = [scenario.submit(backend, shots=7 + index, seed=900 + index) for index in range(20)]
    waiters = [in_background(partial(job.result, timeout=WAIT_LIMIT)) for job in jobs]
    for waiter in waiters:
        waiter.result(WAIT_LIMIT)
    for job in jobs:
        scenario.verify(job)
    # No reconnect loop: one refused handshake per wait, then polling.
    assert handovers(caplog, "(HTTP 503)") == 20
    assert not qcourier_warnings(caplog)

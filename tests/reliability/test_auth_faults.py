"""Credentials that stop working while jobs are in flight: an expired token, a revoked key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

import pytest

from qcourier import IBMAuthError, IBMCircuitJob, Service, as_completed
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.status import FINAL_STATES
from tests.emulator.wire import Api, eventually
from tests.plugins.conftest import ALICE, RequestLog, Sent
from tests.reliability.conftest import Scenario, in_background

Connect = Callable[..., Service]
TOKEN_PATH = "/identity/token"
#: Requests a revoked key may cost before the caller hears of it: the refused call, the
#: token fetch that IAM refuses, and one more fetch when the websocket hands over to polling.
MAX_REQUESTS_AFTER_REVOCATION = 3


def polled(jobs: list[IBMCircuitJob]) -> Callable[[list[Sent]], bool]:
    """Every job had its status read at least once."""
    paths = {f"/api/v1/jobs/{job.job_id()}" for job in jobs}
    return lambda sent: paths <= {item.path for item in sent if item.method == "GET"}


def test_token_expiry_while_twenty_jobs_are_awaited_costs_exactly_one_refresh(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog, scenario: Scenario
) -> None:
    service = connect(poll_interval_max=0.5)
    backend = service.backend()
    emulator.faults.pause_execution()
    jobs = [scenario.submit(backend, shots=12 + index, seed=300 + index) for index in range(20)]

    async def await_all() -> None:
        completed = as_completed(jobs, timeout=120)
        first = asyncio.ensure_future(completed.__anext__())
        await asyncio.to_thread(request_log.wait_for, polled(jobs))
        emulator.faults.expire_tokens()
        emulator.faults.pause_execution(False)
        await first
        async for _ in completed:
            pass

    asyncio.run(await_all())
    for job in jobs:
        scenario.verify(job)
    assert request_log.count("POST", TOKEN_PATH) == 2  # the first token and one refresh


def test_token_expiry_while_twenty_threads_wait_costs_exactly_one_refresh(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog, scenario: Scenario
) -> None:
    service = connect(poll_interval_max=0.5)
    backend = service.backend()
    emulator.faults.pause_execution()
    jobs = [scenario.submit(backend, shots=12 + index, seed=600 + index) for index in range(20)]
    waiters = [in_background(partial(job.result, timeout=60)) for job in jobs]
    # Every thread waits on its job's open stream; the final frames will make all twenty
    # confirm at once with the expired token.
    eventually(
        lambda: all(emulator.open_streams(job.job_id()) for job in jobs) or None,
        what="every job's stream",
    )
    # As on a real network, status reads take a while: several are in flight with the
    # expired token when the first refresh lands.
    emulator.faults.set_latency(0.2, path_prefix="/api/v1")
    emulator.faults.expire_tokens()
    emulator.faults.pause_execution(False)
    for waiter in waiters:
        waiter.result(60)
    emulator.faults.clear()
    for job in jobs:
        scenario.verify(job)
    assert request_log.count("POST", TOKEN_PATH) == 2  # the first token and one refresh


@pytest.mark.parametrize("wait", [["polling"], ["websocket", "polling"]], ids=",".join)
def test_a_key_revoked_mid_wait_ends_it_with_an_auth_error_after_few_requests(
    connect: Connect,
    emulator: EmulatorServer,
    request_log: RequestLog,
    scenario: Scenario,
    wait: list[str],
) -> None:
    service = connect(wait=wait, poll_interval_max=0.2)
    emulator.faults.pause_execution()
    job = scenario.submit(service.backend(), shots=16, seed=77)
    waiter = in_background(partial(job.result, timeout=60))
    # Polling has read the status once, or the stream is open (its Queued frame costs no GET).
    if wait[0] == "websocket":
        eventually(lambda: emulator.open_streams(job.job_id()) or None, what="the job's stream")
    else:
        request_log.wait_for(polled([job]))
    emulator.faults.revoke_key(ALICE)
    revoked_at = len(request_log.sent)
    emulator.faults.pause_execution(False)
    with pytest.raises(IBMAuthError, match="API key was rejected") as caught:
        waiter.result(30)
    assert ALICE not in str(caught.value)
    assert len(request_log.sent[revoked_at:]) <= MAX_REQUESTS_AFTER_REVOCATION
    assert job.last_status() not in FINAL_STATES, "an auth error must not change the job"
    emulator.faults.clear()
    scenario.verify(job)


def test_a_key_revoked_before_submitting_creates_no_job_and_is_not_retried(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog, scenario: Scenario
) -> None:
    backend = connect().backend()
    emulator.faults.revoke_key(ALICE)
    revoked_at = len(request_log.sent)
    with pytest.raises(IBMAuthError, match="API key was rejected"):
        scenario.submit(backend, shots=8, seed=5)
    assert [(item.method, item.path) for item in request_log.sent[revoked_at:]] == [
        ("POST", "/api/v1/jobs"),
        ("POST", TOKEN_PATH),
    ]
    emulator.faults.clear()
    with Api(emulator, ALICE) as wire:
        assert wire.get("/jobs", params={"limit": 1}).json()["count"] == 0
    scenario.verify(scenario.submit(backend, shots=8, seed=5))

"""Waiting for jobs: the polling and websocket strategies, alone and chained, under faults."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from qiskit.providers import JobStatus

from qcourier import (
    IBMCircuitJob,
    IBMJobNotFoundError,
    IBMJobTimeoutError,
    Service,
)
from qcourier.config import Options
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.websocket.wait import WebsocketWait
from tests.circuits import bell
from tests.conftest import EMULATOR_KEYS
from tests.plugins.conftest import RequestLog, Sent, ibm_options
from tests.plugins.scripted_server import ScriptedStream, close_frame, text_frame

Connect = Callable[..., Service]
TOKEN_PATH = "/identity/token"


def warnings_from_qcourier(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # The emulator's own server logs are not the client's business.
    return [
        record
        for record in caplog.records
        if record.name.startswith("qcourier") and record.levelno >= logging.WARNING
    ]


def polls(log: RequestLog, job: IBMCircuitJob) -> int:
    return log.count("GET", f"/api/v1/jobs/{job.job_id()}")


def later(seconds: float, action: Callable[[], None]) -> threading.Timer:
    """Run *action* after *seconds* on a timer thread (the server's side of a scenario)."""
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# -- polling --------------------------------------------------------------------------------


def test_hook_qcourier_wait_for_final_state_polling_backs_off_from_50_ms(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.slow_execution(0.6)
    job = connect(wait=["polling"]).backend().run(bell(), shots=10)
    started = time.monotonic()
    job.wait_for_final_state(timeout=60)
    elapsed = time.monotonic() - started
    assert job.status() is JobStatus.DONE
    assert elapsed >= 0.6
    # At once, then 50, 75, 112, 169, 253, 380 ms...: a handful, not one per 50 ms.
    assert 3 <= polls(request_log, job) <= 9


def test_many_jobs_waited_at_once_share_one_watcher_thread(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.pause_execution()
    service = connect(wait=["polling"])
    jobs = [service.backend().run(bell(), shots=10) for _ in range(20)]
    waiters = [threading.Thread(target=job.wait_for_final_state, args=(60,)) for job in jobs]
    for waiter in waiters:
        waiter.start()
    request_log.wait_for(lambda sent: all(polls_in(sent, job) >= 2 for job in jobs))
    watchers = [t for t in threading.enumerate() if t.name.startswith("qcourier-watcher")]
    assert len(watchers) == 1
    emulator.faults.pause_execution(False)
    for waiter in waiters:
        waiter.join(60)
    assert all(job.status() is JobStatus.DONE for job in jobs)
    assert len(service.host.watcher) == 0


def polls_in(sent: list[Sent], job: IBMCircuitJob) -> int:
    path = f"/api/v1/jobs/{job.job_id()}"
    return sum(1 for item in sent if item.method == "GET" and item.path == path)


def test_ten_503s_during_a_wait_leave_the_job_and_its_result_intact(
    connect: Connect, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    service = connect(wait=["polling"], max_retries=2, backoff_factor=0.01)
    emulator.faults.pause_execution()
    job = service.backend().run(bell(), shots=100)
    emulator.faults.fail_next(10, 503, path_prefix=f"/api/v1/jobs/{job.job_id()}", method="GET")
    emulator.faults.pause_execution(False)
    counts = job.result(timeout=60).get_counts()
    assert sum(counts.values()) == 100
    assert emulator.faults.state()["bursts"] == []
    assert not warnings_from_qcourier(caplog)


def test_a_429_during_polling_is_retried_at_the_next_poll(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    service = connect(wait=["polling"], poll_interval_max=0.1)
    emulator.faults.pause_execution()
    job = service.backend().run(bell(), shots=10)
    emulator.faults.rate_limit_next(3, path_prefix=f"/api/v1/jobs/{job.job_id()}", method="GET")
    emulator.faults.pause_execution(False)
    job.wait_for_final_state(timeout=60)
    assert job.status() is JobStatus.DONE
    assert polls(request_log, job) >= 4


@pytest.mark.parametrize("wait", [["polling"], ["websocket", "polling"]])
def test_result_with_a_timeout_raises_by_the_deadline(
    connect: Connect, emulator: EmulatorServer, wait: list[str]
) -> None:
    emulator.faults.pause_execution()
    job = connect(wait=wait).backend().run(bell(), shots=10)
    started = time.monotonic()
    with pytest.raises(IBMJobTimeoutError, match=r"within the timeout \(waited 0\.\d s"):
        job.result(timeout=0.4)
    assert 0.4 <= time.monotonic() - started < 1.5
    assert job.status() is JobStatus.QUEUED


def test_a_job_the_service_does_not_know_ends_the_wait_with_not_found(connect: Connect) -> None:
    service = connect(wait=["polling"])
    ghost = IBMCircuitJob(None, service.host, "abcdefghij0123456789", status="Queued")
    with pytest.raises(IBMJobNotFoundError):
        ghost.wait_for_final_state(timeout=30)


def test_ctrl_c_interrupts_a_wait_at_once(connect: Connect, emulator: EmulatorServer) -> None:
    emulator.faults.pause_execution()
    service = connect(wait=["polling"])
    job = service.backend().run(bell(), shots=10)
    main = threading.main_thread().ident
    assert main is not None
    later(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        job.wait_for_final_state()
    assert time.monotonic() - started < 1.5
    assert len(service.host.watcher) == 0


def test_token_expiry_mid_wait_costs_one_refresh_and_the_result_is_intact(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.pause_execution()
    job = connect().backend().run(bell(), shots=100)

    def expire_then_run() -> None:
        emulator.faults.expire_tokens()
        emulator.faults.pause_execution(False)

    later(0.3, expire_then_run)
    counts = job.result(timeout=60).get_counts()
    assert sum(counts.values()) == 100
    assert request_log.count("POST", TOKEN_PATH) == 2


# -- websocket ------------------------------------------------------------------------------


def test_hook_qcourier_wait_for_final_state_websocket_needs_no_polling(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.slow_execution(0.6)
    job = connect().backend().run(bell(), shots=10)
    started = time.monotonic()
    job.wait_for_final_state(timeout=60)
    assert time.monotonic() - started >= 0.6
    assert job.status() is JobStatus.DONE
    # One confirming GET per frame (Queued, Running, Completed) and none in between;
    # polling would have sent about seven in that time.
    assert polls(request_log, job) <= 3


def test_a_refused_websocket_falls_back_to_polling_without_a_warning(
    connect: Connect,
    emulator: EmulatorServer,
    request_log: RequestLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.faults.refuse_websockets()
    emulator.faults.slow_execution(0.3)
    job = connect().backend().run(bell(), shots=100)
    counts = job.result(timeout=60).get_counts()
    assert sum(counts.values()) == 100
    assert polls(request_log, job) >= 3
    assert not warnings_from_qcourier(caplog)


def test_a_stream_dropped_midway_falls_back_to_polling(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.drop_websocket_after(1)  # the ACK, then close 1011
    emulator.faults.slow_execution(0.3)
    job = connect().backend().run(bell(), shots=10)
    job.wait_for_final_state(timeout=60)
    assert job.status() is JobStatus.DONE


def test_a_deadline_on_the_stream_is_a_timeout_without_polling(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    emulator.faults.pause_execution()
    job = connect().backend().run(bell(), shots=10)
    with pytest.raises(IBMJobTimeoutError, match="on its status stream"):
        job.wait_for_final_state(timeout=0.5)
    assert polls(request_log, job) <= 1  # the confirmation of the first frame only


class StubJob:
    """A job that stays queued and counts its status checks."""

    def __init__(self) -> None:
        self.checks = 0

    def job_id(self) -> str:
        return "j1"

    def status(self) -> JobStatus:
        self.checks += 1
        return JobStatus.QUEUED


def stream_wait(url: str, ping_interval: float = 30.0) -> WebsocketWait:
    wait = WebsocketWait(ping_interval=ping_interval)
    host = SimpleNamespace(
        options=Options(),
        api=SimpleNamespace(stream_url=lambda job_id: url),
        auth_headers=lambda request: {"Authorization": "Bearer t"},
    )
    wait.qcourier_configure(host)  # type: ignore[arg-type]
    return wait


ACK = text_frame('{"type": "ack", "job_id": "j1"}')
QUEUED = text_frame('{"type": "job-status", "data": {"id": "j1", "status": "Queued"}}')


@pytest.mark.parametrize(
    ("frames", "checks"),
    [
        ([ACK, text_frame("not json")], 0),
        # A Queued frame costs no request; the close while queued is confirmed once.
        ([ACK, QUEUED, close_frame(1000)], 1),
        ([ACK, close_frame(4001)], 0),
    ],
    ids=["bad-frame", "normal-close-before-final", "error-close"],
)
def test_a_stream_that_misbehaves_hands_over_to_the_next_strategy(
    frames: list[bytes], checks: int
) -> None:
    job = StubJob()
    with ScriptedStream(frames) as stream:
        assert stream_wait(stream.url).qcourier_wait_for_final_state(job, None) is None  # type: ignore[arg-type]
    assert job.checks == checks


def test_a_silent_stream_hands_over_after_two_ping_intervals() -> None:
    with ScriptedStream([ACK]) as stream:
        started = time.monotonic()
        wait = stream_wait(stream.url, ping_interval=0.2)
        assert wait.qcourier_wait_for_final_state(StubJob(), None) is None  # type: ignore[arg-type]
    assert 0.4 <= time.monotonic() - started < 2


def test_a_refused_connection_hands_over_at_once() -> None:
    wait = stream_wait("ws://127.0.0.1:9/stream/jobs/j1")
    assert wait.qcourier_wait_for_final_state(StubJob(), None) is None  # type: ignore[arg-type]


def test_a_server_restart_mid_wait_leaves_the_result_intact(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    first = EmulatorServer(db_path=db, api_keys=EMULATOR_KEYS, workers=1, seed=1)
    first.start()
    port = int(first.url.rsplit(":", 1)[1])
    second = EmulatorServer(db_path=db, port=port, api_keys=EMULATOR_KEYS, workers=1, seed=1)
    service = Service(ibm_options(first, backoff_factor=0.01, poll_interval_max=0.2))
    try:
        first.faults.pause_execution()
        job = service.backend().run(bell(), shots=100)

        def restart() -> None:
            first.stop()
            second.start()

        restarting = later(0.3, restart)
        counts = job.result(timeout=60).get_counts()
        restarting.join()
        assert sum(counts.values()) == 100
    finally:
        service.close()
        second.stop()
        first.stop()

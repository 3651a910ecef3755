"""The plugin host's facade: each hook's calling semantics, tested with local plugins."""

from __future__ import annotations

from typing import Any

import pytest
from qiskit.providers import JobStatus

from qcourier import IBMAuthError, PluginError, hookimpl
from qcourier.decoding import DecodeContext
from qcourier.host import PluginHost
from qcourier.messages import Request, Response
from tests.core.conftest import HostFactory
from tests.core.fakes import ScriptedTransport

GET = Request("GET", "http://127.0.0.1:9/api/v1/jobs")


class TokenAuth:
    def __init__(self, refresh_answer: bool = True) -> None:
        self.refreshes = 0
        self.refresh_answer = refresh_answer

    @hookimpl
    def qcourier_authenticate(self, request: Request) -> dict[str, str]:
        return {"Authorization": f"Bearer token-{self.refreshes}"}

    @hookimpl
    def qcourier_auth_refresh(self, response: Response) -> bool:
        self.refreshes += 1
        return self.refresh_answer


def test_hook_qcourier_send_delivers_with_auth_headers(make_host: HostFactory) -> None:
    transport = ScriptedTransport([200])
    host = make_host(("transport:t", transport), ("auth:a", TokenAuth()))
    assert host.send(GET).status == 200
    assert transport.sent[0].headers["Authorization"] == "Bearer token-0"


def test_hook_qcourier_authenticate_is_skipped_for_unauthenticated_requests(
    make_host: HostFactory,
) -> None:
    transport = ScriptedTransport([200])
    host = make_host(("transport:t", transport), ("auth:a", TokenAuth()))
    host.send(Request("POST", "http://127.0.0.1:9/identity/token", authenticate=False))
    assert "Authorization" not in transport.sent[0].headers


def test_hook_qcourier_auth_refresh_replays_a_401_once(make_host: HostFactory) -> None:
    transport = ScriptedTransport([401, 200])
    auth = TokenAuth()
    host = make_host(("transport:t", transport), ("auth:a", auth))
    assert host.send(GET).status == 200
    assert auth.refreshes == 1
    assert [r.headers["Authorization"] for r in transport.sent] == [
        "Bearer token-0",
        "Bearer token-1",
    ]


def test_second_401_after_refresh_raises_without_a_third_request(make_host: HostFactory) -> None:
    transport = ScriptedTransport([401, 401, 200])
    host = make_host(("transport:t", transport), ("auth:a", TokenAuth()))
    with pytest.raises(IBMAuthError, match="refused the credentials again"):
        host.send(GET)
    assert len(transport.sent) == 2


def test_401_is_returned_when_auth_declines_to_refresh(make_host: HostFactory) -> None:
    transport = ScriptedTransport([401])
    host = make_host(("transport:t", transport), ("auth:a", TokenAuth(refresh_answer=False)))
    assert host.send(GET).status == 401
    assert len(transport.sent) == 1


class Decoder:
    def __init__(self, prefix: str, answer: object) -> None:
        self.prefix, self.answer = prefix, answer

    @hookimpl
    def qcourier_decode_result(self, payload: str, context: DecodeContext) -> object:
        return self.answer if payload.startswith(self.prefix) else None


def test_hook_qcourier_decode_result_tries_decoders_in_configured_order(
    make_host: HostFactory,
) -> None:
    host = make_host(("decoder:first", Decoder("{", "first")), ("decoder:second", Decoder("", "2")))
    context = DecodeContext(kind="result", job_id="j")
    assert host.decode("{}", context) == "first"
    assert host.decode("plain", context) == "2"


def test_undecodable_payload_names_the_job(make_host: HostFactory) -> None:
    host = make_host(("decoder:first", Decoder("{", "first")))
    with pytest.raises(PluginError, match="no decoder recognised the result of job j1"):
        host.decode("plain", DecodeContext(kind="result", job_id="j1"))


class FakeJob:
    def job_id(self) -> str:
        return "j1"


class Strategy:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls = 0

    @hookimpl
    def qcourier_wait_for_final_state(self, job: Any, deadline: float | None) -> Any:
        self.calls += 1
        return self.answer


def test_hook_qcourier_wait_for_final_state_falls_through_to_next_strategy(
    make_host: HostFactory,
) -> None:
    declines, serves = Strategy(None), Strategy(JobStatus.DONE)
    host = make_host(("wait:declines", declines), ("wait:serves", serves))
    assert host.wait_for_final_state(FakeJob(), None) is JobStatus.DONE  # type: ignore[arg-type]
    assert (declines.calls, serves.calls) == (1, 1)


def test_no_wait_strategy_serving_is_a_clear_error(make_host: HostFactory) -> None:
    host = make_host(("wait:declines", Strategy(None)))
    with pytest.raises(PluginError, match="no wait strategy could watch job j1"):
        host.wait_for_final_state(FakeJob(), None)  # type: ignore[arg-type]


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def qcourier_job_submitted(self, job: Any) -> None:
        self.seen.append(("submitted", job.job_id()))

    @hookimpl
    def qcourier_job_status_changed(
        self, job: Any, old: Any, new: Any, queue_position: int | None
    ) -> None:
        self.seen.append(("changed", (old, new, queue_position)))

    @hookimpl
    def qcourier_job_finished(self, job: Any, status: Any) -> None:
        self.seen.append(("finished", status))


class BrokenObserver:
    @hookimpl
    def qcourier_job_finished(self, job: Any, status: Any) -> None:
        raise RuntimeError("observer bug")


def test_hook_qcourier_job_submitted_reaches_every_observer(make_host: HostFactory) -> None:
    first, second = Observer(), Observer()
    host = make_host(("events:a", first), ("events:b", second))
    host.job_submitted(FakeJob())  # type: ignore[arg-type]
    assert first.seen == second.seen == [("submitted", "j1")]


def test_hook_qcourier_job_status_changed_carries_old_new_and_position(
    make_host: HostFactory,
) -> None:
    observer = Observer()
    host = make_host(("events:a", observer))
    host.job_status_changed(FakeJob(), JobStatus.QUEUED, JobStatus.RUNNING, None)  # type: ignore[arg-type]
    assert observer.seen == [("changed", (JobStatus.QUEUED, JobStatus.RUNNING, None))]


def test_hook_qcourier_job_finished_survives_a_broken_observer(
    make_host: HostFactory, caplog: pytest.LogCaptureFixture
) -> None:
    observer = Observer()
    host = make_host(("events:broken", BrokenObserver()), ("events:ok", observer))
    host.job_finished(FakeJob(), JobStatus.DONE)  # type: ignore[arg-type]
    assert "an events plugin failed in qcourier_job_finished" in caplog.text


class Configurable:
    def __init__(self) -> None:
        self.host: PluginHost | None = None
        self.closed = 0

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        self.host = host

    @hookimpl
    def qcourier_close(self) -> None:
        self.closed += 1


def test_hook_qcourier_configure_hands_each_plugin_its_host(make_host: HostFactory) -> None:
    plugin = Configurable()
    host = make_host(("events:c", plugin))
    assert plugin.host is host


def test_hook_qcourier_close_runs_once_even_if_closed_twice(make_host: HostFactory) -> None:
    plugin = Configurable()
    host = make_host(("events:c", plugin))
    host.close()
    host.close()
    assert plugin.closed == 1


def test_hook_qcourier_open_channel_sets_the_endpoint(make_host: HostFactory) -> None:
    assert make_host().endpoint.runtime_url == "http://127.0.0.1:9/api/v1"


def test_hook_qcourier_api_client_becomes_host_api(make_host: HostFactory) -> None:
    host = make_host()
    assert type(host.api).__name__ == "RecordingApi"


class Misspelt:
    @hookimpl
    def qcourier_wiat_for_final_state(self, job: Any, deadline: Any) -> None:
        raise AssertionError("never called")


def test_misspelt_hook_fails_when_the_connection_is_made(make_host: HostFactory) -> None:
    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError, match="qcourier_wiat_for_final_state"):
        make_host(("wait:misspelt", Misspelt()))


def test_plugins_register_under_concern_and_name(make_host: HostFactory) -> None:
    host = make_host(("wait:serves", Strategy(JobStatus.DONE)))
    assert "wait:serves" in host.plugin_names()

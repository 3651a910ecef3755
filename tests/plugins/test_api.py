"""The ``ibm_runtime`` API client against the emulator: endpoints, paging, errors, tags."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from qcourier import (
    IBMJobApiError,
    IBMJobInvalidStateError,
    IBMJobNotFoundError,
    Service,
)
from qcourier.api import RuntimeApi
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.ibm_runtime.api import RuntimeClient
from tests.circuits import bell
from tests.conftest import EMULATOR_KEYS
from tests.plugins.conftest import RequestLog

Connect = Callable[..., Service]


def client_for(runtime_url: str) -> RuntimeClient:
    return RuntimeClient(SimpleNamespace(endpoint=SimpleNamespace(runtime_url=runtime_url)))  # type: ignore[arg-type]


def test_hook_qcourier_api_client_builds_a_runtime_client(connect: Connect) -> None:
    api = connect().host.api
    assert isinstance(api, RuntimeClient)
    assert isinstance(api, RuntimeApi)


def test_backends_configuration_properties_and_status(connect: Connect) -> None:
    api = connect().host.api
    names = [item["name"] for item in api.backends()]
    assert {"aer_simulator", "fake_t5"} <= set(names)
    assert api.backend_configuration("fake_t5")["n_qubits"] == 5
    assert api.backend_properties("aer_simulator") is None
    properties = api.backend_properties("fake_t5")
    assert properties is not None
    assert len(properties["qubits"]) == 5
    assert api.backend_status("fake_t5")["state"] is True


def test_jobs_page_by_the_exact_count_with_status_and_tag_filters(
    connect: Connect, request_log: RequestLog
) -> None:
    service = connect()
    backend = service.backend()
    tagged = [backend.run(bell(), shots=10, job_tags=["page", "run-1"]) for _ in range(55)]
    untagged = backend.run(bell(), shots=10, job_tags=["page"])
    for job in [*tagged, untagged]:
        job.wait_for_final_state(timeout=120)
    before = len(request_log.sent)

    found = list(service.jobs(limit=None, status="done", tags=["page", "run-1"]))

    assert sorted(job.job_id() for job in found) == sorted(job.job_id() for job in tagged)
    pages = [item for item in request_log.sent[before:] if item.path == "/api/v1/jobs"]
    # Core asks 50 at a time and stops on the service's count: 55 jobs are two pages.
    assert len(pages) == 2
    assert {("pending", "false"), ("tags", "page"), ("tags", "run-1")} <= set(pages[0].params)
    assert ("offset", "50") in pages[1].params

    api = service.host.api
    seen, offset, requests = 0, 0, 0
    while True:
        page = api.jobs_list(limit=20, offset=offset, tags=["run-1"], pending=False)
        requests += 1
        assert page["count"] == 55
        if not page["jobs"]:
            break
        seen += len(page["jobs"])
        offset += len(page["jobs"])
    assert (seen, requests) == (55, 4)  # 20 + 20 + 15, then the empty page after the last


def test_jobs_list_sorts_ascending_when_asked(connect: Connect) -> None:
    service = connect()
    jobs = [service.backend().run(bell(), shots=10) for _ in range(3)]
    api = service.host.api
    newest_first = [item["id"] for item in api.jobs_list(limit=10)["jobs"]]
    oldest_first = [item["id"] for item in api.jobs_list(limit=10, ascending=True)["jobs"]]
    assert oldest_first == [job.job_id() for job in jobs]
    assert newest_first == oldest_first[::-1]


def test_an_unknown_or_foreign_job_is_not_found(connect: Connect) -> None:
    alice, bob = connect(), connect(EMULATOR_KEYS[1])
    job = alice.backend().run(bell(), shots=10)
    with pytest.raises(IBMJobNotFoundError, match="code 3250"):
        bob.job(job.job_id())
    with pytest.raises(IBMJobNotFoundError) as caught:
        alice.job("abcdefghij0123456789")
    assert caught.value.status_code == 404


def test_bad_tags_are_refused_before_any_request(connect: Connect, request_log: RequestLog) -> None:
    service = connect()
    job = service.backend().run(bell(), shots=10)
    before = len(request_log.sent)
    with pytest.raises(IBMJobInvalidStateError, match="list of strings"):
        job.update_tags(("a",))  # type: ignore[arg-type]
    with pytest.raises(IBMJobInvalidStateError, match="non-empty strings"):
        job.update_tags(["a", 1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="list of strings"):
        service.host.api.job_update_tags(job.job_id(), ("a",))
    with pytest.raises(ValueError, match="non-empty strings"):
        service.host.api.jobs_list(limit=5, tags=[""])
    assert len(request_log.sent) == before


def test_logs_metrics_and_delete_of_a_finished_job(connect: Connect) -> None:
    service = connect()
    job = service.backend().run(bell(), shots=10)
    api = service.host.api
    job.result(timeout=60)
    with pytest.raises(IBMJobInvalidStateError, match="cancel"):
        api.job_cancel(job.job_id())
    assert isinstance(api.job_logs(job.job_id()), str)
    assert set(api.job_metrics(job.job_id())["timestamps"]) >= {"created", "running", "finished"}
    api.job_delete(job.job_id())
    with pytest.raises(IBMJobNotFoundError):
        api.job_get(job.job_id())


def test_deleting_a_job_that_is_not_final_is_refused(
    connect: Connect, emulator: EmulatorServer
) -> None:
    emulator.faults.pause_execution()
    service = connect()
    job = service.backend().run(bell(), shots=10)
    with pytest.raises(IBMJobInvalidStateError, match="DELETE"):
        service.host.api.job_delete(job.job_id())


@pytest.mark.parametrize(
    ("runtime_url", "stream"),
    [
        ("http://127.0.0.1:8000/api/v1", "ws://127.0.0.1:8000/api/v1/stream/jobs/j1"),
        (
            "https://quantum.cloud.ibm.com/api/v1/",
            "wss://quantum.cloud.ibm.com/api/v1/stream/jobs/j1",
        ),
        # The scheme decides, never a substring of the host.
        ("http://https.example/api/v1", "ws://https.example/api/v1/stream/jobs/j1"),
    ],
)
def test_stream_url_maps_the_scheme_to_websocket(runtime_url: str, stream: str) -> None:
    assert client_for(runtime_url).stream_url("j1") == stream


def test_job_ids_are_quoted_into_one_path_segment(
    connect: Connect, request_log: RequestLog
) -> None:
    api = connect().host.api
    with pytest.raises(IBMJobApiError):
        api.job_get("x/../../backends")
    assert request_log.sent[-1].path == "/api/v1/jobs/x%2F..%2F..%2Fbackends"

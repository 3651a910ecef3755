"""The ``ibm_rest`` transport: headers, retries, 429, timeouts, proxies and error text."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from types import SimpleNamespace

import pytest

from qcourier import IBMJobApiError, Service
from qcourier.config import Options
from qcourier.errors import TransportError
from qcourier.messages import Request
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.ibm_rest import transport as transport_module
from qcourier.plugins.ibm_rest.transport import RestTransport
from tests.circuits import bell
from tests.plugins.conftest import RequestLog
from tests.plugins.scripted_server import Reply, ScriptedServer

Connect = Callable[..., Service]


def transport(**options: object) -> RestTransport:
    plugin = RestTransport()
    plugin.qcourier_configure(SimpleNamespace(options=Options(**options)))  # type: ignore[arg-type]
    return plugin


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_hook_qcourier_send_puts_the_qcourier_headers_on_the_wire() -> None:
    plugin = transport()
    with ScriptedServer([Reply()]) as server:
        plugin.qcourier_send(Request("GET", f"{server.url}/api/v1/backends"))
        plugin.qcourier_send(Request("POST", f"{server.url}/api/v1/jobs", json_body={"a": 1}))
    get, post = server.seen
    assert get.headers["User-Agent"].startswith("qcourier/0.1.0 python-requests/")
    assert get.headers["X-Qx-Client-Application"] == "qcourier/0.1.0"
    assert get.headers["Accept"] == "application/json"
    assert "Content-Type" not in get.headers
    assert post.headers["Content-Type"] == "application/json"
    assert post.body == b'{"a": 1}'
    plugin.qcourier_close()


def test_hook_qcourier_close_ends_the_sessions() -> None:
    plugin = transport()
    plugin.qcourier_close()
    with pytest.raises(TransportError, match="closed"):
        plugin.qcourier_send(Request("GET", "http://127.0.0.1:9/x"))


def test_a_503_burst_on_a_get_is_retried_inside_one_request(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    service = connect(backoff_factor=0.01)
    emulator.faults.fail_next(3, 503, path_prefix="/api/v1/backends")
    assert service.host.api.backends()
    assert emulator.faults.state()["bursts"] == []
    assert request_log.count("GET", suffix="/backends") == 1


def test_a_submit_answered_503_is_never_sent_twice(
    connect: Connect, emulator: EmulatorServer
) -> None:
    backend = connect(backoff_factor=0.01).backend()
    emulator.faults.fail_next(2, 503, path_prefix="/api/v1/jobs", method="POST")
    with pytest.raises(IBMJobApiError, match="503") as caught:
        backend.run(bell(), shots=10)
    assert caught.value.status_code == 503
    # One of the two injected failures is left: the POST went out exactly once.
    assert emulator.faults.state()["bursts"][0]["remaining"] == 1


def test_a_persistent_502_ends_with_its_status_and_message_after_the_retries(
    connect: Connect, emulator: EmulatorServer
) -> None:
    service = connect(max_retries=2, backoff_factor=0.01)
    emulator.faults.fail_next(10, 502, path_prefix="/api/v1/backends")
    with pytest.raises(IBMJobApiError, match="502: Injected fault") as caught:
        service.host.api.backends()
    assert caught.value.status_code == 502
    assert emulator.faults.state()["bursts"][0]["remaining"] == 10 - 3


def test_a_429_with_retry_after_1_waits_at_least_a_second_then_succeeds(
    connect: Connect, emulator: EmulatorServer
) -> None:
    service = connect()
    service.backends()  # token fetched and connection pooled before the clock starts
    emulator.faults.rate_limit_next(1, retry_after=1, path_prefix="/api/v1/backends")
    started = time.monotonic()
    assert service.backends()
    assert time.monotonic() - started >= 1.0


def test_a_429_on_submit_is_reported_at_once_with_its_retry_after(
    connect: Connect, emulator: EmulatorServer
) -> None:
    backend = connect().backend()
    emulator.faults.rate_limit_next(1, retry_after=30, path_prefix="/api/v1/jobs", method="POST")
    started = time.monotonic()
    with pytest.raises(IBMJobApiError, match=r"rate limited.*retry after 30") as caught:
        backend.run(bell(), shots=10)
    assert caught.value.status_code == 429
    assert time.monotonic() - started < 5


def test_retry_after_is_capped_by_the_retry_after_cap_option(
    connect: Connect, emulator: EmulatorServer
) -> None:
    service = connect(retry_after_cap=1)
    service.backends()
    emulator.faults.rate_limit_next(1, retry_after=600, path_prefix="/api/v1/backends")
    started = time.monotonic()
    assert service.backends()
    assert 1.0 <= time.monotonic() - started < 10


def test_a_retry_after_http_date_is_honoured() -> None:
    plugin = transport()
    later = formatdate(time.time() + 2, usegmt=True)
    replies = [Reply(429, (("Retry-After", later),), b"{}"), Reply(200, (), b'{"ok": true}')]
    with ScriptedServer(replies) as server:
        started = time.monotonic()
        response = plugin.qcourier_send(Request("GET", f"{server.url}/api/v1/backends"))
    assert response.status == 200
    # The date has one-second resolution, so at least one second was left of the two.
    assert time.monotonic() - started >= 0.9
    assert len(server.seen) == 2
    plugin.qcourier_close()


def test_an_unreachable_service_names_the_request_and_the_fix_but_no_secret(
    connect: Connect,
) -> None:
    url = closed_port_url()
    service = connect(
        base_url=f"{url}/api/v1",
        token="very-secret-token",
        auth="bearer",
        max_retries=1,
        backoff_factor=0.01,
    )
    with pytest.raises(IBMJobApiError) as caught:
        service.backends()
    message = str(caught.value)
    assert caught.value.status_code is None
    assert f"GET {url}/api/v1/backends failed: could not connect" in message
    assert "base_url" in message
    assert "very-secret-token" not in message


def test_a_slow_answer_times_out_with_the_read_timeout_in_the_message(
    connect: Connect, emulator: EmulatorServer
) -> None:
    service = connect(read_timeout=0.2, max_retries=0)
    service.backends()
    emulator.faults.set_latency(1.0)
    with pytest.raises(IBMJobApiError, match=r"no answer within 0\.2 s \(read_timeout option\)"):
        service.backends()


def test_hook_qcourier_configure_takes_the_proxy_from_the_options() -> None:
    with ScriptedServer([Reply(200, (), b'{"devices": []}')]) as proxy:
        plugin = transport(proxy=proxy.url)
        response = plugin.qcourier_send(Request("GET", "http://quantum.invalid/api/v1/backends"))
        plugin.qcourier_close()
    assert response.json() == {"devices": []}
    assert proxy.seen[0].target == "http://quantum.invalid/api/v1/backends"


def test_environment_is_consulted_per_request_only_when_it_sets_something(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    assert not transport_module._environment_matters()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert transport_module._environment_matters()

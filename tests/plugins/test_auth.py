"""IAM and bearer auth against the emulator's IAM: headers, refresh points, 401s, secrecy."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable

import pytest

from qcourier import IBMAuthError, Service
from qcourier.host import PluginHost
from qcourier.messages import Request
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.ibm_runtime.auth import API_VERSION, IamAuth
from tests.circuits import bell
from tests.conftest import EMULATOR_KEYS
from tests.emulator.wire import fetch_token
from tests.plugins.conftest import ALICE, RequestLog, ibm_options

BuildHost = Callable[..., PluginHost]
Connect = Callable[..., Service]
TOKEN_PATH = "/identity/token"


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def claims(authorization: str) -> dict[str, int]:
    payload = authorization.removeprefix("Bearer ").split(".")[1]
    decoded: dict[str, int] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def test_hook_qcourier_authenticate_adds_bearer_service_crn_and_api_version(
    build_host: BuildHost, emulator: EmulatorServer
) -> None:
    host = build_host()
    headers = host.auth_headers(Request("GET", f"{emulator.runtime_url}/backends"))
    assert headers["Authorization"].startswith("Bearer ")
    assert headers["Service-CRN"] == emulator.instance_for(ALICE)
    assert headers["IBM-API-Version"] == API_VERSION == "2026-04-15"


def test_no_token_fetch_before_the_refresh_point_and_one_once_it_is_reached(
    build_host: BuildHost, request_log: RequestLog
) -> None:

    clock = FakeClock(time.time())
    host = build_host(plugins={"auth:ibm_iam": IamAuth(clock=clock)})
    token = claims(host.auth_headers(Request("GET", "http://x"))["Authorization"])
    # Refresh when less than max(60 s, 20 % of the lifetime) remains.
    refresh_at = token["exp"] - max(60, 0.2 * (token["exp"] - token["iat"]))
    for now in (token["iat"] + 1, refresh_at - 1):
        clock.now = now
        host.api.backends()
    assert request_log.count("POST", TOKEN_PATH) == 1
    clock.now = refresh_at + 1
    host.api.backends()
    host.api.backends()
    assert request_log.count("POST", TOKEN_PATH) == 2


def test_a_failed_early_refresh_keeps_using_the_still_valid_token(
    build_host: BuildHost, emulator: EmulatorServer, request_log: RequestLog
) -> None:

    clock = FakeClock(time.time())
    host = build_host(
        options=ibm_options(emulator, max_retries=0),
        plugins={"auth:ibm_iam": IamAuth(clock=clock)},
    )
    token = claims(host.auth_headers(Request("GET", "http://x"))["Authorization"])
    clock.now = token["exp"] - 61
    emulator.faults.fail_next(1, 503, path_prefix=TOKEN_PATH)
    assert host.api.backends()
    # The refresh is retried later, not on every request.
    host.api.backends()
    assert request_log.count("POST", TOKEN_PATH) == 2


def test_hook_qcourier_auth_refresh_fetches_once_after_a_401_and_replays(
    build_host: BuildHost, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    host = build_host()
    host.api.backends()
    emulator.faults.expire_tokens()
    assert host.api.backends()
    assert request_log.count("POST", TOKEN_PATH) == 2
    assert request_log.count("GET", "/api/v1/backends") == 3


def test_a_second_401_after_the_refresh_raises_with_no_further_request(
    build_host: BuildHost, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    # Bob's instance with Alice's key: every runtime call is refused, tokens or not.
    options = ibm_options(emulator, instance=emulator.instance_for(EMULATOR_KEYS[1]))
    host = build_host(options=options)
    with pytest.raises(IBMAuthError, match="again after a token refresh") as caught:
        host.api.backends()
    assert caught.value.status_code == 401
    assert [(item.method, item.path) for item in request_log.sent] == [
        ("POST", TOKEN_PATH),
        ("GET", "/api/v1/backends"),
        ("POST", TOKEN_PATH),
        ("GET", "/api/v1/backends"),
    ]


def test_a_hundred_concurrent_calls_cause_one_token_fetch(
    build_host: BuildHost, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    host = build_host()
    emulator.faults.set_latency(0.2)  # keep the fetch in flight while the others arrive
    start = threading.Barrier(100)
    tokens: list[str] = []

    def authenticate() -> None:
        start.wait()
        tokens.append(host.auth_headers(Request("GET", "http://x"))["Authorization"])

    threads = [threading.Thread(target=authenticate) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(tokens) == 100
    assert len(set(tokens)) == 1
    assert request_log.count("POST", TOKEN_PATH) == 1


def test_a_rejected_api_key_says_so_and_names_the_option_without_the_key(
    connect: Connect, emulator: EmulatorServer
) -> None:
    service = connect(api_key="not-a-key-of-this-server", instance=emulator.instance_for(ALICE))
    with pytest.raises(IBMAuthError) as caught:
        service.backends()
    message = str(caught.value)
    assert f"the API key was rejected by {emulator.url}: " in message
    assert "check QCOURIER_API_KEY / api_key" in message
    assert "not-a-key-of-this-server" not in message
    assert caught.value.status_code == 400


def test_keys_and_tokens_never_reach_logs_or_reprs(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = connect()
    job = service.backend().run(bell(), shots=10)
    job.result(timeout=60)
    token = service.host.auth_headers(Request("GET", "http://x"))["Authorization"][7:]
    shown = caplog.text + repr(service) + repr(service.host) + repr(service.options)
    assert ALICE not in shown
    assert token not in shown


def test_hook_qcourier_auth_refresh_of_a_static_bearer_token_declines(
    connect: Connect, emulator: EmulatorServer, request_log: RequestLog
) -> None:
    token = fetch_token(emulator, ALICE)["access_token"]
    service = connect(token=token, auth="bearer")
    assert service.host.api.backends()
    emulator.faults.expire_tokens()
    with pytest.raises(IBMAuthError, match="refused the credentials") as caught:
        service.host.api.backends()
    assert caught.value.status_code == 401
    assert request_log.count("POST", TOKEN_PATH) == 0

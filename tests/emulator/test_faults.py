"""Fault injection from Python and over the admin endpoint."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
import websocket

from qcourier.plugins.emulator.server import EmulatorServer
from tests.conftest import EMULATOR_ADMIN_SECRET, EMULATOR_KEYS
from tests.emulator.test_stream import connect, read_to_close, release
from tests.emulator.wire import APIKEY_GRANT, Api


def test_latency_delays_every_request_until_cleared(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.set_latency(0.3)
    started = time.monotonic()
    assert alice.get("/backends").status_code == 200
    assert time.monotonic() - started >= 0.3
    emulator.faults.clear()
    started = time.monotonic()
    alice.get("/backends")
    assert time.monotonic() - started < 0.3


def test_latency_can_spare_paths_outside_a_prefix(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.set_latency(0.3, path_prefix="/api/v1/jobs")
    started = time.monotonic()
    alice.get("/backends")
    assert time.monotonic() - started < 0.3
    started = time.monotonic()
    alice.get("/jobs")
    assert time.monotonic() - started >= 0.3


def test_fail_next_answers_n_5xx_with_ibm_body_then_recovers(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.fail_next(2, 502)
    statuses = [alice.get("/backends").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


def test_fail_next_hits_only_the_matching_path_and_method(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.fail_next(1, 503, path_prefix="/api/v1/jobs", method="POST")
    assert alice.get("/jobs").status_code == 200
    assert alice.get("/backends").status_code == 200
    reply = alice.request("POST", "/jobs", data=b"{}")
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == 503
    assert reply.headers["uber-trace-id"]
    assert alice.request("POST", "/jobs", data=b"{}").status_code == 400


def test_rate_limit_answers_429_with_retry_after(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.rate_limit_next(1, retry_after=2)
    reply = alice.get("/jobs")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "2"
    assert alice.get("/jobs").status_code == 200


def test_rate_limit_without_retry_after_sends_no_header(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.rate_limit_next(1)
    reply = alice.get("/jobs")
    assert reply.status_code == 429
    assert "Retry-After" not in reply.headers


def test_websocket_drop_after_k_frames_closes_without_1000(
    emulator: EmulatorServer, alice: Api
) -> None:
    job_id = alice.submit()
    alice.wait(job_id)
    emulator.faults.drop_websocket_after(1)
    ws = connect(alice, job_id)
    try:
        frames, code = read_to_close(ws)
    finally:
        release(ws)
    assert [frame["type"] for frame in frames] == ["ack"]
    assert code != 1000


def test_refused_websockets_get_http_503(emulator: EmulatorServer, alice: Api) -> None:
    job_id = alice.submit()
    emulator.faults.refuse_websockets()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(alice, job_id)
    assert refused.value.status_code == 503
    emulator.faults.refuse_websockets(False)
    release(connect(alice, job_id))


def test_revoked_key_loses_iam_apikey_and_its_tokens_until_cleared(
    emulator: EmulatorServer, alice: Api
) -> None:
    key = EMULATOR_KEYS[0]
    emulator.faults.revoke_key(key)
    assert alice.get("/jobs").status_code == 401
    iam = requests.post(
        f"{emulator.url}/identity/token",
        data={"grant_type": APIKEY_GRANT, "apikey": key},
        timeout=10,
    )
    assert iam.status_code == 400
    apikey = alice.get("/jobs", headers={"Authorization": f"apikey {key}"})
    assert apikey.status_code == 401
    emulator.faults.clear()
    assert alice.get("/jobs").status_code == 200


def test_other_keys_are_unaffected_by_a_revocation(
    emulator: EmulatorServer, alice: Api, bob: Api
) -> None:
    emulator.faults.revoke_key(EMULATOR_KEYS[0])
    assert bob.get("/jobs").status_code == 200


def admin(server: EmulatorServer, secret: str | None, body: object) -> requests.Response:
    headers = {} if secret is None else {"X-Admin-Secret": secret}
    return requests.post(f"{server.url}/admin/faults", json=body, headers=headers, timeout=10)


def test_admin_endpoint_sets_faults_with_the_secret(emulator: EmulatorServer, alice: Api) -> None:
    reply = admin(emulator, EMULATOR_ADMIN_SECRET, {"fail_next": {"count": 1, "status": 500}})
    assert reply.status_code == 200
    assert reply.json()["bursts"][0]["status"] == 500
    assert alice.get("/jobs").status_code == 500
    assert alice.get("/jobs").status_code == 200


def test_admin_endpoint_applies_every_fault_kind(emulator: EmulatorServer) -> None:
    body = {
        "latency": {"seconds": 0.01, "path_prefix": "/api"},
        "rate_limit_next": {"count": 2, "retry_after": 1},
        "drop_websocket_after": {"frames": 2},
        "refuse_websockets": False,
        "pause_execution": True,
        "slow_execution": 0.1,
        "expire_tokens": True,
    }
    state = admin(emulator, EMULATOR_ADMIN_SECRET, body).json()
    assert state["latency"] == 0.01
    assert state["latency_path_prefix"] == "/api"
    assert state["drop_websocket_after"] == 2
    assert state["execution_paused"] is True
    cleared = admin(emulator, EMULATOR_ADMIN_SECRET, {"clear": True}).json()
    assert cleared["bursts"] == []
    assert cleared["latency"] == 0


@pytest.mark.parametrize(
    ("secret", "body", "status"),
    [
        (None, {"clear": True}, 403),
        ("wrong", {"clear": True}, 403),
        (EMULATOR_ADMIN_SECRET, {"explode": True}, 400),
        (EMULATOR_ADMIN_SECRET, {"fail_next": {"count": 1, "status": 404}}, 400),
        (EMULATOR_ADMIN_SECRET, [1, 2], 400),
    ],
)
def test_admin_endpoint_refuses_bad_callers_and_bad_faults(
    emulator: EmulatorServer, secret: str | None, body: object, status: int
) -> None:
    reply = admin(emulator, secret, body)
    assert reply.status_code == status
    assert reply.json()["error"]["message"]


def test_admin_endpoint_does_not_exist_without_a_secret(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path / "db.sqlite3", api_keys=("k",), workers=1) as server:
        reply = admin(server, "anything", {"clear": True})
    assert reply.status_code == 404


def test_admin_endpoint_is_exempt_from_injected_faults(emulator: EmulatorServer) -> None:
    emulator.faults.fail_next(5, 503)
    assert admin(emulator, EMULATOR_ADMIN_SECRET, {"clear": True}).status_code == 200

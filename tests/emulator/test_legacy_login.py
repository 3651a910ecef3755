"""The retired ``ibm_quantum`` login that prov 0.11 speaks (PROTOCOL.md §2.2, items 7, 8)."""

from __future__ import annotations

import requests

from qcourier.plugins.emulator.server import EmulatorServer
from tests.conftest import EMULATOR_KEYS
from tests.emulator.wire import Api


def login(server: EmulatorServer, api_token: str) -> requests.Response:
    return requests.post(
        f"{server.url}/api/users/loginWithToken", json={"apiToken": api_token}, timeout=10
    )


def test_version_names_api_auth(emulator: EmulatorServer) -> None:
    assert "api-auth" in requests.get(f"{emulator.url}/api/version", timeout=10).json()


def test_login_returns_an_access_token_living_14_days(emulator: EmulatorServer) -> None:
    reply = login(emulator, EMULATOR_KEYS[0])
    assert reply.status_code == 200
    assert reply.json()["id"]
    assert reply.json()["ttl"] == 14 * 24 * 3600
    assert reply.json()["created"].endswith("Z")


def test_login_with_a_bad_token_gets_401(emulator: EmulatorServer) -> None:
    reply = login(emulator, "not-a-key")
    assert reply.status_code == 401
    assert reply.json()["error"]["message"]


def test_users_me_and_network_lead_to_the_runtime_api(emulator: EmulatorServer) -> None:
    headers = {"X-Access-Token": login(emulator, EMULATOR_KEYS[0]).json()["id"]}
    urls = requests.get(f"{emulator.url}/api/users/me", headers=headers, timeout=10).json()["urls"]
    assert urls["http"] == f"{emulator.url}/api"
    assert urls["services"]["runtime"] == emulator.runtime_url
    assert urls["ws"] == emulator.runtime_url.replace("http://", "ws://")
    network = requests.get(f"{urls['http']}/Network", headers=headers, timeout=10).json()
    assert network == [
        {"name": "ibm-q", "groups": {"open": {"projects": {"main": {"isDefault": True}}}}}
    ]


def test_access_token_reaches_the_same_jobs_as_the_iam_token(
    emulator: EmulatorServer, alice: Api
) -> None:
    job_id = alice.submit()
    headers = {"X-Access-Token": login(emulator, EMULATOR_KEYS[0]).json()["id"]}
    reply = requests.get(f"{emulator.runtime_url}/jobs/{job_id}", headers=headers, timeout=10)
    assert reply.status_code == 200
    names = requests.get(
        f"{emulator.runtime_url}/backends/",
        params={"provider": "ibm-q/open/main"},
        headers=headers,
        timeout=10,
    )
    assert names.json()["devices"][0] == "aer_simulator"


def test_access_token_of_another_key_sees_404(emulator: EmulatorServer, alice: Api) -> None:
    job_id = alice.submit()
    headers = {"X-Access-Token": login(emulator, EMULATOR_KEYS[1]).json()["id"]}
    reply = requests.get(f"{emulator.runtime_url}/jobs/{job_id}", headers=headers, timeout=10)
    assert reply.status_code == 404


def test_forged_access_token_gets_401(emulator: EmulatorServer) -> None:
    reply = requests.get(
        f"{emulator.runtime_url}/jobs", headers={"X-Access-Token": "forged"}, timeout=10
    )
    assert reply.status_code == 401

"""IAM tokens, API-key auth and Service-CRN checks (PROTOCOL.md §2.1, §10 items 1, 2, 6)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.emulator.tokens import TokenAuthority, TokenError
from tests.conftest import EMULATOR_KEYS
from tests.emulator.wire import APIKEY_GRANT, Api, fetch_token


def jwt_payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    payload: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return payload


def test_iam_token_is_a_jwt_with_integer_exp_and_iat(emulator: EmulatorServer) -> None:
    reply = fetch_token(emulator, EMULATOR_KEYS[0])
    header = json.loads(base64.urlsafe_b64decode(reply["access_token"].split(".")[0] + "=="))
    payload = jwt_payload(reply["access_token"])
    assert header["typ"] == "JWT"
    assert isinstance(payload["exp"], int)
    assert isinstance(payload["iat"], int)
    assert payload["exp"] - payload["iat"] == 3600


def test_iam_reply_fields_agree_with_the_jwt_expiry(emulator: EmulatorServer) -> None:
    reply = fetch_token(emulator, EMULATOR_KEYS[0])
    payload = jwt_payload(reply["access_token"])
    assert reply["token_type"] == "Bearer"
    assert reply["refresh_token"]
    assert reply["expiration"] == payload["exp"]
    assert reply["expires_in"] == payload["exp"] - payload["iat"]


def test_iam_token_ttl_is_configurable(tmp_path: Any) -> None:
    with EmulatorServer(tmp_path / "db.sqlite3", api_keys=("k",), workers=1, token_ttl=120) as srv:
        payload = jwt_payload(fetch_token(srv, "k")["access_token"])
    assert payload["exp"] - payload["iat"] == 120


@pytest.mark.parametrize(
    ("form", "error_code"),
    [
        ({"grant_type": APIKEY_GRANT, "apikey": "not-a-key"}, "BXNIM0415E"),
        ({"grant_type": APIKEY_GRANT}, "BXNIM0104E"),
        ({"grant_type": "password", "apikey": EMULATOR_KEYS[0]}, "BXNIM0103E"),
    ],
)
def test_iam_rejects_bad_requests_with_400_and_iam_error_body(
    emulator: EmulatorServer, form: dict[str, str], error_code: str
) -> None:
    reply = requests.post(f"{emulator.url}/identity/token", data=form, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["errorCode"] == error_code
    assert reply.json()["errorMessage"]


def test_apikey_authorization_is_accepted(emulator: EmulatorServer) -> None:
    key = EMULATOR_KEYS[0]
    reply = requests.get(
        f"{emulator.runtime_url}/backends",
        headers={"Authorization": f"apikey {key}", "Service-CRN": emulator.instance_for(key)},
        timeout=10,
    )
    assert reply.status_code == 200


def test_expired_token_gets_401_with_json_error(emulator: EmulatorServer, alice: Api) -> None:
    assert alice.get("/backends").status_code == 200
    emulator.faults.expire_tokens()
    reply = alice.get("/backends")
    assert reply.status_code == 401
    assert "xpired" in reply.json()["error"]["message"]
    with Api(emulator, EMULATOR_KEYS[0]) as fresh:
        assert fresh.get("/backends").status_code == 200


def test_token_past_its_exp_is_refused() -> None:
    authority = TokenAuthority(["k"], b"secret", token_ttl=60)
    token, _, _ = authority.mint("k", now=time.time() - 61)
    with pytest.raises(TokenError, match="Expired"):
        authority.principal_for_token(token)


def test_token_signed_by_another_server_is_refused(emulator: EmulatorServer) -> None:
    forger = TokenAuthority(list(EMULATOR_KEYS), b"another secret", token_ttl=60)
    token, _, _ = forger.mint(EMULATOR_KEYS[0])
    reply = requests.get(
        f"{emulator.runtime_url}/backends",
        headers={
            "Authorization": f"Bearer {token}",
            "Service-CRN": emulator.instance_for(EMULATOR_KEYS[0]),
        },
        timeout=10,
    )
    assert reply.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "apikey wrong-key"},
    ],
    ids=["none", "empty-bearer", "basic", "garbage-bearer", "wrong-apikey"],
)
def test_bad_credentials_get_401_with_ibm_error_body(
    emulator: EmulatorServer, headers: dict[str, str]
) -> None:
    headers = {"Service-CRN": emulator.instance_for(EMULATOR_KEYS[0]), **headers}
    reply = requests.get(f"{emulator.runtime_url}/jobs", headers=headers, timeout=10)
    assert reply.status_code == 401
    assert reply.json()["error"]["message"]
    assert reply.headers["uber-trace-id"]


def test_missing_service_crn_gets_401(alice: Api) -> None:
    reply = alice.session.get(
        f"{alice.base}/backends",
        headers={"Authorization": alice.headers["Authorization"]},
        timeout=10,
    )
    assert reply.status_code == 401
    assert "Service-CRN" in reply.json()["error"]["message"]


def test_service_crn_of_another_key_gets_401(emulator: EmulatorServer, alice: Api) -> None:
    reply = alice.get("/backends", headers={"Service-CRN": emulator.instance_for(EMULATOR_KEYS[1])})
    assert reply.status_code == 401


def test_each_key_owns_a_distinct_instance_crn(emulator: EmulatorServer) -> None:
    first, second = (emulator.instance_for(key) for key in EMULATOR_KEYS)
    assert first != second
    assert first.startswith("crn:v1:bluemix:public:quantum-computing:")


def test_generated_key_persists_across_restarts_on_one_database(tmp_path: Any) -> None:
    db = tmp_path / "db.sqlite3"
    with EmulatorServer(db, workers=1) as first:
        (key,) = first.api_keys
        instance = first.instance_for(key)
    with EmulatorServer(db, workers=1) as second:
        assert second.api_keys == [key]
        assert second.instance_for(key) == instance
        with Api(second, key) as api:
            assert api.get("/backends").status_code == 200


def test_tokens_from_one_process_work_on_another_sharing_the_database(tmp_path: Any) -> None:
    db = tmp_path / "db.sqlite3"
    with (
        EmulatorServer(db, api_keys=("k",), workers=1) as first,
        EmulatorServer(db, api_keys=("k",), workers=1) as second,
    ):
        token = fetch_token(first, "k")["access_token"]
        reply = requests.get(
            f"{second.runtime_url}/backends",
            headers={"Authorization": f"Bearer {token}", "Service-CRN": second.instance_for("k")},
            timeout=10,
        )
    assert reply.status_code == 200

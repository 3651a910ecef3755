"""Bad input gets a 4xx with a message, never a 500, and the server keeps serving."""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.emulator.store import Store
from qcourier.plugins.ibm_runtime import tagged_json
from tests.conftest import EMULATOR_KEYS
from tests.emulator.wire import BELL_QASM, Api

KEY = "malformed-key"
BELL = {"circuits": [BELL_QASM], "shots": 10}


def tag(obj: Any) -> Any:
    return json.loads(tagged_json.encode(obj))


def parametrized() -> Any:
    circuit = QuantumCircuit(1)
    circuit.rx(Parameter("theta"), 0)
    circuit.measure_all()
    return tag(circuit)


def pickled_object_array() -> dict[str, str]:
    buffer = io.BytesIO()
    np.save(buffer, np.array([1, "x"], dtype=object), allow_pickle=True)
    return {
        "__type__": "ndarray",
        "__value__": base64.b64encode(zlib.compress(buffer.getvalue())).decode(),
    }


def job(**fields: Any) -> bytes:
    body = {"program_id": "circuit-runner", "backend": "aer_simulator", "params": BELL, **fields}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def runner(**params: Any) -> bytes:
    return job(params={**BELL, **params})


def sampler(params: dict[str, Any]) -> bytes:
    return job(program_id="sampler", params=params)


def chunks(size: int) -> Iterator[bytes]:
    block = b" " * 65536
    for _ in range(size // len(block) + 1):
        yield block


OVER_LIMIT = 16 * 1024 * 1024 + 1

# (id, method, path, request kwargs, expected status). Paths starting with "/api" or
# "/identity" are from the server root, others from the runtime base.
CASES: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("not-json", "POST", "/jobs", {"data": b"{"}, 400),
    ("empty-body", "POST", "/jobs", {"data": b""}, 400),
    ("array-body", "POST", "/jobs", {"data": b"[]"}, 400),
    ("string-body", "POST", "/jobs", {"data": b'"job"'}, 400),
    ("not-utf8", "POST", "/jobs", {"data": b"\xff\xfe{}"}, 400),
    ("no-program", "POST", "/jobs", {"data": job(program_id=...)}, 400),
    ("program-not-string", "POST", "/jobs", {"data": job(program_id=7)}, 400),
    ("unknown-program", "POST", "/jobs", {"data": job(program_id="estimator-9000")}, 404),
    ("no-backend", "POST", "/jobs", {"data": job(backend=...)}, 400),
    ("unknown-backend", "POST", "/jobs", {"data": job(backend="ibm_nowhere")}, 404),
    ("no-params", "POST", "/jobs", {"data": job(params=...)}, 400),
    ("params-list", "POST", "/jobs", {"data": job(params=[1])}, 400),
    ("no-circuits", "POST", "/jobs", {"data": job(params={"shots": 5})}, 400),
    ("empty-circuits", "POST", "/jobs", {"data": runner(circuits=[])}, 400),
    ("circuits-string", "POST", "/jobs", {"data": runner(circuits=BELL_QASM)}, 400),
    ("circuit-number", "POST", "/jobs", {"data": runner(circuits=[42])}, 400),
    (
        "bad-qasm2",
        "POST",
        "/jobs",
        {"data": runner(circuits=["OPENQASM 2.0; qreg q[2]; hh q;"])},
        400,
    ),
    (
        "bad-qasm3",
        "POST",
        "/jobs",
        {"data": runner(circuits=["OPENQASM 3.0; qubit q; nope q;"])},
        400,
    ),
    (
        "qpy-bad-base64",
        "POST",
        "/jobs",
        {"data": runner(circuits=[{"__type__": "QuantumCircuit", "__value__": "!!!"}])},
        400,
    ),
    (
        "qpy-not-zlib",
        "POST",
        "/jobs",
        {"data": runner(circuits=[{"__type__": "QuantumCircuit", "__value__": "aGVsbG8="}])},
        400,
    ),
    (
        "qpy-not-qpy",
        "POST",
        "/jobs",
        {
            "data": runner(
                circuits=[
                    {
                        "__type__": "QuantumCircuit",
                        "__value__": base64.b64encode(zlib.compress(b"hello")).decode(),
                    }
                ]
            )
        },
        400,
    ),
    ("shots-negative", "POST", "/jobs", {"data": runner(shots=-3)}, 400),
    ("shots-string", "POST", "/jobs", {"data": runner(shots="many")}, 400),
    ("shots-bool", "POST", "/jobs", {"data": runner(shots=True)}, 400),
    ("shots-over-max", "POST", "/jobs", {"data": runner(shots=10**9)}, 400),
    ("too-many-circuits", "POST", "/jobs", {"data": runner(circuits=[BELL_QASM] * 301)}, 400),
    ("memory-not-bool", "POST", "/jobs", {"data": runner(memory="yes")}, 400),
    ("seed-negative", "POST", "/jobs", {"data": runner(seed_simulator=-1)}, 400),
    ("tags-string", "POST", "/jobs", {"data": job(tags="a")}, 400),
    ("tags-with-number", "POST", "/jobs", {"data": job(tags=["a", 1])}, 400),
    ("cost-negative", "POST", "/jobs", {"data": job(cost=-1)}, 400),
    ("cost-string", "POST", "/jobs", {"data": job(cost="1h")}, 400),
    ("session-id-number", "POST", "/jobs", {"data": job(session_id=5)}, 400),
    ("sampler-no-pubs", "POST", "/jobs", {"data": sampler({"version": 2})}, 400),
    (
        "sampler-version-1",
        "POST",
        "/jobs",
        {"data": sampler({"pubs": [BELL_QASM], "version": 1})},
        400,
    ),
    (
        "sampler-pub-too-long",
        "POST",
        "/jobs",
        {"data": sampler({"pubs": [[BELL_QASM, None, 5, 6]]})},
        400,
    ),
    (
        "sampler-wrong-values-shape",
        "POST",
        "/jobs",
        {"data": sampler({"pubs": [[parametrized(), [[1.0, 2.0]], 5]]})},
        400,
    ),
    (
        "sampler-no-measurement",
        "POST",
        "/jobs",
        {"data": sampler({"pubs": ["OPENQASM 2.0; qreg q[1];"]})},
        400,
    ),
    (
        "sampler-pickled-values",
        "POST",
        "/jobs",
        {"data": sampler({"pubs": [[parametrized(), pickled_object_array(), 5]]})},
        400,
    ),
    ("body-over-limit", "POST", "/jobs", {"data": b" " * OVER_LIMIT}, 413),
    ("streamed-body-over-limit", "POST", "/jobs", {"data": chunks(OVER_LIMIT)}, 413),
    ("tags-put-string", "PUT", "/jobs/{job}/tags", {"data": b'{"tags": "a"}'}, 400),
    ("tags-put-numbers", "PUT", "/jobs/{job}/tags", {"data": b'{"tags": [1, 2]}'}, 400),
    ("tags-put-list-body", "PUT", "/jobs/{job}/tags", {"data": b'["a"]'}, 400),
    ("tags-put-not-json", "PUT", "/jobs/{job}/tags", {"data": b"tags=a"}, 400),
    ("limit-not-int", "GET", "/jobs", {"params": {"limit": "ten"}}, 400),
    ("limit-negative", "GET", "/jobs", {"params": {"limit": -1}}, 400),
    ("limit-huge", "GET", "/jobs", {"params": {"limit": 10**6}}, 400),
    ("offset-negative", "GET", "/jobs", {"params": {"offset": -5}}, 400),
    ("pending-not-bool", "GET", "/jobs", {"params": {"pending": "maybe"}}, 400),
    ("sort-unknown", "GET", "/jobs", {"params": {"sort": "SIDEWAYS"}}, 400),
    ("created-after-not-iso", "GET", "/jobs", {"params": {"created_after": "yesterday"}}, 400),
    (
        "exclude-params-not-bool",
        "GET",
        "/jobs/{job}",
        {"params": {"exclude_params": "perhaps"}},
        400,
    ),
    ("bad-job-id", "GET", "/jobs/NOT-AN-ID", {}, 404),
    ("too-long-job-id", "GET", "/jobs/" + "a" * 300, {}, 404),
    ("cancel-bad-id", "POST", "/jobs/..%2F/cancel", {}, 404),
    ("missing-auth", "GET", "/jobs", {"headers": {"Authorization": ""}}, 401),
    ("unknown-route", "GET", "/api/v1/quantum-teleporter", {}, 404),
    ("interim-results-gone", "GET", "/jobs/{job}/interim_results", {}, 404),
    ("wrong-method", "DELETE", "/backends", {}, 405),
    ("iam-garbage", "POST", "/identity/token", {"data": b"\xff\x00"}, 400),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    # One server for the whole table: the point is that it survives every case.
    db: Path = tmp_path_factory.mktemp("malformed") / "emulator.sqlite3"
    with EmulatorServer(db, api_keys=(KEY,), workers=1, seed=1) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: EmulatorServer) -> Iterator[Api]:
    with Api(server, KEY) as client:
        yield client


@pytest.fixture(scope="module")
def job_id(api: Api) -> str:
    return api.submit()


def test_the_table_holds_at_least_30_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_request_gets_a_4xx_with_a_message(
    server: EmulatorServer,
    api: Api,
    job_id: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    expected: int,
) -> None:
    path = path.format(job=job_id)
    root = path.startswith(("/api/", "/identity/"))
    url = f"{server.url}{path}" if root else f"{api.base}{path}"
    headers = {**api.headers, **kwargs.pop("headers", {})}
    reply = requests.request(method, url, headers=headers, timeout=30, **kwargs)
    assert reply.status_code == expected, reply.text
    body = reply.json()
    message = body.get("errorMessage") or body["error"]["message"]
    assert len(message) > 5
    assert api.get("/backends").status_code == 200


def test_a_normal_job_runs_after_every_malformed_request(api: Api) -> None:
    job_id = api.submit(shots=25)
    assert api.wait(job_id)["status"] == "Completed"
    counts = json.loads(api.get(f"/jobs/{job_id}/results").text)["results"][0]["data"]["counts"]
    assert sum(counts.values()) == 25


def test_an_emulator_bug_answers_500_with_the_ibm_error_body(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Store, instance: str) -> float:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Store, "usage_seconds", broken)
    with Api(emulator, EMULATOR_KEYS[0]) as api:
        reply = api.get("/instances/usage")
        assert reply.status_code == 500
        assert "simulated bug" in reply.json()["error"]["message"]
        assert reply.json()["errors"][0]["code"] == "internal_server_error"
        assert reply.headers["uber-trace-id"]
        assert api.get("/backends").status_code == 200

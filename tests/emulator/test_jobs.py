"""Job submission, documents, results, cancel, delete, tags and metrics (PROTOCOL.md §3-§8)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from qiskit import QuantumCircuit

from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.ibm_runtime import tagged_json
from tests.circuits import bell
from tests.emulator.wire import BELL_QASM, FINAL, Api, eventually

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
JOB_ID = re.compile(r"^[a-z][a-z0-9]{19}$")


def qpy_tag(circuit: QuantumCircuit) -> object:
    return json.loads(tagged_json.encode(circuit))


def test_submit_without_content_type_is_accepted_and_names_id_and_backend(alice: Api) -> None:
    body = {
        "program_id": "circuit-runner",
        "backend": "aer_simulator",
        "params": {"circuits": [BELL_QASM], "shots": 10},
    }
    reply = alice.session.post(
        f"{alice.base}/jobs", data=json.dumps(body).encode(), headers=alice.headers, timeout=10
    )
    assert "Content-Type" not in reply.request.headers
    assert reply.status_code == 200
    assert JOB_ID.match(reply.json()["id"])
    assert reply.json()["backend"] == "aer_simulator"


def test_job_document_has_the_fields_both_clients_read(alice: Api) -> None:
    job_id = alice.submit(tags=["exp-1"])
    doc = alice.get(f"/jobs/{job_id}").json()
    assert doc["id"] == job_id
    assert doc["backend"] == "aer_simulator"
    assert doc["program"] == {"id": "circuit-runner"}
    assert doc["status"] in ("Queued", "Running", "Completed")
    assert set(doc["state"]) >= {"status", "reason", "reason_code"}
    assert ISO_Z.match(doc["created"])
    assert doc["tags"] == ["exp-1"]
    assert (doc["hub"], doc["group"], doc["project"]) == ("ibm-q", "open", "main")
    assert {"session_id", "runtime", "private", "estimated_running_time_seconds"} <= set(doc)
    assert doc["params"]["circuits"] == [BELL_QASM]


def test_exclude_params_drops_params(alice: Api) -> None:
    job_id = alice.submit()
    assert "params" not in alice.get(f"/jobs/{job_id}", params={"exclude_params": "true"}).json()
    assert "params" in alice.get(f"/jobs/{job_id}", params={"exclude_params": "false"}).json()


def test_job_goes_queued_running_completed_with_both_status_fields_equal(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    job_id = alice.submit()
    seen = [alice.job(job_id)]
    emulator.faults.slow_execution(0.3)
    emulator.faults.pause_execution(False)

    def observe() -> bool | None:
        doc = alice.job(job_id)
        if doc["status"] != seen[-1]["status"]:
            seen.append(doc)
        return True if doc["status"] in FINAL else None

    eventually(observe, what="the job to finish")
    assert [doc["status"] for doc in seen] == ["Queued", "Running", "Completed"]
    assert all(doc["state"]["status"] == doc["status"] for doc in seen)


def test_circuit_runner_result_is_a_plain_result_dict(alice: Api) -> None:
    job_id = alice.submit([qpy_tag(bell())], shots=50)
    assert alice.wait(job_id)["status"] == "Completed"
    result = json.loads(alice.get(f"/jobs/{job_id}/results").text)
    assert "url" not in result
    assert "__type__" not in result
    assert ISO_Z.match(result["date"])
    (experiment,) = result["results"]
    assert experiment["shots"] == 50
    assert set(experiment["data"]["counts"]) <= {"0x0", "0x3"}
    assert sum(experiment["data"]["counts"].values()) == 50
    assert experiment["header"]["creg_sizes"] == [["meas", 2]]
    assert experiment["header"]["memory_slots"] == 2
    assert experiment["header"]["name"] == "bell"


def test_circuit_runner_defaults_to_4000_shots_and_honours_memory(alice: Api) -> None:
    job_id = alice.submit(params={"circuits": [BELL_QASM], "memory": True})
    alice.wait(job_id)
    (experiment,) = json.loads(alice.get(f"/jobs/{job_id}/results").text)["results"]
    assert experiment["shots"] == 4000
    assert len(experiment["data"]["memory"]) == 4000


def test_openqasm3_text_runs(alice: Api) -> None:
    qasm3 = (
        'OPENQASM 3.0; include "stdgates.inc"; qubit[1] q; bit[1] c; x q[0]; c[0] = measure q[0];'
    )
    job_id = alice.submit([qasm3], shots=10)
    assert alice.wait(job_id)["status"] == "Completed"
    counts = json.loads(alice.get(f"/jobs/{job_id}/results").text)["results"][0]["data"]["counts"]
    assert counts == {"0x1": 10}


def test_seed_simulator_makes_runs_repeatable(alice: Api) -> None:
    params = {"circuits": [BELL_QASM], "shots": 200, "seed_simulator": 7}
    first, second = (alice.submit(params=params) for _ in range(2))
    counts = [
        json.loads(alice.get(f"/jobs/{alice.wait(j)['id']}/results").text)["results"][0]["data"]
        for j in (first, second)
    ]
    assert counts[0] == counts[1]


def test_sampler_result_is_a_tagged_primitive_result(alice: Api) -> None:
    params = {"pubs": [[qpy_tag(bell()), None, 30]], "version": 2, "support_qiskit": True}
    job_id = alice.submit(program="sampler", backend="fake_t5", params=params)
    assert alice.wait(job_id)["status"] == "Completed"
    text = alice.get(f"/jobs/{job_id}/results").text
    raw = json.loads(text)
    assert raw["__type__"] == "PrimitiveResult"
    data_bin = raw["__value__"]["pub_results"][0]["__value__"]["data"]["__value__"]
    assert data_bin["field_names"] == ["meas"]
    result = tagged_json.decode(text)
    bits = result[0].data.meas
    assert bits.num_bits == 2
    assert bits.num_shots == 30
    assert bits.array.shape == (30, 1)


def test_sampler_binds_parameter_values_over_their_shape(alice: Api) -> None:
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    circuit.measure_all()
    values = np.array([[0.0], [np.pi]])
    params = {"pubs": [[qpy_tag(circuit), json.loads(tagged_json.encode(values)), 20]]}
    job_id = alice.submit(program="sampler", params=params)
    assert alice.wait(job_id)["status"] == "Completed"
    bits = tagged_json.decode(alice.get(f"/jobs/{job_id}/results").text)[0].data.meas
    assert bits.shape == (2,)
    assert bits[0].get_counts() == {"0": 20}
    assert bits[1].get_counts() == {"1": 20}


def test_noisy_backends_run_circuits_mapped_to_their_coupling_map(alice: Api) -> None:
    jobs = [alice.submit(backend=name, shots=100) for name in ("fake_t5", "fake_falcon27")]
    for job_id in jobs:
        assert alice.wait(job_id)["status"] == "Completed"
        counts = json.loads(alice.get(f"/jobs/{job_id}/results").text)["results"][0]["data"]
        assert sum(counts["counts"].values()) == 100


def test_circuit_too_wide_for_the_backend_fails_with_reason(alice: Api) -> None:
    wide = QuantumCircuit(6, name="wide")
    wide.measure_all()
    job_id = alice.submit([qpy_tag(wide)], backend="fake_t5")
    doc = alice.wait(job_id)
    assert doc["status"] == "Failed"
    assert doc["state"]["status"] == "Failed"
    assert "6 qubits" in doc["state"]["reason"]
    assert isinstance(doc["state"]["reason_code"], int)
    assert alice.wait(alice.submit())["status"] == "Completed"


def test_results_of_a_failed_job_answer_200_with_the_reason(alice: Api) -> None:
    wide = QuantumCircuit(40, name="wide")
    wide.measure_all()
    job_id = alice.submit([qpy_tag(wide)])
    doc = alice.wait(job_id)
    reply = alice.get(f"/jobs/{job_id}/results")
    assert reply.status_code == 200
    assert doc["state"]["reason"] in reply.text


def test_results_answer_409_while_the_job_is_not_final(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    job_id = alice.submit()
    reply = alice.get(f"/jobs/{job_id}/results")
    assert reply.status_code == 409
    assert reply.json()["error"]["message"]


def test_cancel_of_a_queued_job_removes_it_from_the_queue(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    first, second = alice.submit(), alice.submit()
    assert alice.get(f"/jobs/{second}/metrics").json()["position_in_queue"] == 2
    reply = alice.request("POST", f"/jobs/{first}/cancel")
    assert reply.status_code == 204
    assert alice.job(first)["status"] == "Cancelled"
    assert alice.job(first)["state"]["reason"] is None
    assert alice.get(f"/jobs/{second}/metrics").json()["position_in_queue"] == 1
    emulator.faults.pause_execution(False)
    assert alice.wait(second)["status"] == "Completed"
    assert alice.job(first)["status"] == "Cancelled"


def test_cancel_of_a_running_job_takes_effect_between_circuits(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.slow_execution(0.5)
    job_id = alice.submit([BELL_QASM] * 3)
    eventually(lambda: alice.job(job_id)["status"] == "Running" or None, what="Running")
    assert alice.request("POST", f"/jobs/{job_id}/cancel").status_code == 204
    doc = alice.wait(job_id)
    assert doc["status"] == "Cancelled"
    assert doc["state"]["reason_code"] is None


def test_cancel_of_a_final_job_answers_409(alice: Api) -> None:
    job_id = alice.submit()
    alice.wait(job_id)
    reply = alice.request("POST", f"/jobs/{job_id}/cancel")
    assert reply.status_code == 409
    assert reply.json()["error"]["message"]


def test_max_execution_time_cancels_with_1305_and_a_reason(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.slow_execution(0.4)
    job_id = alice.submit([BELL_QASM] * 3, cost=0.5)
    doc = alice.wait(job_id)
    assert doc["status"] == "Cancelled"
    assert doc["state"]["reason_code"] == 1305
    assert "maximum execution time" in doc["state"]["reason"]
    assert alice.get(f"/jobs/{job_id}/results").status_code == 200


def test_tags_put_answers_exactly_204_and_get_shows_them(alice: Api) -> None:
    job_id = alice.submit(tags=["old"])
    reply = alice.request("PUT", f"/jobs/{job_id}/tags", data=json.dumps({"tags": ["b", "a", "a"]}))
    assert reply.status_code == 204
    assert reply.content == b""
    assert sorted(alice.job(job_id)["tags"]) == ["a", "b"]


def test_delete_answers_204_for_final_409_for_pending_404_after(
    emulator: EmulatorServer, alice: Api
) -> None:
    done = alice.submit()
    alice.wait(done)
    emulator.faults.pause_execution()
    pending = alice.submit()
    assert alice.request("DELETE", f"/jobs/{pending}").status_code == 409
    assert alice.request("DELETE", f"/jobs/{done}").status_code == 204
    assert alice.get(f"/jobs/{done}").status_code == 404


def test_unknown_job_answers_404_with_code_3250(alice: Api) -> None:
    for path in ("", "/results", "/metrics", "/logs"):
        reply = alice.get(f"/jobs/abcdefghij0123456789{path}")
        assert reply.status_code == 404
        assert reply.json()["error"]["code"] == 3250
        assert reply.headers["uber-trace-id"]


def test_another_keys_job_answers_404_everywhere(alice: Api, bob: Api) -> None:
    job_id = alice.submit()
    alice.wait(job_id)
    for method, path in [
        ("GET", f"/jobs/{job_id}"),
        ("GET", f"/jobs/{job_id}/results"),
        ("GET", f"/jobs/{job_id}/metrics"),
        ("GET", f"/jobs/{job_id}/logs"),
        ("POST", f"/jobs/{job_id}/cancel"),
        ("DELETE", f"/jobs/{job_id}"),
        ("GET", f"/facade/v1/jobs/{job_id}/type"),
    ]:
        reply = bob.request(method, path)
        assert reply.status_code == 404, (method, path)
        assert reply.json()["error"]["code"] == 3250
    tags = bob.request("PUT", f"/jobs/{job_id}/tags", data=json.dumps({"tags": ["x"]}))
    assert tags.status_code == 404
    assert bob.get("/jobs").json()["count"] == 0
    assert alice.job(job_id)["tags"] == []


def test_facade_type_is_runtime(alice: Api) -> None:
    job_id = alice.submit()
    assert alice.get(f"/facade/v1/jobs/{job_id}/type").json() == {"type": "RUNTIME"}


def test_metrics_document_shape_and_z_timestamps(alice: Api) -> None:
    job_id = alice.submit([BELL_QASM, BELL_QASM], shots=10)
    alice.wait(job_id)
    metrics = alice.get(f"/jobs/{job_id}/metrics").json()
    stamps = metrics["timestamps"]
    assert all(ISO_Z.match(stamps[key]) for key in ("created", "running", "finished"))
    assert stamps["created"] <= stamps["running"] <= stamps["finished"]
    assert metrics["usage"]["status"] == "completed"
    assert metrics["usage"]["quantum_seconds"] >= 0
    assert metrics["num_circuits"] == 2
    assert metrics["num_qubits"] == [2, 2]
    assert len(metrics["circuit_depths"]) == 2
    assert metrics["executions"] == 20
    assert metrics["qiskit_version"]
    assert metrics["position_in_queue"] is None


def test_metrics_of_a_queued_job_are_pending_with_null_timestamps(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    job_id = alice.submit()
    metrics = alice.get(f"/jobs/{job_id}/metrics").json()
    assert metrics["usage"]["status"] == "pending"
    assert metrics["usage"]["quantum_seconds"] == 0
    assert metrics["timestamps"]["running"] is None
    assert metrics["timestamps"]["finished"] is None
    assert metrics["position_in_queue"] == 1
    assert metrics["position_in_provider"] == 1


def test_logs_list_each_state_change(alice: Api) -> None:
    job_id = alice.submit()
    alice.wait(job_id)
    logs = alice.get(f"/jobs/{job_id}/logs").text
    assert [line.split()[1] for line in logs.splitlines()] == [
        "Queued:",
        "Running:",
        "Completed:",
    ]


def test_instance_usage_document(emulator: EmulatorServer, alice: Api) -> None:
    usage = alice.get("/instances/usage").json()
    assert usage["instance_id"] == alice.headers["Service-CRN"]
    assert usage["usage_limit_reached"] is False
    assert {"usage_consumed_seconds", "usage_remaining_seconds", "usage_period"} <= set(usage)
    assert "usage_limit_seconds" in usage or "usage_allocation_seconds" in usage


@pytest.mark.parametrize("prefix", ["/api/v1", "/experimental/api/v1"])
def test_runtime_api_is_served_under_both_base_paths(
    emulator: EmulatorServer, alice: Api, prefix: str
) -> None:
    reply = alice.session.get(f"{emulator.url}{prefix}/jobs", headers=alice.headers, timeout=10)
    assert reply.status_code == 200
    assert reply.json()["count"] == 0

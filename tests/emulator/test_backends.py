"""Backend list, configuration, properties, status and defaults (PROTOCOL.md §3.4)."""

from __future__ import annotations

import time

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.transpiler import CouplingMap, InstructionProperties, QubitProperties, Target

from qcourier.plugins.emulator.server import EmulatorServer
from tests.emulator.wire import Api

BACKENDS = ("aer_simulator", "fake_t5", "fake_falcon27")
CONFIGURATION_KEYS = {
    "backend_name",
    "backend_version",
    "n_qubits",
    "basis_gates",
    "gates",
    "local",
    "simulator",
    "conditional",
    "open_pulse",
    "memory",
    "max_shots",
    "max_experiments",
    "coupling_map",
    "online_date",
}


def test_backend_list_holds_objects_with_name_and_status_name(alice: Api) -> None:
    started = time.monotonic()
    devices = alice.get("/backends", params={"include_mocks": "True"}).json()["devices"]
    assert time.monotonic() - started < 2.0
    assert [device["name"] for device in devices] == list(BACKENDS)
    for device in devices:
        assert device["status"]["name"] == "online"
        assert isinstance(device["qubits"], int)
        assert device["queue_length"] == 0


@pytest.mark.parametrize(
    ("path", "params"), [("/backends/", {}), ("/backends", {"provider": "ibm-q/open/main"})]
)
def test_prov_style_listing_returns_names(alice: Api, path: str, params: dict[str, str]) -> None:
    assert alice.get(path, params=params).json() == {"devices": list(BACKENDS)}


@pytest.mark.parametrize("name", BACKENDS)
def test_configuration_has_every_key_clients_need(alice: Api, name: str) -> None:
    config = alice.get(f"/backends/{name}/configuration").json()
    assert set(config) >= CONFIGURATION_KEYS
    assert config["backend_name"] == name
    assert config["online_date"].endswith("Z")
    assert config["open_pulse"] is False


def test_ideal_simulator_is_32_qubits_all_to_all(alice: Api) -> None:
    config = alice.get("/backends/aer_simulator/configuration").json()
    assert config["n_qubits"] == 32
    assert config["simulator"] is True
    assert config["coupling_map"] is None
    assert alice.get("/backends/aer_simulator/properties").json() == {}
    target = Target.from_configuration(
        basis_gates=config["supported_instructions"], num_qubits=config["n_qubits"]
    )
    assert {"cx", "h", "measure"} <= set(target.operation_names)


@pytest.mark.parametrize(
    ("name", "qubits", "edges"), [("fake_t5", 5, 4), ("fake_falcon27", 27, 28)]
)
def test_noisy_device_documents_build_a_qiskit_target(
    alice: Api, name: str, qubits: int, edges: int
) -> None:
    config = alice.get(f"/backends/{name}/configuration").json()
    props = alice.get(f"/backends/{name}/properties").json()
    assert config["n_qubits"] == qubits
    assert len(config["coupling_map"]) == 2 * edges
    assert props["last_update_date"].endswith("Z")
    assert len(props["qubits"]) == qubits
    qubit_props = []
    for entries in props["qubits"]:
        values = {entry["name"]: entry["value"] for entry in entries}
        assert 0 <= values["readout_error"] < 1
        qubit_props.append(QubitProperties(t1=values["T1"] * 1e-6, t2=values["T2"] * 1e-6))
    target = Target.from_configuration(
        basis_gates=config["supported_instructions"],
        num_qubits=config["n_qubits"],
        coupling_map=CouplingMap(config["coupling_map"]),
    )
    target.qubit_properties = qubit_props
    for gate in props["gates"]:
        if gate["gate"] in target.operation_names:
            values = {p["name"]: p["value"] for p in gate["parameters"]}
            target.update_instruction_properties(
                gate["gate"],
                tuple(gate["qubits"]),
                InstructionProperties(
                    error=values["gate_error"], duration=values["gate_length"] * 1e-9
                ),
            )
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 2)
    circuit.measure_all()
    isa = transpile(circuit, target=target, seed_transpiler=1)
    assert set(isa.count_ops()) <= set(config["basis_gates"]) | {"measure", "barrier"}


def test_status_document(alice: Api) -> None:
    status = alice.get("/backends/fake_t5/status").json()
    assert status["state"] is True
    assert status["status"] == "active"
    assert status["length_queue"] == 0
    assert status["backend_version"]


def test_defaults_answer_empty_object(alice: Api) -> None:
    assert alice.get("/backends/fake_t5/defaults").json() == {}


def test_queue_length_counts_waiting_jobs(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.pause_execution()
    alice.submit(backend="fake_t5")
    alice.submit(backend="fake_t5")
    assert alice.get("/backends/fake_t5/status").json()["length_queue"] == 2
    devices = {d["name"]: d for d in alice.get("/backends").json()["devices"]}
    assert devices["fake_t5"]["queue_length"] == 2
    assert devices["aer_simulator"]["queue_length"] == 0


@pytest.mark.parametrize("document", ["configuration", "properties", "status", "defaults"])
def test_unknown_backend_answers_404(alice: Api, document: str) -> None:
    reply = alice.get(f"/backends/ibm_nowhere/{document}")
    assert reply.status_code == 404
    assert "ibm_nowhere" in reply.json()["error"]["message"]

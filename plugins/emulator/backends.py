"""The emulated backends: their IBM documents (PROTOCOL.md §3.4) and their simulators.

``aer_simulator`` is ideal (32 qubits, all-to-all). ``fake_t5`` and ``fake_falcon27`` are noisy
devices made by qiskit's ``GenericBackendV2`` with fixed seeds on real IBM coupling maps (the
5-qubit T of ibmq_belem, the 27-qubit heavy-hex Falcon of ibmq_montreal), so every process
serves the same calibration. Documents are built on first use and cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, QuantumError, ReadoutError, depolarizing_error

__all__ = ["MAX_CIRCUITS", "MAX_SHOTS", "Backend", "BackendCatalog", "BackendError"]

#: Largest ``shots`` a job may ask for (also each configuration's ``max_shots``).
MAX_SHOTS = 100_000
#: Most circuits (or pubs) one job may carry (also each configuration's ``max_experiments``).
MAX_CIRCUITS = 300

_VERSION = "1.0.0"
# Fixed dates: the fake calibrations never change, and clients only need the fields present.
_ONLINE_DATE = "2024-01-01T00:00:00Z"
_CALIBRATION_DATE = "2024-01-01T00:00:00Z"

_BELEM_EDGES = [(0, 1), (1, 2), (1, 3), (3, 4)]
_FALCON_EDGES = [
    (0, 1), (1, 2), (1, 4), (2, 3), (3, 5), (4, 7), (5, 8), (6, 7), (7, 10), (8, 9),
    (8, 11), (10, 12), (11, 14), (12, 13), (12, 15), (13, 14), (14, 16), (15, 18), (16, 19),
    (17, 18), (18, 21), (19, 20), (19, 22), (21, 23), (22, 25), (23, 24), (24, 25), (25, 26),
]  # fmt: skip

_QASM_DEFS = {
    "cx": ([], "gate cx q0, q1 { CX q0, q1; }"),
    "id": ([], "gate id q { U(0, 0, 0) q; }"),
    "rz": (["theta"], "gate rz(theta) q { U(0, 0, theta) q; }"),
    "sx": ([], "gate sx q { U(pi/2, 3*pi/2, pi/2) q; }"),
    "x": ([], "gate x q { U(pi, 0, pi) q; }"),
}
_NON_GATES = frozenset({"measure", "delay", "reset"})
_IDEAL_QUBITS = 32


class BackendError(Exception):
    """A circuit cannot run on the backend it was sent to; the message names why."""


def _both_ways(edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    return [list(pair) for a, b in edges for pair in ((a, b), (b, a))]


@dataclass(frozen=True)
class _Spec:
    name: str
    num_qubits: int
    edges: Sequence[tuple[int, int]] | None
    seed: int
    family: str
    description: str


class Backend:
    """One emulated backend: documents for the REST API, and execution helpers."""

    def __init__(self, spec: _Spec) -> None:
        self._spec = spec
        self._lock = threading.Lock()
        self._errors: dict[tuple[str, tuple[int, ...]], QuantumError | ReadoutError | None] = {}

    @property
    def name(self) -> str:
        """The backend name clients select."""
        return self._spec.name

    @property
    def num_qubits(self) -> int:
        """Number of qubits."""
        return self._spec.num_qubits

    @property
    def noisy(self) -> bool:
        """Whether runs apply the device's noise model."""
        return self._spec.edges is not None

    @cached_property
    def _device(self) -> GenericBackendV2:
        assert self._spec.edges is not None
        return GenericBackendV2(
            self._spec.num_qubits,
            coupling_map=_both_ways(self._spec.edges),
            seed=self._spec.seed,
        )

    @cached_property
    def configuration(self) -> dict[str, Any]:
        """The ``/backends/{name}/configuration`` document."""
        spec = self._spec
        common: dict[str, Any] = {
            "backend_name": spec.name,
            "backend_version": _VERSION,
            "n_qubits": spec.num_qubits,
            "local": False,
            "conditional": False,
            "open_pulse": False,
            "memory": True,
            "max_shots": MAX_SHOTS,
            "max_experiments": MAX_CIRCUITS,
            "online_date": _ONLINE_DATE,
            "description": spec.description,
            "credits_required": False,
            "allow_q_object": True,
            "n_registers": 1,
            "conditional_latency": [],
            "supported_features": ["qasm3"],
            "rep_delay_range": [0.0, 500.0],
            "default_rep_delay": 250.0,
            "dynamic_reprate_enabled": True,
            "processor_type": {"family": spec.family, "revision": 1},
            "url": "None",
        }
        if not self.noisy:
            # Only gates qiskit knows by name, so clients can build a Target from the list;
            # Aer's control-flow and save_* instructions are not gates.
            standard = get_standard_gate_name_mapping()
            basis = sorted(set(self._ideal_target.operation_names) & set(standard) - _NON_GATES)
            return {
                **common,
                "simulator": True,
                "basis_gates": basis,
                "supported_instructions": sorted({*basis, *_NON_GATES}),
                "gates": [{"name": "u", "parameters": ["theta", "phi", "lam"], "qasm_def": ""}],
                # IBM's simulators advertised no coupling map: any pair of qubits interacts.
                "coupling_map": None,
            }
        device = self._device
        basis = sorted(set(device.operation_names) - _NON_GATES)
        gates = []
        for name in basis:
            parameters, qasm_def = _QASM_DEFS.get(name, ([], ""))
            gates.append(
                {
                    "name": name,
                    "parameters": parameters,
                    "qasm_def": qasm_def,
                    "coupling_map": [list(qargs) for qargs in device.target[name]],
                }
            )
        dt_ns = (device.target.dt or 0.0) * 1e9
        return {
            **common,
            "simulator": False,
            "basis_gates": basis,
            "supported_instructions": sorted({*basis, *_NON_GATES}),
            "gates": gates,
            "coupling_map": _both_ways(spec.edges or ()),
            "dt": dt_ns,
            "dtm": dt_ns,
            "meas_map": [list(range(spec.num_qubits))],
            "timing_constraints": {
                "acquire_alignment": 16,
                "granularity": 16,
                "min_length": 64,
                "pulse_alignment": 16,
            },
        }

    @cached_property
    def properties(self) -> dict[str, Any]:
        """The ``/backends/{name}/properties`` document (``{}``: none, for the ideal simulator)."""
        if not self.noisy:
            # IBM's simulators had no calibration either; clients treat {} as "no properties".
            return {}
        target = self._device.target
        qubits = []
        for index in range(self.num_qubits):
            props = target.qubit_properties[index] if target.qubit_properties else None
            readout = target["measure"][(index,)]
            error = readout.error if readout is not None and readout.error is not None else 0.0
            length = readout.duration if readout is not None and readout.duration else 0.0
            qubits.append(
                [
                    _nduv("T1", "us", (props.t1 or 0.0) * 1e6 if props else 0.0),
                    _nduv("T2", "us", (props.t2 or 0.0) * 1e6 if props else 0.0),
                    _nduv("frequency", "GHz", (props.frequency or 0.0) / 1e9 if props else 0.0),
                    _nduv("anharmonicity", "GHz", -0.34),
                    _nduv("readout_error", "", error),
                    _nduv("prob_meas0_prep1", "", error),
                    _nduv("prob_meas1_prep0", "", error),
                    _nduv("readout_length", "ns", length * 1e9),
                ]
            )
        gates = []
        for name in sorted(set(target.operation_names) - {"measure", "delay"}):
            for qargs, props in target[name].items():
                if qargs is None or props is None:
                    continue
                parameters = [_nduv("gate_error", "", props.error or 0.0)]
                parameters.append(_nduv("gate_length", "ns", (props.duration or 0.0) * 1e9))
                gates.append(
                    {
                        "qubits": list(qargs),
                        "gate": name,
                        "parameters": parameters,
                        "name": name + "_".join(str(q) for q in qargs),
                    }
                )
        return {
            "backend_name": self.name,
            "backend_version": _VERSION,
            "last_update_date": _CALIBRATION_DATE,
            "qubits": qubits,
            "gates": gates,
            "general": [],
        }

    def status(self, queue_length: int) -> dict[str, Any]:
        """The ``/backends/{name}/status`` document."""
        return {
            "state": True,
            "status": "active",
            "message": "",
            "length_queue": queue_length,
            "backend_version": _VERSION,
        }

    def list_item(self, queue_length: int) -> dict[str, Any]:
        """This backend's entry in ``GET /backends``."""
        return {
            "name": self.name,
            "status": {"name": "online", "reason": "available"},
            "qubits": self.num_qubits,
            "queue_length": queue_length,
            "simulator": not self.noisy,
            "processor_type": {"family": self._spec.family, "revision": 1},
        }

    def prepare(self, circuit: QuantumCircuit, seed: int | None) -> QuantumCircuit:
        """Map *circuit* onto this backend, as the service does for non-ISA input.

        The real service rejects circuits that are not ISA for the target; the emulator
        transpiles them (optimization level 0) instead, so QASM text and textbook circuits run.

        :raises BackendError: when the circuit cannot be mapped (too wide, unknown gates, ...).
        """
        if circuit.num_qubits > self.num_qubits:
            raise BackendError(
                f"circuit {circuit.name!r} has {circuit.num_qubits} qubits but backend "
                f"{self.name} has only {self.num_qubits}"
            )
        try:
            if self.noisy:
                return transpile(
                    circuit, target=self._device.target, optimization_level=0, seed_transpiler=seed
                )
            if {inst.operation.name for inst in circuit.data} <= self._ideal_operations:
                return circuit
            return transpile(
                circuit, target=self._ideal_target, optimization_level=0, seed_transpiler=seed
            )
        except Exception as exc:
            msg = f"circuit {circuit.name!r} cannot run on {self.name}: {exc}"
            raise BackendError(msg) from exc

    @cached_property
    def _ideal_target(self) -> Target:
        return AerSimulator(n_qubits=_IDEAL_QUBITS).target

    @cached_property
    def _ideal_operations(self) -> frozenset[str]:
        # Aer runs these as they are; barriers are no-ops it accepts but does not list.
        return frozenset(self._ideal_target.operation_names) | {"barrier"}

    def noise_model(self, circuits: Sequence[QuantumCircuit]) -> NoiseModel | None:
        """Return the noise model for *circuits* (already :meth:`prepare`-d), ``None`` if ideal.

        Depolarizing gate errors and symmetric readout errors taken from the device's target,
        restricted to the qubits the circuits touch: a full 27-qubit model costs seconds to
        build and slows every run, a restricted one milliseconds.
        """
        if not self.noisy:
            return None
        used: set[int] = set()
        for circuit in circuits:
            for inst in circuit.data:
                used.update(circuit.find_bit(q).index for q in inst.qubits)
        target = self._device.target
        model = NoiseModel(basis_gates=sorted(set(target.operation_names) - _NON_GATES))
        for name in sorted(set(target.operation_names) - {"delay", "reset"}):
            for qargs in target[name]:
                if qargs is None or not set(qargs) <= used:
                    continue
                error = self._error(name, tuple(qargs))
                if isinstance(error, ReadoutError):
                    model.add_readout_error(error, list(qargs))
                elif error is not None:
                    model.add_quantum_error(error, name, list(qargs))
        return model

    def _error(self, name: str, qargs: tuple[int, ...]) -> QuantumError | ReadoutError | None:
        with self._lock:
            if (name, qargs) not in self._errors:
                props = self._device.target[name][qargs]
                probability = props.error if props is not None else None
                error: QuantumError | ReadoutError | None = None
                if probability:
                    if name == "measure":
                        error = ReadoutError(
                            [[1 - probability, probability], [probability, 1 - probability]]
                        )
                    else:
                        error = depolarizing_error(min(probability, 1.0), len(qargs))
                self._errors[(name, qargs)] = error
            return self._errors[(name, qargs)]


def _nduv(name: str, unit: str, value: float) -> dict[str, Any]:
    return {"date": _CALIBRATION_DATE, "name": name, "unit": unit, "value": value}


class BackendCatalog:
    """The backends one emulator serves, by name."""

    def __init__(self) -> None:
        specs = [
            _Spec(
                "aer_simulator",
                _IDEAL_QUBITS,
                None,
                0,
                "Simulator",
                "Ideal qiskit-aer simulator, all-to-all connectivity.",
            ),
            _Spec(
                "fake_t5",
                5,
                _BELEM_EDGES,
                5,
                "Falcon",
                "Noisy 5-qubit T-shaped device (qiskit GenericBackendV2, seed 5).",
            ),
            _Spec(
                "fake_falcon27",
                27,
                _FALCON_EDGES,
                27,
                "Falcon",
                "Noisy 27-qubit heavy-hex device (qiskit GenericBackendV2, seed 27).",
            ),
        ]
        self._backends = {spec.name: Backend(spec) for spec in specs}

    def names(self) -> list[str]:
        """Backend names in listing order."""
        return list(self._backends)

    def backends(self) -> list[Backend]:
        """Backends in listing order."""
        return list(self._backends.values())

    def get(self, name: str) -> Backend | None:
        """Return the backend called *name*, if served."""
        return self._backends.get(name)

"""The runtime programs the emulator runs: ``circuit-runner`` and ``sampler`` (PROTOCOL.md §6).

:func:`load` turns a job's params into a :class:`Workload`: a list of steps (one circuit or one
pub each) and the result they add up to. Submission calls it to validate (bad input is a 4xx),
and the executor calls it again on the stored params to run the job, one step at a time so
that cancellation and the time limit are checked between steps.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.primitives import PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qcourier.plugins.emulator.backends import MAX_CIRCUITS, MAX_SHOTS, Backend, BackendError
from qcourier.plugins.emulator.store import utc_iso
from qcourier.plugins.ibm_runtime import tagged_json

__all__ = [
    "PROGRAMS",
    "REASON_EXECUTION_FAILED",
    "InputError",
    "ProgramNotFoundError",
    "Workload",
    "load",
]

#: ``reason_code`` of a job whose circuit failed to run (an emulator code; IBM's vary by cause).
REASON_EXECUTION_FAILED = 1500

#: Programs served, as ``program_id``. ``qasm3-runner`` shares circuit-runner's params.
PROGRAMS = ("circuit-runner", "qasm3-runner", "sampler")

_CIRCUIT_RUNNER_SHOTS = 4000
_SAMPLER_SHOTS = 4096
_MAX_TOTAL_SHOTS = 10_000_000


class InputError(ValueError):
    """Params that cannot describe a job; the message says what is wrong."""


class ProgramNotFoundError(LookupError):
    """The ``program_id`` is not one the emulator runs."""


class Workload:
    """A parsed job: its circuits, its steps, and the result they build."""

    circuits: list[QuantumCircuit]
    #: The seed the params ask for, if any.
    seed: int | None = None

    @property
    def steps(self) -> int:
        """Number of steps; the executor checks for cancel and time-out between them."""
        raise NotImplementedError

    def run_step(self, index: int, backend: Backend, seed: int | None, threads: int) -> None:
        """Run step *index* on *backend* and keep its outcome."""
        raise NotImplementedError

    def result_text(self, job_id: str, backend: Backend) -> str:
        """The ``/results`` body once every step ran."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Figures the metrics document reports."""
        return {
            "num_circuits": len(self.circuits),
            "num_qubits": [c.num_qubits for c in self.circuits],
            "circuit_depths": [c.depth() for c in self.circuits],
            "shots": self.total_shots(),
        }

    def total_shots(self) -> int:
        """Shots over every step (executions in the metrics)."""
        raise NotImplementedError


def load(program_id: str, params_text: str) -> Workload:
    """Parse stored or submitted *params_text* for *program_id*.

    :raises ProgramNotFoundError: for an unknown program.
    :raises InputError: for params that do not describe a job of that program.
    """
    if program_id not in PROGRAMS:
        raise ProgramNotFoundError(
            f"Program not found: {program_id!r}; this emulator runs {', '.join(PROGRAMS)}."
        )
    try:
        params = tagged_json.decode(params_text)
    except tagged_json.TaggedJsonError as exc:
        raise InputError(f"params: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"params are not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise InputError("params must be a JSON object")
    if program_id == "sampler":
        return _SamplerWorkload(params)
    return _CircuitRunnerWorkload(params)


def _circuit(value: Any, where: str) -> QuantumCircuit:
    if isinstance(value, QuantumCircuit):
        return value
    if not isinstance(value, str):
        raise InputError(
            f"{where} must be a QuantumCircuit tag or OpenQASM text, not {type(value).__name__}"
        )
    try:
        if value.lstrip().startswith("OPENQASM 3"):
            return qasm3.loads(value)
        return qasm2.loads(value, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:
        raise InputError(f"{where} is not valid OpenQASM: {exc}") from exc


def _shots(value: Any, where: str, default: int) -> int:
    if value is None:
        return default
    # Upstream truncates float shots (prov 0.11 sends what the user gave).
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where} must be a positive integer, not {value!r}")
    shots = int(value)
    if not 1 <= shots <= MAX_SHOTS:
        raise InputError(f"{where} must be between 1 and {MAX_SHOTS}, not {shots}")
    return shots


def _seed(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where} must be a non-negative integer, not {value!r}")
    # SQLite stores signed 64-bit integers.
    if value >= 2**63:
        raise InputError(f"{where} must be below 2**63, not {value!r}")
    return value


def _sequence(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where} must be a non-empty list")
    if len(value) > MAX_CIRCUITS:
        raise InputError(f"{where} holds {len(value)} items; the limit is {MAX_CIRCUITS}")
    return value


def _bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(f"{where} must be true or false, not {value!r}")
    return value


def _json_safe(value: Any) -> Any:
    return json.loads(tagged_json.encode(value))


class _CircuitRunnerWorkload(Workload):
    def __init__(self, params: dict[str, Any]) -> None:
        self.circuits = [
            _circuit(c, f"params.circuits[{i}]")
            for i, c in enumerate(_sequence(params.get("circuits"), "params.circuits"))
        ]
        self.shots = _shots(params.get("shots"), "params.shots", _CIRCUIT_RUNNER_SHOTS)
        self.memory = _bool(params.get("memory"), "params.memory")
        self.seed = _seed(params.get("seed_simulator"), "params.seed_simulator")
        self._results: list[dict[str, Any]] = []

    @property
    def steps(self) -> int:
        return len(self.circuits)

    def total_shots(self) -> int:
        return self.shots * len(self.circuits)

    def run_step(self, index: int, backend: Backend, seed: int | None, threads: int) -> None:
        circuit = self.circuits[index]
        prepared = backend.prepare(circuit, seed)
        simulator = AerSimulator(
            noise_model=backend.noise_model([prepared]), max_parallel_threads=threads
        )
        run_seed = None if seed is None else seed + index
        outcome = simulator.run(
            prepared, shots=self.shots, memory=self.memory, seed_simulator=run_seed
        ).result()
        experiment = outcome.results[0]
        if not experiment.success:
            raise BackendError(f"circuit {circuit.name!r} failed: {experiment.status}")
        data = experiment.data.to_dict()
        payload: dict[str, Any] = {"counts": dict(data.get("counts", {}))}
        if self.memory:
            payload["memory"] = list(data.get("memory", []))
        self._results.append(
            {
                "shots": self.shots,
                "success": True,
                "data": payload,
                "meas_level": 2,
                "status": "DONE",
                "seed_simulator": run_seed,
                "time_taken": experiment.time_taken,
                "header": _json_safe(
                    {
                        "name": circuit.name,
                        "creg_sizes": [[reg.name, reg.size] for reg in circuit.cregs],
                        "memory_slots": circuit.num_clbits,
                        "qreg_sizes": [[reg.name, reg.size] for reg in circuit.qregs],
                        "n_qubits": circuit.num_qubits,
                        "global_phase": float(circuit.global_phase),
                        "metadata": circuit.metadata or {},
                    }
                ),
            }
        )

    def result_text(self, job_id: str, backend: Backend) -> str:
        # A plain Result dict (prov reads the top-level "date"); never a top-level "url".
        return json.dumps(
            {
                "backend_name": backend.name,
                "backend_version": "1.0.0",
                "qobj_id": job_id,
                "job_id": job_id,
                "success": True,
                "status": "COMPLETED",
                "date": utc_iso(),
                "header": {"backend_name": backend.name, "backend_version": "1.0.0"},
                "results": self._results,
            }
        )


class _SamplerWorkload(Workload):
    def __init__(self, params: dict[str, Any]) -> None:
        options = params.get("options") or {}
        if not isinstance(options, dict):
            raise InputError("params.options must be an object")
        version = params.get("version", 2)
        if version != 2:
            raise InputError(f"params.version must be 2 (SamplerV2), not {version!r}")
        default_shots = _shots(
            options.get("default_shots"), "params.options.default_shots", _SAMPLER_SHOTS
        )
        simulator = options.get("simulator") or {}
        if not isinstance(simulator, dict):
            raise InputError("params.options.simulator must be an object")
        self.seed = _seed(
            simulator.get("seed_simulator"), "params.options.simulator.seed_simulator"
        )
        self.pubs = [
            self._pub(pub, f"params.pubs[{i}]", default_shots)
            for i, pub in enumerate(_sequence(params.get("pubs"), "params.pubs"))
        ]
        self.circuits = [pub.circuit for pub in self.pubs]
        if self.total_shots() > _MAX_TOTAL_SHOTS:
            raise InputError(
                f"the pubs ask for {self.total_shots()} shots in all; the limit is "
                f"{_MAX_TOTAL_SHOTS}"
            )
        self._results: list[SamplerPubResult] = []

    @staticmethod
    def _pub(value: Any, where: str, default_shots: int) -> SamplerPub:
        parts = value if isinstance(value, list) else [value]
        if not 1 <= len(parts) <= 3:
            raise InputError(f"{where} must be [circuit, parameter values, shots]")
        circuit = _circuit(parts[0], f"{where}[0]")
        values = parts[1] if len(parts) > 1 else None
        shots = _shots(parts[2] if len(parts) > 2 else None, f"{where}[2]", default_shots)
        try:
            if values is None or (circuit.num_parameters == 0 and np.size(values) == 0):
                bindings = BindingsArray()
            else:
                # The runtime sends values shaped (..., number of parameters), in the order
                # of circuit.parameters.
                array = np.asarray(values, dtype=float)
                if array.ndim == 0 or array.shape[-1] != circuit.num_parameters:
                    raise InputError(
                        f"{where}[1] must have shape (..., {circuit.num_parameters}), "
                        f"not {array.shape}"
                    )
                bindings = BindingsArray({tuple(circuit.parameters): array})
            pub = SamplerPub(circuit, bindings, shots)
            pub.validate()
        except (ValueError, TypeError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{where}: {exc}") from exc
        if circuit.num_clbits == 0:
            raise InputError(f"{where}: the circuit measures nothing, so nothing can be sampled")
        return pub

    @property
    def steps(self) -> int:
        return len(self.pubs)

    def total_shots(self) -> int:
        return sum((pub.shots or 0) * max(1, pub.parameter_values.size) for pub in self.pubs)

    def run_step(self, index: int, backend: Backend, seed: int | None, threads: int) -> None:
        pub = self.pubs[index]
        prepared = backend.prepare(pub.circuit, seed)
        backend_options: dict[str, Any] = {"max_parallel_threads": threads}
        noise = backend.noise_model([prepared])
        if noise is not None:
            backend_options["noise_model"] = noise
        sampler = AerSampler(
            seed=None if seed is None else seed + index,
            options={"backend_options": backend_options},
        )
        outcome = sampler.run([SamplerPub(prepared, pub.parameter_values, pub.shots)]).result()[0]
        self._results.append(
            SamplerPubResult(outcome.data, {"circuit_metadata": pub.circuit.metadata or {}})
        )

    def result_text(self, job_id: str, backend: Backend) -> str:
        return tagged_json.encode(PrimitiveResult(self._results, {"version": 2}))

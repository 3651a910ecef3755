"""IBMBackend: a service backend as a qiskit ``BackendV2``, with a ``Target`` for transpile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qiskit.circuit import QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import CouplingMap, Target

from qcourier.errors import IBMJobError
from qcourier.job import IBMCircuitJob, name_tag
from qcourier.validation import validate_flag, validate_shots, validate_tags

if TYPE_CHECKING:
    from qcourier.host import PluginHost

__all__ = ["IBMBackend"]

CIRCUIT_RUNNER = "circuit-runner"
DEFAULT_SHOTS = 4000

_NON_GATE_INSTRUCTIONS = frozenset({"measure", "reset", "delay"})

# Run options that are forwarded to circuit-runner as they are.
_FORWARDED_OPTIONS = ("seed_simulator", "rep_delay", "init_qubits", "meas_level", "meas_return")


class IBMBackend(BackendV2):  # type: ignore[misc]  # qiskit is untyped
    """A backend of the service, built from its configuration document."""

    def __init__(
        self, host: PluginHost, configuration: dict[str, Any], properties: dict[str, Any] | None
    ) -> None:
        super().__init__(
            name=configuration["backend_name"],
            backend_version=str(configuration.get("backend_version", "")),
            online_date=configuration.get("online_date"),
        )
        self._host = host
        self._configuration = configuration
        self._properties = properties
        self._target: Target | None = None

    @classmethod
    def _default_options(cls) -> Options:
        return Options(
            shots=DEFAULT_SHOTS,
            memory=False,
            seed_simulator=None,
            init_qubits=True,
            rep_delay=None,
            meas_level=2,
            meas_return="avg",
        )

    @property
    def target(self) -> Target:
        """The qiskit ``Target`` built from the configuration (basis gates, coupling map)."""
        if self._target is None:
            config = self._configuration
            edges = config.get("coupling_map") or None
            # IBM lists measure, reset and delay under supported_instructions, not basis_gates.
            extra = set(config.get("supported_instructions") or ()) & _NON_GATE_INSTRUCTIONS
            # Names qiskit cannot map to an operation (control flow, vendor gates) are left
            # out of the Target rather than failing the whole backend.
            known = get_standard_gate_name_mapping()
            gates = [name for name in config.get("basis_gates", []) if name in known]
            basis = [*gates, *sorted(extra or {"measure"})]
            self._target = Target.from_configuration(
                basis_gates=basis,
                num_qubits=int(config["n_qubits"]),
                coupling_map=CouplingMap(edges) if edges else None,
            )
        return self._target

    @property
    def max_circuits(self) -> int:
        """The most circuits one job may hold (``max_experiments``)."""
        return int(self._configuration.get("max_experiments", 300))

    @property
    def max_shots(self) -> int:
        """The most shots one circuit may ask for."""
        return int(self._configuration.get("max_shots", 100_000))

    def configuration(self) -> dict[str, Any]:
        """The service's configuration document."""
        return dict(self._configuration)

    def properties(self, refresh: bool = False) -> dict[str, Any] | None:
        """The service's properties document (calibration data), ``None`` when it has none."""
        if refresh or self._properties is None:
            self._properties = self._host.api.backend_properties(self.name)
        return self._properties

    def status(self) -> dict[str, Any]:
        """The service's status document (``state``, ``status``, ``length_queue``)."""
        return self._host.api.backend_status(self.name)

    def run(
        self,
        circuits: QuantumCircuit | Sequence[QuantumCircuit],
        job_tags: list[str] | None = None,
        job_name: str | None = None,
        max_execution_time: int | None = None,
        header: dict[str, Any] | None = None,
        **run_options: Any,
    ) -> IBMCircuitJob:
        """Submit *circuits* and return the job at once; call ``result()`` to wait for it.

        :param circuits: one circuit or a list, already transpiled for this backend.
        :param job_tags: tags to find the job by later (a list of non-empty strings).
        :param job_name: a name to find the job by (stored with the job as a hidden tag).
        :param max_execution_time: seconds after which the service cancels the job.
        :param header: a user header stored with the job.
        :param run_options: ``shots``, ``memory``, ``seed_simulator`` and the other options.
        :raises ValueError: on bad circuits, shots or options, before anything is sent.
        """
        if isinstance(circuits, QuantumCircuit):
            batch = [circuits]
        elif isinstance(circuits, list | tuple):
            batch = list(circuits)
        else:
            batch = []
        if not batch or not all(isinstance(item, QuantumCircuit) for item in batch):
            raise ValueError(
                "backend.run takes a QuantumCircuit or a non-empty list of them; "
                f"got {type(circuits).__name__}"
            )
        if len(batch) > self.max_circuits:
            raise ValueError(f"{len(batch)} circuits exceed {self.name}'s {self.max_circuits}")
        unknown = set(run_options) - set(self.options.__dict__)
        if unknown:
            valid = ", ".join(sorted(self.options.__dict__))
            raise ValueError(f"unknown run option(s) {', '.join(sorted(unknown))}; valid: {valid}")
        tags = validate_tags(job_tags, ValueError)
        wire_tags = tags + ([name_tag(job_name)] if job_name is not None else [])
        options = {**self.options.__dict__, **run_options}
        params: dict[str, Any] = {
            "circuits": batch,
            "shots": validate_shots(options["shots"], self.max_shots),
            "memory": validate_flag(options["memory"], "memory"),
        }
        params.update(
            {key: options[key] for key in _FORWARDED_OPTIONS if options.get(key) is not None}
        )
        if header:
            params["header"] = dict(header)
        reply = self._host.api.submit_job(
            CIRCUIT_RUNNER,
            self.name,
            params,
            tags=wire_tags or None,
            max_execution_time=max_execution_time,
        )
        if "id" not in reply:
            raise IBMJobError(f"the service accepted the job but sent no id: {reply!r}")
        job = IBMCircuitJob(
            backend=self,
            api_client=self._host,
            job_id=reply["id"],
            status="Queued",
            kind=CIRCUIT_RUNNER,
            name=job_name,
            tags=tags,
            session_id=reply.get("session_id"),
        )
        self._host.job_submitted(job)
        return job

    def __repr__(self) -> str:
        return f"<IBMBackend {self.name}>"

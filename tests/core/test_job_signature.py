"""IBMCircuitJob offers the public API of qiskit-ibm-provider 0.11's IBMCircuitJob."""

from __future__ import annotations

import inspect

import pytest
from qiskit.providers import JobV1

from qcourier import IBMCircuitJob

# (name, parameters as "name=default" strings) of every public member upstream documents.
EXPECTED_METHODS = {
    "backend": [],
    "backend_options": [],
    "cancel": [],
    "cancelled": [],
    "circuits": [],
    "creation_date": [],
    "done": [],
    "error_message": [],
    "header": [],
    "in_final_state": [],
    "job_id": [],
    "name": [],
    "properties": ["refresh=False"],
    "queue_info": [],
    "queue_position": ["refresh=False"],
    "refresh": [],
    "result": ["timeout=None", "refresh=False"],
    "running": [],
    "scheduling_mode": [],
    "status": [],
    "submit": [],
    "tags": [],
    "time_per_step": [],
    "update_name": ["name"],
    "update_tags": ["new_tags"],
    "wait_for_final_state": ["timeout=None"],
}

EXPECTED_CONSTRUCTOR = [
    "backend",
    "api_client",
    "job_id",
    "creation_date=None",
    "status=None",
    "runtime_client=None",
    "kind=None",
    "name=None",
    "time_per_step=None",
    "result=None",
    "error=None",
    "session_id=None",
    "tags=None",
    "run_mode=None",
    "client_info=None",
    "**kwargs",
]


def _describe(function: object) -> list[str]:
    described = []
    for parameter in inspect.signature(function).parameters.values():  # type: ignore[arg-type]
        if parameter.name == "self":
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            described.append(f"**{parameter.name}")
        elif parameter.default is inspect.Parameter.empty:
            described.append(parameter.name)
        else:
            described.append(f"{parameter.name}={parameter.default!r}")
    return described


def test_constructor_matches_upstream() -> None:
    assert _describe(IBMCircuitJob.__init__) == EXPECTED_CONSTRUCTOR


def test_job_is_a_qiskit_jobv1() -> None:
    assert issubclass(IBMCircuitJob, JobV1)


@pytest.mark.parametrize(("name", "parameters"), sorted(EXPECTED_METHODS.items()))
def test_method_signature_matches_upstream(name: str, parameters: list[str]) -> None:
    method = getattr(IBMCircuitJob, name)
    assert callable(method)
    assert _describe(method) == parameters


@pytest.mark.parametrize("name", ["client_version", "usage_estimation"])
def test_attribute_is_a_property(name: str) -> None:
    assert isinstance(inspect.getattr_static(IBMCircuitJob, name), property)

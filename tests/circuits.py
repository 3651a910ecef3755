"""Circuits the tests submit."""

from __future__ import annotations

from qiskit import QuantumCircuit


def bell(name: str = "bell") -> QuantumCircuit:
    """The two-qubit Bell circuit, measured: counts over ``00`` and ``11`` only."""
    circuit = QuantumCircuit(2, name=name)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit

"""Finding plugins by name: clear errors for missing, broken and duplicated names."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import qcourier_testwait

import qcourier
from qcourier import PluginConflictError, PluginLoadError, PluginNotFoundError, discovery
from qcourier.discovery import GROUPS, available, discover_observers, load_named
from qcourier.status import FINAL_STATES


def test_unknown_wait_strategy_lists_available_names() -> None:
    with pytest.raises(PluginNotFoundError) as raised:
        load_named("qcourier.wait", "websockt")
    message = str(raised.value)
    assert "no 'qcourier.wait' plugin named 'websockt'" in message
    assert "polling" in message
    assert "testwait" in message


def test_unknown_name_in_connect_is_reported_before_anything_starts() -> None:
    with pytest.raises(PluginNotFoundError, match=r"available: .*polling.*testwait"):
        qcourier.connect(wait=["nope"])


def test_plugin_that_fails_to_import_names_group_name_and_cause() -> None:
    with pytest.raises(PluginLoadError) as raised:
        load_named("qcourier.wait", "testwait_broken")
    assert "qcourier.wait:testwait_broken" in str(raised.value)
    assert isinstance(raised.value.__cause__, ImportError)
    assert "not installed" in str(raised.value.__cause__)


def test_third_party_wait_strategy_is_found_through_its_entry_point() -> None:
    plugin = load_named("qcourier.wait", "testwait")
    assert plugin.__module__ == "qcourier_testwait"


def test_every_builtin_name_is_listed_in_its_group() -> None:
    builtins = {
        "channel": {"local", "ibm_quantum_platform"},
        "transport": {"ibm_rest"},
        "auth": {"ibm_iam", "bearer"},
        "api": {"ibm_runtime"},
        "decoder": {"ibm_result", "ibm_tagged_json"},
        "wait": {"websocket", "polling"},
        "events": {"progress"},
        "commands": {"serve"},
    }
    for concern, names in builtins.items():
        assert names <= set(available(GROUPS[concern])), concern


def _fake_entries(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> None:
    monkeypatch.setattr(
        discovery, "_entries", lambda group: [e for e in entries if e.group == group]
    )


def test_name_offered_by_two_distributions_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entries(
        monkeypatch,
        EntryPoint("dup", "one.module:Wait", "qcourier.wait"),
        EntryPoint("dup", "other.module:Wait", "qcourier.wait"),
    )
    with pytest.raises(PluginConflictError, match=r"qcourier.wait:dup is offered more than once"):
        load_named("qcourier.wait", "dup")


def test_broken_discovered_observer_warns_and_the_rest_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_entries(
        monkeypatch,
        EntryPoint("bad", "nowhere:Bad", "qcourier.events"),
        EntryPoint("good", "somewhere:Good", "qcourier.events"),
    )

    def fake_load(group: str, name: str) -> Any:
        if name == "bad":
            raise PluginLoadError("qcourier.events:bad: cannot load")
        return object

    monkeypatch.setattr(discovery, "load_named", fake_load)
    with pytest.warns(qcourier.QcourierPluginWarning, match="qcourier.events:bad"):
        loaded = discover_observers("qcourier.events", None)
    assert [name for name, _ in loaded] == ["good"]


def test_disabling_autoload_loads_only_named_observers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(discovery.AUTOLOAD_ENV, "1")
    assert discover_observers("qcourier.events", None) == []
    named = discover_observers("qcourier.events", ["progress"])
    assert [name for name, _ in named] == ["progress"]


def test_final_states_are_done_cancelled_error() -> None:
    assert {status.name for status in FINAL_STATES} == {"DONE", "CANCELLED", "ERROR"}


def test_connection_configured_with_third_party_wait_uses_it(tmp_path: Path) -> None:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1)
    circuit.measure_all()
    with qcourier.connect(emulator_db=str(tmp_path / "db.sqlite3"), wait=["testwait"]) as service:
        assert "wait:testwait" in service.host.plugin_names()
        job = service.backend().run(circuit, shots=10)
        assert job.result(timeout=60).get_counts() == {"0": 10}
    assert job.job_id() in qcourier_testwait.WATCHED

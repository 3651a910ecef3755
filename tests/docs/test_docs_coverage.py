"""Hand-written parts of the docs still match the code they describe.

The options table, the plugin table, the CLI ``--help`` texts and the hook reference are
generated from the code at build time; these tests cover the prose tables that are not.
(That every hook spec appears in the plugin guide is pinned by ``tests/meta``.)
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from qiskit.providers import JobStatus

import qcourier
from qcourier.cli import build_parser
from qcourier.plugins.emulator.backends import BackendCatalog
from qcourier.plugins.emulator.faults import FaultInjector
from qcourier.status import FINAL_STATES, to_job_status

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: FaultInjector members the emulator itself uses to apply faults; not for test authors.
FAULT_INTERNALS = {"state", "take_http", "websocket", "execution_paused", "step_delay"}


def _section(page: str, title: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    following = re.search(r"\n[^\n]+\n[-=~]{3,}\n", text[start + len(title) + 2 :])
    end = start + len(title) + 2 + following.start() if following else len(text)
    return text[start:end]


def _list_table_rows(text: str) -> list[list[str]]:
    """Rows of the first ``list-table`` in *text*, header included, cells joined per line."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("   * - "):
            rows.append([line[len("   * - ") :].strip()])
        elif line.startswith("     - ") and rows:
            rows[-1].append(line[len("     - ") :].strip())
        elif line.startswith("       ") and rows:
            rows[-1][-1] += " " + line.strip()
    return rows


def _literals(cell: str) -> list[str]:
    return re.findall(r"``([^`]+)``", cell)


def test_status_table_matches_the_status_mapping() -> None:
    rows = _list_table_rows(_section("jobs.rst", "Status model"))[1:]
    documented = {}
    for service_cell, status_cell, final_cell in rows:
        (name,) = _literals(status_cell)
        status = JobStatus[name]
        assert (final_cell == "yes") == (status in FINAL_STATES), name
        for service_status in _literals(service_cell):
            assert to_job_status(service_status) is status, service_status
            documented[service_status.lower()] = status
    from qcourier import status as status_module

    known = set(status_module._BY_API_STATUS)  # the mapping has no public listing
    assert set(documented) == known, "document every service status in docs/jobs.rst"


def test_every_public_exception_is_in_the_job_api_reference() -> None:
    text = (DOCS / "jobs.rst").read_text(encoding="utf-8")
    for name in qcourier.__all__:
        value = getattr(qcourier, name)
        if inspect.isclass(value) and issubclass(value, BaseException):
            assert f"autoexception:: qcourier.{name}\n" in text, name


def test_every_cli_subcommand_has_a_section() -> None:
    help_text = build_parser().format_help()
    commands = re.findall(r"^    (\w+) {2,}", help_text, re.M)
    text = (DOCS / "cli.rst").read_text(encoding="utf-8")
    assert "run" in commands
    for command in commands:
        assert f"\nqcourier {command}\n" in text, command
        assert f".. qcourier-cli-usage:: {command}\n" in text, command


def test_every_emulator_backend_is_described() -> None:
    text = _section("emulator.rst", "Backends")
    described = re.findall(r"^``(\w+)``$", text, re.M)
    assert described == BackendCatalog().names()


@pytest.mark.parametrize(
    "method",
    sorted(
        name
        for name, _ in inspect.getmembers(FaultInjector)
        if not name.startswith("_") and name not in FAULT_INTERNALS
    ),
)
def test_every_fault_is_documented(method: str) -> None:
    assert f"``{method}(" in _section("emulator.rst", "Fault injection"), method

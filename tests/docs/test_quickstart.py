"""Every code block of docs/quickstart.rst runs, as written, against the embedded emulator.

Python blocks run in order in one namespace, as a reader would type them. A block marked
``:class: no-run`` needs an IBM Quantum account and is skipped; exactly one may be. Console
blocks run their ``qcourier`` commands through the CLI's ``main``; ``pip`` and ``tox`` are not
run here (installing is what the test environment already did).
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from qcourier.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.rst"
NO_RUN = "no-run"

_DIRECTIVE = re.compile(r"^(?P<indent>[ ]*)\.\. code-block:: (?P<language>\S+)\s*$")
_OPTION = re.compile(r"^[ ]+:(?P<name>[\w-]+):[ ]*(?P<value>.*)$")


@dataclass(frozen=True)
class Block:
    language: str
    line: int
    options: dict[str, str]
    code: str

    @property
    def runs(self) -> bool:
        return NO_RUN not in self.options.get("class", "").split()


def code_blocks(path: Path) -> list[Block]:
    """The ``code-block`` directives of an .rst file, with their options and dedented code."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        found = _DIRECTIVE.match(lines[index])
        index += 1
        if not found:
            continue
        start, indent = index, len(found["indent"])
        options: dict[str, str] = {}
        while index < len(lines) and (option := _OPTION.match(lines[index])):
            options[option["name"]] = option["value"].strip()
            index += 1
        body = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            body.append(lines[index])
            index += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(found["language"], start, options, code))
    return blocks


BLOCKS = code_blocks(QUICKSTART)
PYTHON = [block for block in BLOCKS if block.language == "python"]
CONSOLE = [block for block in BLOCKS if block.language == "console"]


@pytest.fixture
def emulator_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every plain ``qcourier.connect()`` of the page at a fresh database."""
    db = tmp_path / "db.sqlite3"
    monkeypatch.setenv("QCOURIER_EMULATOR_DB", str(db))
    return db


def test_quickstart_skips_exactly_the_ibm_platform_block() -> None:
    skipped = [block for block in PYTHON if not block.runs]
    assert len(skipped) == 1, f"expected one no-run block, found lines {[b.line for b in skipped]}"
    assert 'channel="ibm_quantum_platform"' in skipped[0].code
    assert len(PYTHON) - len(skipped) >= 2


def test_quickstart_python_blocks_run_against_the_emulator(emulator_db: Path) -> None:
    namespace: dict[str, object] = {"__name__": "quickstart"}
    for block in PYTHON:
        if block.runs:
            exec(compile(block.code, f"{QUICKSTART}:{block.line}", "exec"), namespace)
    assert emulator_db.exists()


def test_quickstart_console_commands_run(
    emulator_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    commands = []
    for block in CONSOLE:
        for line in block.code.splitlines():
            if line.startswith("$ "):
                commands += [part.strip() for part in line[2:].split("&&")]
    ran = [command for command in commands if command.startswith("qcourier ")]
    assert ran, "the quick start shows no qcourier command"
    for command in ran:
        assert main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    assert set(commands) - set(ran) == {"pip install -e .", "pip install tox", "tox"}

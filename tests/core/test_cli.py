"""The qcourier command: real runs against the embedded emulator, one-line errors otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qcourier.cli import main

REPO = Path(__file__).resolve().parents[2]
BELL = REPO / "examples" / "bell.qasm"


@pytest.fixture
def local_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "emulator.sqlite3"
    monkeypatch.setenv("QCOURIER_EMULATOR_DB", str(db))
    monkeypatch.setenv("QCOURIER_CONFIG", "")
    return db


def test_run_prints_bell_counts_over_00_and_11(
    local_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(BELL), "--shots", "256", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["counts"]) <= {"00", "11"}
    assert sum(report["counts"].values()) == 256


def test_run_prints_a_histogram_by_default(
    local_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(BELL), "--shots", "100"]) == 0
    out = capsys.readouterr().out
    assert "100 shots" in out
    assert "█" in out


def test_job_and_jobs_show_a_submitted_job(
    local_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(BELL), "--shots", "64", "--tag", "cli-test", "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    assert main(["job", job_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "DONE"
    assert sum(shown["counts"].values()) == 64
    assert main(["jobs", "--tag", "cli-test", "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [job_id]


def test_malformed_qasm_is_a_one_line_error(
    local_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.qasm"
    bad.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[5];\n', encoding="utf-8")
    assert main(["run", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qcourier: error: ")
    assert "bad.qasm is not valid OpenQASM" in err
    assert "Traceback" not in err


def test_missing_file_is_a_one_line_error(
    local_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "no/such/file.qasm"]) == 1
    assert "cannot read no/such/file.qasm" in capsys.readouterr().err


def test_bad_job_id_says_what_an_id_looks_like(
    local_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["job", "../etc/passwd"]) == 1
    assert "is not a job id" in capsys.readouterr().err


def test_unknown_plugin_name_lists_available_ones(
    local_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QCOURIER_WAIT", "websockt")
    assert main(["run", str(BELL)]) == 1
    err = capsys.readouterr().err
    assert "no 'qcourier.wait' plugin named 'websockt'; available:" in err
    assert "polling" in err


def test_plugins_lists_every_group_and_reports_broken_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "qcourier.wait" in out
    assert "testwait_broken" in out
    assert "FAILS" in out


def test_config_masks_the_api_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QCOURIER_CONFIG", "")
    monkeypatch.setenv("QCOURIER_API_KEY", "very-secret-key-123")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-key-123" not in out
    assert "environment variable QCOURIER_API_KEY" in out


def test_console_script_is_installed(local_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qcourier.cli", "--help"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    )
    assert "run" in result.stdout
    assert "serve" in result.stdout

"""The thin vertical slice: connect() → backend.run → result() over the real emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import qcourier
from tests.circuits import bell


def test_bell_job_returns_counts_over_00_and_11(tmp_path: Path) -> None:
    with qcourier.connect(emulator_db=str(tmp_path / "db.sqlite3")) as service:
        job = service.backend("aer_simulator").run(bell(), shots=1024)
        counts = job.result(timeout=60).get_counts()
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 1024


def test_job_is_read_back_in_a_new_process(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    with qcourier.connect(emulator_db=db) as service:
        job = service.backend().run(bell(), shots=100, job_tags=["persist"], job_name="carry")
        expected = job.result(timeout=60).get_counts()
    code = (
        "import json, sys, qcourier\n"
        f"with qcourier.connect(emulator_db={db!r}) as s:\n"
        f"    job = s.job({job.job_id()!r})\n"
        "    print(json.dumps([job.status().name, job.tags(), job.name(),"
        " job.result().get_counts()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, tags, name, counts = json.loads(out.stdout)
    assert (status, tags, name, counts) == ("DONE", ["persist"], "carry", expected)

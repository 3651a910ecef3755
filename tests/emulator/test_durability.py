"""Jobs survive restarts, crashes and a database shared by two processes (issue 4 acceptance)."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.emulator.store import SCHEMA_VERSION, JobRecord, Store, StoreError, utc_iso
from qcourier.plugins.emulator.tokens import instance_crn
from tests.emulator.process import EmulatorProcess, until
from tests.emulator.wire import APIKEY_GRANT, BELL_QASM, FINAL, Api

KEY = "durable-key"
ADMIN = "durable-admin"


class RemoteApi(Api):
    """:class:`Api` for an emulator in another process, known only by its URL."""

    def __init__(self, url: str, api_key: str, instance: str) -> None:
        self.base = f"{url}/api/v1"
        self.session = requests.Session()
        token = self.session.post(
            f"{url}/identity/token",
            data={"grant_type": APIKEY_GRANT, "apikey": api_key},
            timeout=10,
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}", "Service-CRN": instance}


def statuses(api: Api) -> dict[str, str]:
    body = api.get("/jobs", params={"limit": 1000, "exclude_params": "true"}).json()
    return {job["id"]: job["status"] for job in body["jobs"]}


def test_sigkill_mid_run_loses_no_job_and_every_result_is_correct(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    first = EmulatorProcess(db, "--api-key", KEY, "--workers", "1", "--admin-secret", ADMIN)
    instance = next(line for line in first.banner if line.startswith("instance: ")).split()[-1]
    shots = {}
    with RemoteApi(first.url, KEY, instance) as api:
        # Each circuit takes 0.05 s more, so the kill lands while jobs run and wait.
        requests.post(
            f"{first.url}/admin/faults",
            json={"slow_execution": 0.05},
            headers={"X-Admin-Secret": ADMIN},
            timeout=10,
        )
        for index in range(50):
            job_id = api.submit([BELL_QASM] * 2, shots=10 + index)
            shots[job_id] = 10 + index
        until(lambda: list(statuses(api).values()).count("Completed") >= 3, "3 jobs to finish")
        first.kill()
    with sqlite3.connect(db) as raw:
        at_kill = dict(raw.execute("SELECT id, status FROM jobs").fetchall())
    assert "Queued" in at_kill.values()
    second = EmulatorProcess(db, "--api-key", KEY, "--workers", "2")
    try:
        with RemoteApi(second.url, KEY, instance) as api:
            until(lambda: all(s in FINAL for s in statuses(api).values()), "all jobs final", 120)
            after = statuses(api)
            assert set(after) == set(shots)
            assert set(after.values()) == {"Completed"}
            for job_id, expected in shots.items():
                result = json.loads(api.get(f"/jobs/{job_id}/results").text)
                for experiment in result["results"]:
                    assert sum(experiment["data"]["counts"].values()) == expected
            running_at_kill = [j for j, s in at_kill.items() if s == "Running"]
            for job_id in running_at_kill:
                assert "re-queued" in api.get(f"/jobs/{job_id}/logs").text
    finally:
        code, _ = second.terminate()
    assert code == 0


def test_job_queued_at_shutdown_runs_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        server.faults.pause_execution()
        job_id = api.submit()
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        assert api.wait(job_id)["status"] == "Completed"
        assert api.job(job_id)["tags"] == []


def test_job_running_at_graceful_stop_is_requeued_and_completes_after_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "emulator.sqlite3"
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        server.faults.slow_execution(0.3)
        job_id = api.submit([BELL_QASM] * 3)
        until(lambda: api.job(job_id)["status"] == "Running", "the job to run")
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        assert api.wait(job_id)["status"] == "Completed"
        assert "re-queued" in api.get(f"/jobs/{job_id}/logs").text


def orphan(db: Path, owner: str, heartbeat: float, attempts: int = 1) -> str:
    """Leave a Running job owned by *owner*, as a process that stopped beating would."""
    store = Store(db)
    job = JobRecord(
        id="orphanjob0000000000a",
        instance=instance_crn(KEY),
        program_id="circuit-runner",
        backend="aer_simulator",
        status="Queued",
        created=utc_iso(),
        summary={"shots": 10},
    )
    store.insert(job, json.dumps({"circuits": [BELL_QASM], "shots": 10}))
    for attempt in range(attempts):
        if attempt:
            store.retire(owner)
        assert store.claim(owner) is not None
    store.close()
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT OR REPLACE INTO owners VALUES (?, ?)", (owner, heartbeat))
    return job.id


def test_running_job_of_a_silent_owner_is_requeued_and_completes(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    job_id = orphan(db, "elsewhere/1/dead", heartbeat=time.time() - 3600)
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        assert api.wait(job_id)["status"] == "Completed"
        assert "re-queued" in api.get(f"/jobs/{job_id}/logs").text


def test_running_job_of_a_dead_local_process_is_requeued_at_once(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    # A pid that cannot be alive, with a fresh heartbeat: only the pid check can tell.
    job_id = orphan(db, f"{socket.gethostname()}/999999999/dead", heartbeat=time.time())
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        assert api.wait(job_id, timeout=5)["status"] == "Completed"


def test_running_job_of_a_live_owner_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    job_id = orphan(db, "elsewhere/1/alive", heartbeat=time.time() + 3600)
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        assert api.job(job_id)["status"] == "Running"


def test_job_whose_process_died_three_times_fails_with_a_reason(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    job_id = orphan(db, "elsewhere/1/dead", heartbeat=time.time() - 3600, attempts=3)
    with EmulatorServer(db, api_keys=(KEY,), workers=1) as server, Api(server, KEY) as api:
        doc = api.wait(job_id)
    assert doc["status"] == "Failed"
    assert "stopped 3 times" in doc["state"]["reason"]


def test_two_servers_on_one_database_run_each_job_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    with (
        EmulatorServer(db, api_keys=(KEY,), workers=2) as one,
        EmulatorServer(db, api_keys=(KEY,), workers=2) as two,
        Api(one, KEY) as api,
    ):
        one.faults.pause_execution()
        two.faults.pause_execution()
        jobs = [api.submit(shots=5) for _ in range(20)]
        one.faults.pause_execution(False)
        two.faults.pause_execution(False)
        for job_id in jobs:
            assert api.wait(job_id)["status"] == "Completed"
            log = api.get(f"/jobs/{job_id}/logs").text
            assert log.count("Running:") == 1


def test_database_records_its_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    Store(db).close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_database_from_a_newer_emulator_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    Store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this emulator"):
        Store(db)


def test_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        EmulatorServer(db, api_keys=(KEY,)).start()

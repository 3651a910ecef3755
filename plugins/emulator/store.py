"""The emulator's durable job store: one SQLite file in WAL mode.

Several emulator processes may share one file (a user's embedded emulator in two Python
processes), so every state change is a conditional ``UPDATE`` checked by its row count, and a
Running job belongs to an *owner* (one per process and server) that keeps a heartbeat row fresh.
Only jobs whose owner stopped beating are taken back.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "FINAL_STATUSES",
    "SCHEMA_VERSION",
    "JobEvent",
    "JobFilters",
    "JobRecord",
    "Store",
    "StoreError",
    "new_job_id",
    "utc_iso",
]

#: Bumped with every schema change; :meth:`Store.__init__` migrates older files forward.
SCHEMA_VERSION = 1

#: The five runtime statuses, Title case as the service sends them (PROTOCOL.md §4.2).
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "Queued",
    "Running",
    "Completed",
    "Failed",
    "Cancelled",
)
FINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    instance TEXT NOT NULL,
    program_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    reason_code INTEGER,
    created TEXT NOT NULL,
    running TEXT,
    finished TEXT,
    session_id TEXT,
    params TEXT NOT NULL,
    max_execution_time REAL,
    seed INTEGER,
    summary TEXT NOT NULL,
    quantum_seconds REAL,
    owner TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_instance ON jobs (instance, created);
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE TABLE job_tags (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (job_id, tag)
);
CREATE INDEX tags_by_tag ON job_tags (tag);
CREATE TABLE results (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    body TEXT NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    reason_code INTEGER,
    message TEXT NOT NULL
);
CREATE INDEX events_by_job ON events (job_id, seq);
CREATE TABLE owners (owner TEXT PRIMARY KEY, heartbeat REAL NOT NULL);
"""

_JOB_COLUMNS = (
    "seq, id, instance, program_id, backend, status, reason, reason_code, created, running, "
    "finished, session_id, max_execution_time, seed, summary, quantum_seconds, owner, attempts, "
    "cancel_requested"
)


class StoreError(Exception):
    """The database file cannot be used (newer schema, not a database, ...)."""


def utc_iso(moment: datetime | None = None) -> str:
    """Format *moment* (default now) as UTC ISO 8601 with microseconds and a ``Z``.

    Fixed width, so stored strings sort in time order.
    """
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_job_id() -> str:
    """Return a fresh IBM-style job id: 20 lowercase alphanumerics starting with a letter."""
    alphabet = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(alphabet) for _ in range(19)
    )


@dataclass
class JobRecord:
    """One job row, params and result excluded unless asked for."""

    id: str
    instance: str
    program_id: str
    backend: str
    status: str
    created: str
    summary: dict[str, Any]
    seq: int = 0
    reason: str | None = None
    reason_code: int | None = None
    running: str | None = None
    finished: str | None = None
    session_id: str | None = None
    max_execution_time: float | None = None
    seed: int | None = None
    quantum_seconds: float | None = None
    owner: str | None = None
    attempts: int = 0
    cancel_requested: bool = False
    tags: list[str] = field(default_factory=list)
    params: str | None = None


@dataclass(frozen=True)
class JobEvent:
    """One state change of a job, as the stream and ``/logs`` report it."""

    seq: int
    at: str
    status: str
    reason: str | None
    reason_code: int | None
    message: str


@dataclass(frozen=True)
class JobFilters:
    """The filters of ``GET /jobs`` (PROTOCOL.md §3.3)."""

    pending: bool | None = None
    program: str | None = None
    backend: str | None = None
    session_id: str | None = None
    tags: Sequence[str] = ()
    created_after: str | None = None
    created_before: str | None = None


class Store:
    """Thread-safe access to one emulator database file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) where they span statements.
        self._db = sqlite3.connect(
            str(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"cannot use {path} as an emulator database: {exc}") from exc

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database schema version {version} is newer than this emulator's "
                    f"({SCHEMA_VERSION}); upgrade qcourier"
                )
            if version == 0:
                # executescript would COMMIT the open transaction, so run statements one by one.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- metadata -----------------------------------------------------------------------------

    def setting(self, name: str, default: Callable[[], str]) -> str:
        """Return the stored value *name*, storing ``default()`` first if there is none.

        Atomic across processes: two servers starting on a fresh file agree on one value.
        """
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return str(row["value"])
            value = default()
            db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (name, value))
            return value

    # -- jobs ---------------------------------------------------------------------------------

    def insert(self, job: JobRecord, params: str) -> None:
        """Store a new Queued job with its raw params text and tags."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO jobs (id, instance, program_id, backend, status, created, session_id,"
                " params, max_execution_time, seed, summary) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job.id,
                    job.instance,
                    job.program_id,
                    job.backend,
                    QUEUED,
                    job.created,
                    job.session_id,
                    params,
                    job.max_execution_time,
                    job.seed,
                    json.dumps(job.summary),
                ),
            )
            job.seq = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT OR IGNORE INTO job_tags (job_id, tag) VALUES (?, ?)",
                [(job.id, tag) for tag in job.tags],
            )
            self._event(db, job.id, QUEUED, None, None, "Job queued.")

    def get(self, job_id: str, instance: str | None, with_params: bool = False) -> JobRecord | None:
        """Return job *job_id* if it exists and belongs to *instance* (``None``: any instance)."""
        with self._lock:
            sql = f"SELECT {_JOB_COLUMNS}{', params' if with_params else ''} FROM jobs WHERE id = ?"
            args: list[Any] = [job_id]
            if instance is not None:
                sql += " AND instance = ?"
                args.append(instance)
            row = self._db.execute(sql, args).fetchone()
            if row is None:
                return None
            return self._records([row], with_params)[0]

    def list_jobs(
        self,
        instance: str,
        filters: JobFilters,
        limit: int,
        offset: int,
        ascending: bool,
        with_params: bool,
    ) -> tuple[list[JobRecord], int]:
        """Return one page of *instance*'s jobs and the exact count matching *filters*."""
        where: list[str] = ["instance = ?"]
        args: list[Any] = [instance]
        if filters.pending is not None:
            wanted = (QUEUED, RUNNING) if filters.pending else tuple(FINAL_STATUSES)
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            args.extend(wanted)
        for column, value in (
            ("program_id", filters.program),
            ("backend", filters.backend),
            ("session_id", filters.session_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if filters.created_after is not None:
            where.append("created >= ?")
            args.append(filters.created_after)
        if filters.created_before is not None:
            where.append("created <= ?")
            args.append(filters.created_before)
        tags = sorted(set(filters.tags))
        if tags:
            where.append(
                f"id IN (SELECT job_id FROM job_tags WHERE tag IN ({','.join('?' * len(tags))})"
                " GROUP BY job_id HAVING COUNT(*) = ?)"
            )
            args.extend([*tags, len(tags)])
        clause = " AND ".join(where)
        order = "ASC" if ascending else "DESC"
        with self._lock:
            count = self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE {clause}", args).fetchone()[
                0
            ]
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS}{', params' if with_params else ''} FROM jobs"
                f" WHERE {clause} ORDER BY created {order}, seq {order} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            return self._records(rows, with_params), int(count)

    def _records(self, rows: Sequence[sqlite3.Row], with_params: bool) -> list[JobRecord]:
        ids = [row["id"] for row in rows]
        tags: dict[str, list[str]] = {job_id: [] for job_id in ids}
        if ids:
            for tag_row in self._db.execute(
                f"SELECT job_id, tag FROM job_tags WHERE job_id IN ({','.join('?' * len(ids))})"
                " ORDER BY tag",
                ids,
            ):
                tags[tag_row["job_id"]].append(tag_row["tag"])
        return [
            JobRecord(
                seq=row["seq"],
                id=row["id"],
                instance=row["instance"],
                program_id=row["program_id"],
                backend=row["backend"],
                status=row["status"],
                reason=row["reason"],
                reason_code=row["reason_code"],
                created=row["created"],
                running=row["running"],
                finished=row["finished"],
                session_id=row["session_id"],
                max_execution_time=row["max_execution_time"],
                seed=row["seed"],
                summary=json.loads(row["summary"]),
                quantum_seconds=row["quantum_seconds"],
                owner=row["owner"],
                attempts=row["attempts"],
                cancel_requested=bool(row["cancel_requested"]),
                tags=tags[row["id"]],
                params=row["params"] if with_params else None,
            )
            for row in rows
        ]

    def replace_tags(self, job_id: str, instance: str, tags: Sequence[str]) -> bool:
        """Replace the tags of one of *instance*'s jobs; ``False`` if there is no such job."""
        with self._transaction() as db:
            if not self._owned(db, job_id, instance):
                return False
            db.execute("DELETE FROM job_tags WHERE job_id = ?", (job_id,))
            db.executemany(
                "INSERT OR IGNORE INTO job_tags (job_id, tag) VALUES (?, ?)",
                [(job_id, tag) for tag in tags],
            )
            return True

    def delete(self, job_id: str, instance: str) -> str | None:
        """Delete a final job.

        :returns: ``None`` when deleted, else the job's status, or ``"missing"``.
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT status FROM jobs WHERE id = ? AND instance = ?", (job_id, instance)
            ).fetchone()
            if row is None:
                return "missing"
            if row["status"] not in FINAL_STATUSES:
                return str(row["status"])
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            return None

    def request_cancel(self, job_id: str, instance: str) -> str:
        """Cancel a job: at once if Queued, at the worker's next safe point if Running.

        :returns: ``"cancelled"``, ``"requested"``, ``"final"`` or ``"missing"``.
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT status FROM jobs WHERE id = ? AND instance = ?", (job_id, instance)
            ).fetchone()
            if row is None:
                return "missing"
            if row["status"] == QUEUED:
                self._set_final(db, job_id, CANCELLED, None, None, "Job cancelled by the user.")
                return "cancelled"
            if row["status"] == RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                return "requested"
            return "final"

    def cancel_requested(self, job_id: str) -> bool:
        """Whether a cancel was asked for while *job_id* was running (any process)."""
        with self._lock:
            row = self._db.execute(
                "SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            return row is None or bool(row["cancel_requested"])

    def params(self, job_id: str) -> str:
        """Return the raw params text of *job_id*."""
        with self._lock:
            row = self._db.execute("SELECT params FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            return str(row["params"])

    def result(self, job_id: str) -> str | None:
        """Return the stored result text of *job_id*, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM results WHERE job_id = ?", (job_id,)
            ).fetchone()
            return None if row is None else str(row["body"])

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        """Return the state changes of *job_id* with a sequence number above *after*."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, at, status, reason, reason_code, message FROM events"
                " WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after),
            ).fetchall()
        return [JobEvent(**dict(row)) for row in rows]

    def queue_positions(self, job: JobRecord) -> tuple[int, int] | None:
        """Return the 1-based position of a Queued job overall and within its instance."""
        if job.status != QUEUED:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) AS overall, SUM(instance = ?) AS own FROM jobs"
                " WHERE status = ? AND seq <= ?",
                (job.instance, QUEUED, job.seq),
            ).fetchone()
        return int(row["overall"]), int(row["own"] or 0)

    def queue_length(self, backend: str) -> int:
        """Return how many jobs wait or run on *backend*."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE backend = ? AND status IN (?, ?)",
                (backend, QUEUED, RUNNING),
            ).fetchone()
        return int(row[0])

    def usage_seconds(self, instance: str) -> float:
        """Return the execution seconds *instance*'s jobs consumed."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(quantum_seconds), 0) FROM jobs WHERE instance = ?",
                (instance,),
            ).fetchone()
        return float(row[0])

    # -- execution ----------------------------------------------------------------------------

    def beat(self, owner: str) -> None:
        """Record that *owner* is alive."""
        with self._lock:
            self._db.execute(
                "INSERT INTO owners (owner, heartbeat) VALUES (?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET heartbeat = excluded.heartbeat",
                (owner, time.time()),
            )

    def retire(self, owner: str) -> None:
        """Give back *owner*'s Running jobs to the queue and drop its heartbeat row."""
        with self._transaction() as db:
            for row in db.execute(
                "SELECT id FROM jobs WHERE owner = ? AND status = ?", (owner, RUNNING)
            ).fetchall():
                self._requeue(db, row["id"], "Job re-queued: the emulator stopped during the run.")
            db.execute("DELETE FROM owners WHERE owner = ?", (owner,))

    def claim(self, owner: str) -> JobRecord | None:
        """Move the oldest Queued job to Running for *owner*, atomically across processes."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE status = ? ORDER BY seq LIMIT 1", (QUEUED,)
            ).fetchone()
            if row is None:
                return None
            now = utc_iso()
            updated = db.execute(
                "UPDATE jobs SET status = ?, owner = ?, running = COALESCE(running, ?),"
                " attempts = attempts + 1 WHERE id = ? AND status = ?",
                (RUNNING, owner, now, row["id"], QUEUED),
            ).rowcount
            if updated != 1:
                return None
            self._event(db, row["id"], RUNNING, None, None, "Job running.")
        return self.get(row["id"], None)

    def finish(
        self,
        job_id: str,
        owner: str,
        status: str,
        reason: str | None,
        reason_code: int | None,
        result: str | None,
        quantum_seconds: float,
        message: str,
    ) -> bool:
        """Record the end of a job *owner* runs; ``False`` if *owner* no longer holds it."""
        with self._transaction() as db:
            held = db.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND owner = ? AND status = ?",
                (job_id, owner, RUNNING),
            ).fetchone()
            if held is None:
                return False
            if result is not None:
                db.execute(
                    "INSERT OR REPLACE INTO results (job_id, body) VALUES (?, ?)", (job_id, result)
                )
            db.execute(
                "UPDATE jobs SET quantum_seconds = ? WHERE id = ?", (quantum_seconds, job_id)
            )
            self._set_final(db, job_id, status, reason, reason_code, message)
            return True

    def recover(
        self, lease_seconds: float, owner_is_dead: Callable[[str], bool], max_attempts: int
    ) -> int:
        """Take back Running jobs whose owner is gone: re-queue them, or fail them for good.

        An owner is gone when its heartbeat is older than *lease_seconds* or *owner_is_dead*
        says so. A job is failed rather than re-queued once it was started *max_attempts* times,
        so a circuit that kills its process cannot crash every restart.

        :returns: how many jobs were taken back.
        """
        stale_before = time.time() - lease_seconds
        taken = 0
        with self._transaction() as db:
            rows = db.execute(
                "SELECT jobs.id, jobs.owner, jobs.attempts, owners.heartbeat FROM jobs"
                " LEFT JOIN owners ON owners.owner = jobs.owner WHERE jobs.status = ?",
                (RUNNING,),
            ).fetchall()
            for row in rows:
                beat = row["heartbeat"]
                if beat is not None and beat >= stale_before and not owner_is_dead(row["owner"]):
                    continue
                taken += 1
                if row["attempts"] >= max_attempts:
                    self._set_final(
                        db,
                        row["id"],
                        FAILED,
                        f"The emulator process running this job stopped {row['attempts']} times.",
                        _REASON_LOST,
                        "Job failed: its emulator process died repeatedly.",
                    )
                else:
                    self._requeue(db, row["id"], "Job re-queued: its emulator process died.")
            db.execute("DELETE FROM owners WHERE heartbeat < ?", (stale_before,))
        return taken

    # -- helpers for the methods above --------------------------------------------------------

    @staticmethod
    def _owned(db: sqlite3.Connection, job_id: str, instance: str) -> bool:
        return (
            db.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND instance = ?", (job_id, instance)
            ).fetchone()
            is not None
        )

    @staticmethod
    def _event(
        db: sqlite3.Connection,
        job_id: str,
        status: str,
        reason: str | None,
        reason_code: int | None,
        message: str,
    ) -> None:
        db.execute(
            "INSERT INTO events (job_id, at, status, reason, reason_code, message)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, utc_iso(), status, reason, reason_code, message),
        )

    def _set_final(
        self,
        db: sqlite3.Connection,
        job_id: str,
        status: str,
        reason: str | None,
        reason_code: int | None,
        message: str,
    ) -> None:
        db.execute(
            "UPDATE jobs SET status = ?, reason = ?, reason_code = ?, finished = ?, owner = NULL"
            " WHERE id = ?",
            (status, reason, reason_code, utc_iso(), job_id),
        )
        self._event(db, job_id, status, reason, reason_code, message)

    def _requeue(self, db: sqlite3.Connection, job_id: str, message: str) -> None:
        db.execute(
            "UPDATE jobs SET status = ?, owner = NULL, running = NULL WHERE id = ?",
            (QUEUED, job_id),
        )
        self._event(db, job_id, QUEUED, None, None, message)


#: reason_code of a job failed because its emulator process kept dying (emulator-specific).
_REASON_LOST = 1599

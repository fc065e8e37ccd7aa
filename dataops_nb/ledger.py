"""The ledger: one SQLite database (WAL) with runs, steps, datasets, versions, lineage.

Only the runner and the service write it; a step writes its manifest and the runner
commits. The schema carries a version (`PRAGMA user_version`) and migrates forward,
so a newer kit opens an older project.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Each entry moves the schema from version i to i+1. Append; never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        run_id      TEXT PRIMARY KEY,
        status      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        ended_at    TEXT,
        git_commit  TEXT,
        git_dirty   INTEGER,
        user        TEXT,
        environment TEXT,
        params      TEXT NOT NULL DEFAULT '{}',
        selection   TEXT NOT NULL DEFAULT '[]',
        pid         INTEGER,
        host        TEXT,
        message     TEXT
    );
    CREATE TABLE step_runs (
        run_id          TEXT NOT NULL REFERENCES runs(run_id),
        step            TEXT NOT NULL,
        status          TEXT NOT NULL,
        attempt         INTEGER NOT NULL DEFAULT 0,
        started_at      TEXT,
        ended_at        TEXT,
        duration_s      REAL,
        output_notebook TEXT,
        error           TEXT,
        fingerprint     TEXT,
        PRIMARY KEY (run_id, step)
    );
    CREATE TABLE datasets (
        name        TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        owner       TEXT,
        tags        TEXT NOT NULL DEFAULT '[]',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE dataset_versions (
        version_id  TEXT PRIMARY KEY,
        dataset     TEXT NOT NULL REFERENCES datasets(name),
        run_id      TEXT,
        step        TEXT,
        path        TEXT NOT NULL,
        rows        INTEGER,
        bytes       INTEGER,
        schema      TEXT NOT NULL DEFAULT '[]',
        status      TEXT NOT NULL CHECK (status IN ('staged','current','superseded','quarantined')),
        created_at  TEXT NOT NULL,
        promoted_at TEXT
    );
    CREATE INDEX dataset_versions_by_dataset ON dataset_versions(dataset, status);
    CREATE UNIQUE INDEX one_current_version ON dataset_versions(dataset) WHERE status = 'current';
    CREATE TABLE lineage (
        version_id       TEXT NOT NULL REFERENCES dataset_versions(version_id),
        input_version_id TEXT NOT NULL REFERENCES dataset_versions(version_id),
        PRIMARY KEY (version_id, input_version_id)
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN resumed_from TEXT;
    """,
    """
    CREATE TABLE check_results (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id      TEXT,
        step        TEXT,
        dataset     TEXT NOT NULL,
        version_id  TEXT NOT NULL,
        check_name  TEXT NOT NULL,
        kind        TEXT NOT NULL,
        column_name TEXT,
        origin      TEXT NOT NULL,
        severity    TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('pass','warn','error')),
        rows        INTEGER,
        failing     INTEGER,
        fraction    REAL,
        observed    REAL,
        message     TEXT,
        sample      TEXT NOT NULL DEFAULT '[]',
        sql         TEXT,
        duration_s  REAL,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX check_results_by_dataset ON check_results(dataset, check_name, id);
    CREATE TABLE reviews (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        target     TEXT NOT NULL,
        dataset    TEXT,
        version_id TEXT,
        check_id   INTEGER REFERENCES check_results(id),
        decision   TEXT NOT NULL CHECK (decision IN ('accept','waive','quarantine','comment')),
        reason     TEXT NOT NULL,
        user       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX reviews_by_version ON reviews(version_id);
    """,
]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class VersionRecord:
    version_id: str
    dataset: str
    run_id: str | None
    step: str | None
    path: str
    rows: int | None
    bytes: int | None
    schema: list[dict[str, str]]
    status: str
    created_at: str


class Ledger:
    """A thread-safe handle on `ledger.db`. Writes go through `transaction()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._con = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.execute("PRAGMA foreign_keys=ON")
        self._con.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    # --- plumbing ---------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                from .errors import DataOpsError

                raise DataOpsError(
                    f"{self.path} was written by a newer dataops-nb (schema {version}); "
                    "upgrade the kit to open it."
                )
            for index in range(version, len(MIGRATIONS)):
                self._con.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(MIGRATIONS[index]):
                        self._con.execute(statement)
                    self._con.execute(f"PRAGMA user_version = {index + 1}")
                    self._con.execute("COMMIT")
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._con.execute(sql, tuple(args)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def integrity(self) -> str:
        return str(self.query("PRAGMA integrity_check")[0][0])

    # --- runs -------------------------------------------------------------------

    def open_run(self, run_id: str, **fields: Any) -> None:
        fields = {**fields, "params": json.dumps(fields.get("params", {}), default=str)}
        fields["selection"] = json.dumps(fields.get("selection", []))
        columns = ["run_id", "status", "started_at", *fields]
        values = [run_id, "running", now(), *fields.values()]
        with self.transaction() as con:
            con.execute(
                f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(values))})",
                values,
            )

    def end_run(self, run_id: str, status: str, message: str | None = None) -> None:
        with self.transaction() as con:
            con.execute(
                "UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE run_id = ?",
                (status, now(), message, run_id),
            )

    def reap_dead_runs(self, host: str) -> list[str]:
        """Runs left `running` by a process that no longer exists become `interrupted`."""
        dead = []
        for row in self.query("SELECT run_id, pid, host FROM runs WHERE status = 'running'"):
            if row["host"] == host and row["pid"] and not _alive(row["pid"]):
                dead.append(row["run_id"])
        for run_id in dead:
            with self.transaction() as con:
                con.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ?, "
                    "message = 'the runner process died' WHERE run_id = ? AND status = 'running'",
                    (now(), run_id),
                )
                con.execute(
                    "UPDATE step_runs SET status = 'interrupted' "
                    "WHERE run_id = ? AND status IN ('running', 'pending')",
                    (run_id,),
                )
        return dead

    def set_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Insert or update one step run's row."""
        with self.transaction() as con:
            con.execute(
                "INSERT INTO step_runs (run_id, step, status) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, step) DO NOTHING",
                (run_id, step, fields.get("status", "pending")),
            )
            if fields:
                assignments = ", ".join(f"{key} = ?" for key in fields)
                con.execute(
                    f"UPDATE step_runs SET {assignments} WHERE run_id = ? AND step = ?",
                    (*fields.values(), run_id, step),
                )

    def runs(self, limit: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM runs ORDER BY run_id DESC" + (" LIMIT ?" if limit else "")
        return self.query(sql, (limit,) if limit else ())

    def run(self, run_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    def step_runs(self, run_id: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM step_runs WHERE run_id = ? ORDER BY rowid", (run_id,))

    def last_step_runs(self) -> dict[str, sqlite3.Row]:
        """The latest executed (not skipped) run of each step."""
        rows = self.query(
            "SELECT s.* FROM step_runs s WHERE s.status NOT IN ('skipped', 'pending', 'fresh') "
            "ORDER BY s.run_id"
        )
        return {row["step"]: row for row in rows}

    # --- datasets and versions ---------------------------------------------------

    def stage_version(
        self,
        con: sqlite3.Connection,
        version: VersionRecord,
        inputs: Iterable[str],
        *,
        description: str = "",
        owner: str | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        """Record a staged version (inside a caller's transaction)."""
        stamp = now()
        con.execute(
            "INSERT INTO datasets (name, description, owner, tags, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "description = excluded.description, owner = excluded.owner, "
            "tags = excluded.tags, updated_at = excluded.updated_at",
            (version.dataset, description, owner, json.dumps(list(tags)), stamp, stamp),
        )
        con.execute(
            "INSERT OR REPLACE INTO dataset_versions (version_id, dataset, run_id, step, path, "
            "rows, bytes, schema, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version.version_id,
                version.dataset,
                version.run_id,
                version.step,
                version.path,
                version.rows,
                version.bytes,
                json.dumps(version.schema),
                version.status,
                version.created_at,
            ),
        )
        con.executemany(
            "INSERT OR IGNORE INTO lineage (version_id, input_version_id) VALUES (?, ?)",
            [(version.version_id, source) for source in inputs],
        )

    def promote(self, con: sqlite3.Connection, version_ids: Iterable[str]) -> None:
        """Make staged versions current, superseding the old ones (caller's transaction)."""
        stamp = now()
        for version_id in version_ids:
            (dataset,) = con.execute(
                "SELECT dataset FROM dataset_versions WHERE version_id = ?", (version_id,)
            ).fetchone()
            con.execute(
                "UPDATE dataset_versions SET status = 'superseded' "
                "WHERE dataset = ? AND status = 'current'",
                (dataset,),
            )
            con.execute(
                "UPDATE dataset_versions SET status = 'current', promoted_at = ? WHERE version_id = ?",
                (stamp, version_id),
            )

    def set_version_status(self, con: sqlite3.Connection, version_ids: Iterable[str], status: str) -> None:
        con.executemany(
            "UPDATE dataset_versions SET status = ? WHERE version_id = ?",
            [(status, version_id) for version_id in version_ids],
        )

    def current_versions(self) -> dict[str, VersionRecord]:
        rows = self.query("SELECT * FROM dataset_versions WHERE status = 'current' ORDER BY dataset")
        return {row["dataset"]: _version(row) for row in rows}

    def versions(self, dataset: str) -> list[VersionRecord]:
        rows = self.query(
            "SELECT * FROM dataset_versions WHERE dataset = ? ORDER BY created_at DESC, version_id DESC",
            (dataset,),
        )
        return [_version(row) for row in rows]

    def versions_of_run(self, run_id: str) -> list[VersionRecord]:
        rows = self.query("SELECT * FROM dataset_versions WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [_version(row) for row in rows]

    def record_checks(self, con: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> None:
        """Append check results (inside the caller's transaction); never overwrites."""
        stamp = now()
        for row in rows:
            row = {**row, "sample": json.dumps(row.get("sample", []), default=str), "created_at": stamp}
            columns = ", ".join(row)
            con.execute(
                f"INSERT INTO check_results ({columns}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )

    def check_history(self, dataset: str, limit: int = 30) -> dict[str, list[float]]:
        """Observed values of each check on earlier versions of `dataset`, oldest first."""
        rows = self.query(
            "SELECT check_name, observed FROM check_results WHERE dataset = ? AND observed IS NOT NULL "
            "AND version_id IN (SELECT version_id FROM dataset_versions WHERE status IN ('current', 'superseded')) "
            "ORDER BY id",
            (dataset,),
        )
        history: dict[str, list[float]] = {}
        for row in rows:
            history.setdefault(row["check_name"], []).append(float(row["observed"]))
        return {name: values[-limit:] for name, values in history.items()}

    def inputs_of(self, version_id: str) -> list[str]:
        rows = self.query("SELECT input_version_id FROM lineage WHERE version_id = ?", (version_id,))
        return [row[0] for row in rows]


def _version(row: sqlite3.Row) -> VersionRecord:
    return VersionRecord(
        version_id=row["version_id"],
        dataset=row["dataset"],
        run_id=row["run_id"],
        step=row["step"],
        path=row["path"],
        rows=row["rows"],
        bytes=row["bytes"],
        schema=json.loads(row["schema"]),
        status=row["status"],
        created_at=row["created_at"],
    )


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]

"""The ledger: one SQLite database (WAL) with runs, steps, datasets, versions, lineage.

Only the runner and the service write it; a step writes its manifest and the runner
commits. The schema carries a version (`PRAGMA user_version`) and migrates forward,
so a newer kit opens an older project.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union

# Each entry moves the schema from version i to i+1. Append; never edit a shipped one.
# Run ids are time-sortable: 20261125-093012-1234abc (UTC time, milliseconds, random hex).
RUN_ID = re.compile(r"^\d{8}-\d{6}-\d{3}[0-9a-f]{4}$")


def validate_run_id(run_id: str, *, what: str = "run id") -> str:
    if not RUN_ID.match(str(run_id)):
        from .errors import DataOpsError

        raise DataOpsError(f"'{run_id}' is not a {what} (run ids look like 20261125-104031-726987c).")
    return str(run_id)


# Each migration is SQL, or a function of the connection for what SQL's ALTER cannot say.
Migration = Union[str, Callable[[sqlite3.Connection], None]]

MIGRATIONS: list[Migration] = [
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
    # the catalog: spec metadata, columns, per-version profiles, column tags, full-text index
    """
    ALTER TABLE datasets ADD COLUMN freshness TEXT;
    ALTER TABLE datasets ADD COLUMN in_spec INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE datasets ADD COLUMN fts_id INTEGER;
    CREATE TABLE dataset_columns (
        dataset     TEXT NOT NULL REFERENCES datasets(name),
        name        TEXT NOT NULL,
        position    INTEGER,
        type        TEXT,
        spec_type   TEXT,
        description TEXT NOT NULL DEFAULT '',
        in_spec     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (dataset, name)
    );
    CREATE TABLE column_tags (
        dataset     TEXT NOT NULL,
        column_name TEXT NOT NULL,
        tag         TEXT NOT NULL,
        source      TEXT NOT NULL CHECK (source IN ('spec', 'auto')),
        kind        TEXT,
        confidence  REAL,
        version_id  TEXT,
        PRIMARY KEY (dataset, column_name, tag, source)
    );
    CREATE INDEX column_tags_by_tag ON column_tags(tag, dataset);
    CREATE TABLE column_profiles (
        version_id      TEXT NOT NULL REFERENCES dataset_versions(version_id),
        column_name     TEXT NOT NULL,
        position        INTEGER NOT NULL,
        type            TEXT,
        null_count      INTEGER,
        approx_distinct INTEGER,
        min_value       TEXT,
        max_value       TEXT,
        pii_kind        TEXT,
        pii_confidence  REAL,
        PRIMARY KEY (version_id, column_name)
    );
    CREATE TABLE catalog_meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE VIRTUAL TABLE catalog_fts USING fts5(
        name, description, tags, owner, columns, column_descriptions, prefix = '2 3'
    );
    INSERT INTO dataset_columns (dataset, name, position, type)
        SELECT v.dataset, json_extract(j.value, '$.name'), CAST(j.key AS INTEGER), json_extract(j.value, '$.type')
        FROM dataset_versions v, json_each(v.schema) j WHERE v.status = 'current';
    INSERT INTO catalog_fts (name, description, tags, owner, columns, column_descriptions)
        SELECT d.name, d.description,
               coalesce((SELECT group_concat(value, ' ') FROM json_each(d.tags)), ''), coalesce(d.owner, ''),
               coalesce((SELECT group_concat(c.name, ' ') FROM dataset_columns c WHERE c.dataset = d.name), ''), ''
        FROM datasets d;
    UPDATE datasets SET fts_id = (SELECT f.rowid FROM catalog_fts f WHERE f.name = datasets.name);
    CREATE UNIQUE INDEX datasets_by_fts_id ON datasets(fts_id);
    ALTER TABLE datasets ADD COLUMN table_name TEXT GENERATED ALWAYS AS (substr(name, instr(name, '.') + 1)) VIRTUAL;
    CREATE INDEX datasets_by_table_name ON datasets(table_name);
    """,
    # v5: the SQL that made a version (column lineage) and gc's deleted versions
    """
    ALTER TABLE dataset_versions ADD COLUMN sql TEXT;
    ALTER TABLE dataset_versions ADD COLUMN deleted_at TEXT;
    """,
    lambda con: _allow_status(con, "dataset_versions", "deleted"),
    # v7: version paths relative to the store root, so a copied or moved project reads its own files
    lambda con: _relative_version_paths(con),
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
    # from the step's manifest at publish; not read back by `versions()` (see column_profiles)
    profile: list[dict[str, Any]] | None = None
    pii: dict[str, dict[str, Any]] | None = None


class Ledger:
    """A thread-safe handle on `ledger.db`. Writes go through `transaction()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # the ledger lives at the store's root; version paths are stored relative to it
        self.store_root = path.parent.resolve()
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
                    migration = MIGRATIONS[index]
                    if callable(migration):
                        migration(self._con)
                    else:
                        for statement in _statements(migration):
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
        freshness: dict[str, Any] | None = None,
        columns: dict[str, dict[str, Any]] | None = None,
        in_spec: bool = False,
        sql: str | None = None,
    ) -> None:
        """Record a staged version (inside a caller's transaction); `sql` made it, when known.

        The dataset's spec metadata (description, owner, tags, freshness SLA, columns) is
        refreshed, and the version's column profile and auto-flagged PII are kept.
        """
        write_dataset_meta(
            con, version.dataset, description=description, owner=owner, tags=tags,
            freshness=freshness, columns=columns or {}, in_spec=in_spec,
        )
        con.execute(
            "INSERT OR REPLACE INTO dataset_versions (version_id, dataset, run_id, step, path, "
            "rows, bytes, schema, status, created_at, sql) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version.version_id,
                version.dataset,
                version.run_id,
                version.step,
                stored_path(version.path, self.store_root),
                version.rows,
                version.bytes,
                json.dumps(version.schema),
                version.status,
                version.created_at,
                sql,
            ),
        )
        con.executemany(
            "INSERT OR IGNORE INTO lineage (version_id, input_version_id) VALUES (?, ?)",
            [(version.version_id, source) for source in inputs],
        )
        if version.profile is not None:
            pii = version.pii or {}
            con.execute("DELETE FROM column_profiles WHERE version_id = ?", (version.version_id,))
            con.executemany(
                "INSERT INTO column_profiles (version_id, column_name, position, type, null_count, "
                "approx_distinct, min_value, max_value, pii_kind, pii_confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        version.version_id, col["name"], position, col.get("type"), col.get("null_count"),
                        col.get("approx_distinct"), json.dumps(col.get("min")), json.dumps(col.get("max")),
                        pii.get(col["name"], {}).get("kind"), pii.get(col["name"], {}).get("confidence"),
                    )
                    for position, col in enumerate(version.profile)
                ],
            )
        reindex_dataset(con, version.dataset)

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
            write_current_columns(con, dataset, version_id)

    def accept_quarantined(self, con: sqlite3.Connection, version_id: str) -> bool:
        """Promote an accepted quarantined version (caller's transaction). When none of its step
        run's versions is left in quarantine, that step run becomes `accepted`: it counts as a
        success for freshness (its fingerprint was kept), so the next run does not redo it.
        Returns whether the step run became accepted."""
        self.promote(con, [version_id])
        row = con.execute(
            "SELECT run_id, step FROM dataset_versions WHERE version_id = ?", (version_id,)
        ).fetchone()
        if row is None or row[0] is None or row[1] is None:
            return False
        left = con.execute(
            "SELECT 1 FROM dataset_versions WHERE run_id = ? AND step = ? AND status IN ('quarantined', 'staged')",
            (row[0], row[1]),
        ).fetchone()
        if left:
            return False
        changed = con.execute(
            "UPDATE step_runs SET status = 'accepted' WHERE run_id = ? AND step = ? AND status = 'failed' "
            "AND fingerprint IS NOT NULL",
            (row[0], row[1]),
        )
        return bool(changed.rowcount)

    def set_version_status(self, con: sqlite3.Connection, version_ids: Iterable[str], status: str) -> None:
        con.executemany(
            "UPDATE dataset_versions SET status = ? WHERE version_id = ?",
            [(status, version_id) for version_id in version_ids],
        )

    def current_versions(self) -> dict[str, VersionRecord]:
        rows = self.query("SELECT * FROM dataset_versions WHERE status = 'current' ORDER BY dataset")
        return {row["dataset"]: version_record(row, self.store_root) for row in rows}

    def versions(self, dataset: str) -> list[VersionRecord]:
        rows = self.query(
            "SELECT * FROM dataset_versions WHERE dataset = ? ORDER BY created_at DESC, version_id DESC",
            (dataset,),
        )
        return [version_record(row, self.store_root) for row in rows]

    def versions_of_run(self, run_id: str) -> list[VersionRecord]:
        rows = self.query("SELECT * FROM dataset_versions WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [version_record(row, self.store_root) for row in rows]

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

    def check_history(
        self, dataset: str, limit: int = 30, *, excluding: str | None = None
    ) -> dict[str, list[float]]:
        """Observed values of each check on earlier versions of `dataset`, oldest first.

        One value per version (its latest result: re-checks add results, not history),
        leaving out `excluding`, the version under check.
        """
        rows = self.query(
            "SELECT c.check_name, c.observed FROM check_results c JOIN dataset_versions v USING (version_id) "
            "WHERE c.id IN (SELECT max(id) FROM check_results WHERE dataset = ? AND observed IS NOT NULL "
            "GROUP BY version_id, check_name) "
            "AND v.status IN ('current', 'superseded') AND v.version_id IS NOT ? "
            "ORDER BY v.created_at, v.version_id",
            (dataset, excluding),
        )
        history: dict[str, list[float]] = {}
        for row in rows:
            history.setdefault(row["check_name"], []).append(float(row["observed"]))
        return {name: values[-limit:] for name, values in history.items()}

    def inputs_of(self, version_id: str) -> list[str]:
        rows = self.query("SELECT input_version_id FROM lineage WHERE version_id = ?", (version_id,))
        return [row[0] for row in rows]

    def outputs_of(self, version_ids: Iterable[str]) -> list[str]:
        """Versions that read any of `version_ids`."""
        ids = list(version_ids)
        if not ids:
            return []
        rows = self.query(
            f"SELECT DISTINCT version_id FROM lineage WHERE input_version_id IN ({', '.join('?' * len(ids))})", ids
        )
        return [row[0] for row in rows]

    # --- catalog ----------------------------------------------------------------------

    def dataset(self, name: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM datasets WHERE name = ?", (name,))
        return rows[0] if rows else None

    def dataset_names(self) -> list[str]:
        return [row[0] for row in self.query("SELECT name FROM datasets ORDER BY name")]

    def dataset_columns(self, dataset: str) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM dataset_columns WHERE dataset = ? "
            "ORDER BY position IS NULL, position, name",
            (dataset,),
        )

    def column_tags(self, dataset: str) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM column_tags WHERE dataset = ? ORDER BY column_name, source, tag", (dataset,)
        )

    def column_profiles(self, version_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM column_profiles WHERE version_id = ? ORDER BY position", (version_id,)
        )
        return [
            {
                "name": r["column_name"], "type": r["type"], "null_count": r["null_count"],
                "approx_distinct": r["approx_distinct"], "min": json.loads(r["min_value"] or "null"),
                "max": json.loads(r["max_value"] or "null"), "pii_kind": r["pii_kind"],
                "pii_confidence": r["pii_confidence"],
            }
            for r in rows
        ]

    def auto_pii(self, dataset: str, version_id: str | None = None) -> set[str]:
        """Columns flagged as PII on publish: on the current version, and on `version_id`."""
        rows = self.query(
            "SELECT column_name FROM column_tags WHERE dataset = ? AND tag = 'pii' AND source = 'auto' "
            "UNION SELECT column_name FROM column_profiles WHERE version_id = ? AND pii_kind IS NOT NULL",
            (dataset, version_id or ""),
        )
        return {row[0] for row in rows}

    def meta_value(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM catalog_meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None


def write_dataset_meta(
    con: sqlite3.Connection,
    name: str,
    *,
    description: str = "",
    owner: str | None = None,
    tags: Iterable[str] = (),
    freshness: dict[str, Any] | None = None,
    columns: dict[str, dict[str, Any]] | None = None,
    in_spec: bool = False,
) -> None:
    """A dataset's spec metadata and its spec columns and column tags (caller's transaction)."""
    stamp = now()
    con.execute(
        "INSERT INTO datasets (name, description, owner, tags, freshness, in_spec, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "description = excluded.description, owner = excluded.owner, tags = excluded.tags, "
        "freshness = excluded.freshness, in_spec = excluded.in_spec, updated_at = excluded.updated_at",
        (name, description, owner, json.dumps(list(tags)), json.dumps(freshness) if freshness else None,
         int(in_spec), stamp, stamp),
    )
    columns = columns or {}
    con.execute(
        "UPDATE dataset_columns SET in_spec = 0, description = '', spec_type = NULL WHERE dataset = ?", (name,)
    )
    con.executemany(
        "INSERT INTO dataset_columns (dataset, name, spec_type, description, in_spec) VALUES (?, ?, ?, ?, 1) "
        "ON CONFLICT (dataset, name) DO UPDATE SET spec_type = excluded.spec_type, "
        "description = excluded.description, in_spec = 1",
        [(name, column, info.get("type"), info.get("description") or "") for column, info in columns.items()],
    )
    con.execute("DELETE FROM dataset_columns WHERE dataset = ? AND in_spec = 0 AND position IS NULL", (name,))
    con.execute("DELETE FROM column_tags WHERE dataset = ? AND source = 'spec'", (name,))
    con.executemany(
        "INSERT OR IGNORE INTO column_tags (dataset, column_name, tag, source) VALUES (?, ?, ?, 'spec')",
        [(name, column, tag) for column, info in columns.items() for tag in info.get("tags") or ()],
    )


def write_current_columns(con: sqlite3.Connection, dataset: str, version_id: str) -> None:
    """Columns (order, type) and auto PII tags of the dataset follow its current version."""
    (schema,) = con.execute("SELECT schema FROM dataset_versions WHERE version_id = ?", (version_id,)).fetchone()
    con.execute("UPDATE dataset_columns SET position = NULL WHERE dataset = ?", (dataset,))
    con.executemany(
        "INSERT INTO dataset_columns (dataset, name, position, type) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (dataset, name) DO UPDATE SET position = excluded.position, type = excluded.type",
        [(dataset, col["name"], position, col["type"]) for position, col in enumerate(json.loads(schema))],
    )
    con.execute("DELETE FROM dataset_columns WHERE dataset = ? AND in_spec = 0 AND position IS NULL", (dataset,))
    flagged = con.execute(
        "SELECT column_name, pii_kind, pii_confidence FROM column_profiles "
        "WHERE version_id = ? AND pii_kind IS NOT NULL",
        (version_id,),
    ).fetchall()
    has_profile = con.execute("SELECT 1 FROM column_profiles WHERE version_id = ? LIMIT 1", (version_id,)).fetchone()
    if has_profile:  # a version without a profile (an older kit) keeps the earlier flags
        con.execute("DELETE FROM column_tags WHERE dataset = ? AND source = 'auto'", (dataset,))
        con.executemany(
            "INSERT INTO column_tags (dataset, column_name, tag, source, kind, confidence, version_id) "
            "VALUES (?, ?, 'pii', 'auto', ?, ?, ?)",
            [(dataset, column, kind, confidence, version_id) for column, kind, confidence in flagged],
        )
    reindex_dataset(con, dataset)


def reindex_dataset(con: sqlite3.Connection, dataset: str) -> None:
    """Rewrite the dataset's full-text row: tags holds the dataset's and its columns' tags."""
    row = con.execute("SELECT fts_id, name, description, tags, owner FROM datasets WHERE name = ?", (dataset,)).fetchone()
    if row is None:
        return
    fts_id, name, description, tags, owner = tuple(row)
    columns = con.execute(
        "SELECT name, description FROM dataset_columns WHERE dataset = ? ORDER BY position IS NULL, position, name",
        (dataset,),
    ).fetchall()
    column_tags = [r[0] for r in con.execute(
        "SELECT DISTINCT tag FROM column_tags WHERE dataset = ? ORDER BY tag", (dataset,)
    ).fetchall()]
    if fts_id is not None:
        con.execute("DELETE FROM catalog_fts WHERE rowid = ?", (fts_id,))
    cursor = con.execute(
        "INSERT INTO catalog_fts (name, description, tags, owner, columns, column_descriptions) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            name, description or "", " ".join([*json.loads(tags or "[]"), *column_tags]), owner or "",
            " ".join(c[0] for c in columns), " ".join(c[1] for c in columns if c[1]),
        ),
    )
    con.execute("UPDATE datasets SET fts_id = ? WHERE name = ?", (cursor.lastrowid, dataset))


def drop_dataset_entry(con: sqlite3.Connection, dataset: str) -> None:
    """Forget a dataset that has no versions (it left the spec before it was ever published)."""
    row = con.execute("SELECT fts_id FROM datasets WHERE name = ?", (dataset,)).fetchone()
    if row is None or con.execute("SELECT 1 FROM dataset_versions WHERE dataset = ? LIMIT 1", (dataset,)).fetchone():
        return
    if row[0] is not None:
        con.execute("DELETE FROM catalog_fts WHERE rowid = ?", (row[0],))
    con.execute("DELETE FROM column_tags WHERE dataset = ?", (dataset,))
    con.execute("DELETE FROM dataset_columns WHERE dataset = ?", (dataset,))
    con.execute("DELETE FROM datasets WHERE name = ?", (dataset,))


def stored_path(path: Path | str, store_root: Path) -> str:
    """A version's file as the ledger records it: relative to the store root (POSIX), so the
    record stays true when the project is copied or moved; a file outside the store stays absolute."""
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    for candidate, root in ((path, store_root), (path.resolve(), store_root.resolve())):
        if candidate.is_relative_to(root):
            return candidate.relative_to(root).as_posix()
    return str(path)


def resolve_stored_path(stored: str, store_root: Path) -> str:
    """The file a ledger path names, from the current store root (absolute rows stay as they are)."""
    return str(store_root / stored)


def version_record(row: Any, store_root: Path) -> VersionRecord:
    """A `dataset_versions` row, its path resolved against `store_root`."""
    return VersionRecord(
        version_id=row["version_id"],
        dataset=row["dataset"],
        run_id=row["run_id"],
        step=row["step"],
        path=resolve_stored_path(row["path"], store_root),
        rows=row["rows"],
        bytes=row["bytes"],
        schema=json.loads(row["schema"] or "[]"),
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


def _allow_status(con: sqlite3.Connection, table: str, status: str) -> None:
    """Add `status` to the CHECK of `table.status`.

    SQLite cannot ALTER a CHECK, and rebuilding the table would mean rebuilding every table
    whose foreign keys point at it. Allowing one more value changes no stored row, so this
    follows SQLite's documented procedure for such changes (lang_altertable.html#otheralter):
    rewrite the table's definition in the schema and bump schema_version.
    """
    (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    match = re.search(r"CHECK \(status IN \(([^)]*)\)\)", sql)
    if match is None or f"'{status}'" in match.group(1):
        return
    widened = sql.replace(match.group(0), f"CHECK (status IN ({match.group(1)},'{status}'))")
    (version,) = con.execute("PRAGMA schema_version").fetchone()
    con.execute("PRAGMA writable_schema = ON")
    try:
        con.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (widened, table))
        con.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        con.execute("PRAGMA writable_schema = OFF")


def _relative_version_paths(con: sqlite3.Connection) -> None:
    """Rewrite absolute version paths as paths relative to the store root (the ledger's folder).

    A path inside the store becomes relative to it. A path laid out as a store's version file
    (`.../data/<its dataset>/<file>.parquet`) but under another root was written where this
    ledger used to live (the project was copied or moved before this migration): it names the
    same file of this store. Any other absolute path is kept as it is.
    """
    main = next((row[2] for row in con.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not main:
        return  # an in-memory ledger has no store around it
    root = Path(main).parent.resolve()
    rows = con.execute("SELECT version_id, dataset, path FROM dataset_versions").fetchall()
    for version_id, dataset, path in rows:
        if not Path(path).is_absolute():
            continue
        relative = stored_path(path, root)
        parts = Path(path).parts
        if Path(relative).is_absolute() and parts[-3:-1] == ("data", dataset) and path.endswith(".parquet"):
            relative = Path(*parts[-3:]).as_posix()
        if relative != path:
            con.execute("UPDATE dataset_versions SET path = ? WHERE version_id = ?", (relative, version_id))


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]

"""The SQLite schema: each entry moves it from version i to i+1 (`PRAGMA user_version`).

Append; never edit a shipped entry: a newer kit opens an older project by applying the
entries it has not seen. An entry is SQL, or a function of the database for what SQL's
ALTER cannot say.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import stored_path

if TYPE_CHECKING:
    from ..db import SqliteDatabase

Migration = str | Callable[["SqliteDatabase"], None]

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
    lambda db: _allow_status(db, "dataset_versions", "deleted"),
    # v7: version paths relative to the store root, so a copied or moved project reads its own files
    lambda db: _relative_version_paths(db),
    # v8: the audit log (append-only, hash-chained); ids are assigned by the writer, not the
    # database, so the table reads the same on PostgreSQL and the chain has no gaps
    """
    CREATE TABLE audit_log (
        id        BIGINT PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        origin    TEXT NOT NULL,
        action    TEXT NOT NULL,
        target    TEXT,
        details   TEXT NOT NULL DEFAULT '{}',
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE INDEX audit_log_by_actor ON audit_log(actor, id);
    CREATE INDEX audit_log_by_time ON audit_log(at, id);
    """,
    lambda db: _append_only(db, "audit_log"),
    # v10: the run lock of each pipeline, a lease its runner renews (the columns of PostgreSQL's run_leases)
    """
    CREATE TABLE run_leases (
        pipeline    TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        run_id      TEXT,
        host        TEXT,
        pid         INTEGER,
        acquired_at TEXT NOT NULL,
        expires_at  REAL NOT NULL,
        user        TEXT
    );
    """,
    # v11: monitoring: notifications sent (or not), each watched subject's last status, each sweep
    """
    CREATE TABLE notifications (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        event       TEXT NOT NULL,
        channel     TEXT NOT NULL,
        environment TEXT NOT NULL DEFAULT '',
        run_id      TEXT,
        subject     TEXT,
        title       TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('sent', 'failed', 'unset')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        error       TEXT
    );
    CREATE INDEX notifications_by_time ON notifications(at);
    CREATE TABLE monitor_state (
        environment TEXT NOT NULL,
        kind        TEXT NOT NULL,
        subject     TEXT NOT NULL,
        status      TEXT NOT NULL,
        since       TEXT NOT NULL,
        checked_at  TEXT NOT NULL,
        detail      TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (environment, kind, subject)
    );
    CREATE TABLE monitor_sweeps (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        environment TEXT NOT NULL,
        checked     INTEGER NOT NULL,
        warn        INTEGER NOT NULL,
        error       INTEGER NOT NULL,
        changed     INTEGER NOT NULL,
        duration_s  REAL
    );
    CREATE INDEX monitor_sweeps_by_env ON monitor_sweeps(environment, id);
    """,
    # v12: a dataset removed from the catalog by `catalog forget` (its rows stay for lineage history)
    """
    ALTER TABLE datasets ADD COLUMN forgotten_at TEXT;
    """,
    # environments: each is a set of "current" pointers (environment, dataset) -> version, with
    # their history; a version records the environment it was built in. Every version current
    # before environments existed is current in prod.
    """
    ALTER TABLE dataset_versions ADD COLUMN environment TEXT NOT NULL DEFAULT 'prod';
    CREATE TABLE current_versions (
        environment TEXT NOT NULL,
        dataset     TEXT NOT NULL,
        version_id  TEXT NOT NULL REFERENCES dataset_versions(version_id),
        since       TEXT NOT NULL,
        run_id      TEXT,
        PRIMARY KEY (environment, dataset)
    );
    CREATE INDEX current_versions_by_version ON current_versions(version_id);
    CREATE TABLE current_history (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        environment TEXT NOT NULL,
        dataset     TEXT NOT NULL,
        version_id  TEXT,
        previous_id TEXT,
        action      TEXT NOT NULL,
        run_id      TEXT
    );
    CREATE INDEX current_history_by_pointer ON current_history(environment, dataset, id);
    INSERT INTO current_versions (environment, dataset, version_id, since, run_id)
        SELECT 'prod', dataset, version_id, coalesce(promoted_at, created_at), run_id
        FROM dataset_versions WHERE status = 'current';
    INSERT INTO current_history (at, environment, dataset, version_id, previous_id, action, run_id)
        SELECT promoted_at, 'prod', dataset, version_id, NULL, 'upgrade', run_id
        FROM dataset_versions WHERE promoted_at IS NOT NULL AND status IN ('current', 'superseded', 'deleted')
        ORDER BY promoted_at, version_id;
    DROP INDEX one_current_version;
    """,
    # v14: what a decision names (a check of a version, the checks failing on a version when it
    # was made) and standing decisions (known issues) that carry over to later versions until
    # they expire; a decision on a check result also names its check
    """
    ALTER TABLE reviews ADD COLUMN check_name TEXT;
    ALTER TABLE reviews ADD COLUMN checks TEXT;
    ALTER TABLE reviews ADD COLUMN expires_at TEXT;
    ALTER TABLE reviews ADD COLUMN for_runs INTEGER;
    ALTER TABLE reviews ADD COLUMN while_condition TEXT;
    UPDATE reviews SET check_name = (SELECT c.check_name FROM check_results c WHERE c.id = reviews.check_id)
        WHERE check_id IS NOT NULL;
    CREATE INDEX reviews_by_dataset ON reviews(dataset, id);
    """,
    # v15: what replaying a run needs beside its commit, parameters and step fingerprints: the
    # kernel's package versions (JSON: name -> version), and for a replay, the run it replays
    """
    ALTER TABLE runs ADD COLUMN packages TEXT;
    ALTER TABLE runs ADD COLUMN replay_of TEXT;
    """,
    # v16: a check is named by where it was defined (origin: spec or notebook) and its name: a
    # notebook check and a declared one of the same name are two checks, and a decision names which.
    # A lineage edge names the run that recorded it when that is not the version's own run: a run
    # whose step re-published a version's exact bytes from new inputs keeps that version and
    # records that it re-derived it from them
    """
    ALTER TABLE reviews ADD COLUMN check_origin TEXT;
    UPDATE reviews SET check_origin = (SELECT c.origin FROM check_results c WHERE c.id = reviews.check_id)
        WHERE check_id IS NOT NULL;
    CREATE INDEX check_results_by_version ON check_results(version_id, origin, check_name, id);
    ALTER TABLE lineage ADD COLUMN run_id TEXT;
    """,
    # v17: a run's check results and versions by run (and step), as its lineage events and pages
    # read them, without scanning the whole history
    """
    CREATE INDEX check_results_by_run ON check_results(run_id, step, id);
    CREATE INDEX dataset_versions_by_run ON dataset_versions(run_id, step);
    """,
    # v18: a numeric column's mean in the version's profile (taken on publish, as the rest of it),
    # so that a diff need not read a version again for it
    """
    ALTER TABLE column_profiles ADD COLUMN mean_value REAL;
    """,
]


def _append_only(db: SqliteDatabase, table: str) -> None:
    """Triggers that refuse UPDATE and DELETE on `table` (SQLite's syntax; PostgreSQL has its own)."""
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _allow_status(con: SqliteDatabase, table: str, status: str) -> None:
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


def _relative_version_paths(con: SqliteDatabase) -> None:
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

"""What a ledger holds, table by table: row counts, a content hash, and a verified copy to another ledger.

The content hash is independent of the backend: sha256 over each table's rows (the columns both
backends store, in name order, values as JSON, rows sorted), so a SQLite ledger and its copy on
PostgreSQL hash alike. What is derived is not copied but rebuilt: the catalog's full-text index
(FTS5 or tsvector) and each dataset's row in it. Run leases are not history and stay behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..errors import LedgerError
from .catalog import CatalogRepository
from .db import Database, column_list, placeholders

# in the order foreign keys allow; tables a later migration adds follow, by name
TABLES = (
    "runs", "step_runs", "datasets", "dataset_versions", "lineage", "check_results", "reviews",
    "dataset_columns", "column_tags", "column_profiles", "catalog_meta", "audit_log",
)
# what `ledger info` counts, by the name it shows
COUNTED = {
    "runs": "runs", "step runs": "step_runs", "datasets": "datasets", "versions": "dataset_versions",
    "lineage edges": "lineage", "check results": "check_results", "reviews": "reviews",
    "audit entries": "audit_log",
}
DERIVED = ("catalog_fts", "run_leases", "dataops_meta", "sqlite_")  # table names (prefixes) not copied
DERIVED_COLUMNS = {"datasets": ("fts_id",)}  # the row of the (rebuilt) full-text index
BATCH = 1000


def tables(db: Database) -> list[str]:
    """The ledger's tables that hold history, in copying order."""
    present = {name for name in db.tables() if not name.startswith(DERIVED)}
    return [t for t in TABLES if t in present] + sorted(present - set(TABLES))


def counts(db: Database) -> dict[str, int]:
    """Rows of what `ledger info` counts (a table an older schema lacks counts 0)."""
    present = set(tables(db))
    return {label: _count(db, table) if table in present else 0 for label, table in COUNTED.items()}


def _count(db: Database, table: str) -> int:
    return int(db.query(f"SELECT count(*) FROM {column_list([table])}")[0][0])


def _columns(db: Database, table: str) -> list[str]:
    derived = DERIVED_COLUMNS.get(table, ())
    return [c for c in db.columns(table) if c not in derived]


def _rows(db: Database, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    order = " ORDER BY rowid" if db.dialect == "sqlite" or "rowid" in db.columns(table, all_columns=True) else ""
    return [tuple(row) for row in db.query(f"SELECT {column_list(columns)} FROM {table}{order}")]


def content_hash(db: Database) -> str:
    """sha256 over every copied table's rows, the same on either backend."""
    digest = hashlib.sha256()
    for table in tables(db):
        columns = sorted(_columns(db, table))
        rows = sorted(json.dumps(row, default=str) for row in _rows(db, table, columns))
        digest.update(json.dumps([table, columns, rows]).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CopyResult:
    counts: dict[str, int]  # rows copied, by table
    content_hash: str  # of the source, and (verified) of the target


def nonempty(db: Database) -> dict[str, int]:
    """Tables of `db` that hold rows, with their counts."""
    found = {table: _count(db, table) for table in tables(db)}
    return {table: n for table, n in found.items() if n}


def _reindex(db: Database) -> None:
    catalog = CatalogRepository(db)
    for name in catalog.dataset_names():
        catalog.reindex(name)


def copy(source: Database, target: Database) -> CopyResult:
    """Copy every row of `source` into the empty, migrated `target` in one transaction, rebuild the
    catalog index there, and verify counts and content hash before committing (else nothing is kept)."""
    copied: dict[str, int] = {}
    with target.transaction():
        for table in tables(source):
            columns = _columns(source, table)
            missing = sorted(set(columns) - set(_columns(target, table)))
            if missing:
                message = f"The ledger {target.url} has no column {', '.join(missing)} in {table}: migrate it first."
                raise LedgerError(message, url=target.url)
            if table == "catalog_meta":  # rebuilding the index counts changes there: the source's values win
                _reindex(target)
                target.execute("DELETE FROM catalog_meta")
            rows = _rows(source, table, columns)
            insert = f"INSERT INTO {table} ({column_list(columns)}) VALUES ({placeholders(len(columns))})"
            for start in range(0, len(rows), BATCH):
                target.executemany(insert, rows[start:start + BATCH])
            target.identities_follow(table)
            copied[table] = len(rows)
        if "catalog_meta" not in copied:
            _reindex(target)
        expected, got = content_hash(source), content_hash(target)
        found = {table: _count(target, table) for table in copied}
        if found != copied or expected != got:
            message = (f"The copy in {target.url} does not match {source.url} (counts {found} of {copied}, "
                       "or the content hash differs); nothing was kept.")
            raise LedgerError(message, url=target.url)
    return CopyResult(copied, expected)

"""A ledger written by release schema 7 (kept in tests/data) upgrades in place with nothing lost."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from dataops_nb.ledger import MIGRATIONS, Ledger

DATA = Path(__file__).resolve().parent.parent / "data" / "ledger-v7.db"
TABLES = ("runs", "step_runs", "datasets", "dataset_versions", "lineage", "check_results", "reviews",
          "dataset_columns", "column_tags", "column_profiles", "catalog_meta")


def dump(path: Path) -> dict[str, set[tuple]]:
    con = sqlite3.connect(path)
    try:
        result = {}
        for table in TABLES:
            cursor = con.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cursor.description]
            result[table] = {tuple(zip(names, row)) for row in cursor.fetchall()}
        return result
    finally:
        con.close()


def test_a_schema_7_ledger_upgrades_in_place_keeping_every_row(tmp_path):
    path = tmp_path / ".dataops" / "ledger.db"
    path.parent.mkdir()
    shutil.copy(DATA, path)
    before = dump(path)
    assert sum(len(rows) for rows in before.values()) > 40

    ledger = Ledger.open(path)
    assert ledger.schema_version == 7
    assert ledger.migrate() == list(range(8, len(MIGRATIONS) + 1))
    assert ledger.schema_version == len(MIGRATIONS) and ledger.integrity() == "ok"
    ledger.close()

    after = dump(path)
    for table, rows in before.items():  # every value of every row is still there (new columns may be added)
        kept = {tuple(pair for pair in row if pair[0] in dict(next(iter(rows), ()))) for row in after[table]}
        assert rows <= kept, table

    reader = Ledger.open(path, readonly=True)
    statuses = {v.version_id.split("@")[1][-7:]: v.status for v in reader.versions.of_dataset("raw.numbers")}
    assert sorted(statuses.values()) == ["current", "deleted", "deleted"]
    assert {v.status for v in reader.versions.of_dataset("staging.doubled")} == {"current", "superseded", "quarantined"}
    current = reader.versions.current()["raw.numbers"]
    assert current.path == str(path.parent / "data" / "raw.numbers" / f"{current.version_id.split('@')[1]}.parquet")
    assert [r["status"] for r in reader.runs.recent()] == ["failed", "success", "failed"]
    assert reader.catalog.dataset("raw.numbers")["owner"] == "tests"
    assert reader.lineage.inputs_of(reader.versions.current()["staging.doubled"].version_id)

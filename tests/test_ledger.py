"""The ledger: WAL SQLite, versioned schema that migrates forward, one current version."""

from __future__ import annotations

import sqlite3

import pytest

from dataops_nb import ledger as ledger_module
from dataops_nb.errors import DataOpsError
from dataops_nb.ledger import Ledger, VersionRecord, now


def version(name: str, run: str) -> VersionRecord:
    return VersionRecord(f"{name}@{run}", name, run, "s", f"/x/{run}.parquet", 1, 10, [], "staged", now())


def test_wal_and_schema_version(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    assert led.query("PRAGMA journal_mode")[0][0] == "wal"
    assert led.schema_version == len(ledger_module.MIGRATIONS)
    assert led.integrity() == "ok"


def test_older_ledger_migrates_forward_keeping_its_rows(tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    old = Ledger(path)
    old.open_run("r1", user="ann")
    old.close()
    monkeypatch.setattr(
        ledger_module, "MIGRATIONS", [*ledger_module.MIGRATIONS, "ALTER TABLE runs ADD COLUMN note TEXT"]
    )
    new = Ledger(path)
    assert new.schema_version == len(ledger_module.MIGRATIONS)
    assert [tuple(r) for r in new.query("SELECT run_id, user, note FROM runs")] == [("r1", "ann", None)]


def test_newer_ledger_is_refused_clearly(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 999")
    con.close()
    with pytest.raises(DataOpsError, match="newer dataops-nb"):
        Ledger(path)


def test_promote_keeps_exactly_one_current_version(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    for run in ("r1", "r2"):
        led.open_run(run)
        with led.transaction() as con:
            led.stage_version(con, version("raw.a", run), [])
            led.promote(con, [f"raw.a@{run}"])
    assert [(v.version_id, v.status) for v in led.versions("raw.a")] == [
        ("raw.a@r2", "current"),
        ("raw.a@r1", "superseded"),
    ]
    assert led.current_versions()["raw.a"].version_id == "raw.a@r2"


def test_failed_transaction_changes_nothing(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    led.open_run("r1")
    with pytest.raises(RuntimeError):
        with led.transaction() as con:
            led.stage_version(con, version("raw.a", "r1"), [])
            raise RuntimeError("crash between stage and promote")
    assert led.versions("raw.a") == []


def test_version_paths_are_kept_relative_to_the_store_and_read_from_where_it_is(tmp_path):
    store = tmp_path / "proj" / ".dataops"
    led = Ledger(store / "ledger.db")
    led.open_run("r1")
    inside = VersionRecord("raw.a@r1", "raw.a", "r1", "s", str(store / "data" / "raw.a" / "r1.parquet"),
                           1, 10, [], "staged", now())
    with led.transaction() as con:
        led.stage_version(con, inside, [])
        led.stage_version(con, version("raw.b", "r1"), [])  # outside the store: kept as it is
    assert dict(tuple(r) for r in led.query("SELECT version_id, path FROM dataset_versions")) == {
        "raw.a@r1": "data/raw.a/r1.parquet", "raw.b@r1": "/x/r1.parquet",
    }
    led.close()
    moved = store.parent.rename(tmp_path / "moved") / ".dataops"  # the project moves
    reopened = Ledger(moved / "ledger.db")
    paths = {v.version_id: v.path for v in reopened.versions("raw.a") + reopened.versions("raw.b")}
    assert paths == {"raw.a@r1": str(moved / "data" / "raw.a" / "r1.parquet"), "raw.b@r1": "/x/r1.parquet"}


def test_older_ledger_with_absolute_paths_migrates_to_relative_ones(tmp_path, monkeypatch):
    """Schema 6 stored absolute paths; a ledger copied with its project before the upgrade
    names the old location, and still reads the copy's own files once migrated."""
    original, copy = tmp_path / "original" / ".dataops", tmp_path / "copy" / ".dataops"
    monkeypatch.setattr(ledger_module, "MIGRATIONS", ledger_module.MIGRATIONS[:6])
    old = Ledger(original / "ledger.db")
    with old.transaction() as con:
        con.executemany(
            "INSERT INTO datasets (name, created_at, updated_at) VALUES (?, '2020', '2020')", [("raw.a",), ("raw.b",)]
        )
        con.executemany(
            "INSERT INTO dataset_versions (version_id, dataset, run_id, step, path, status, created_at) "
            "VALUES (?, ?, 'r1', 's', ?, 'current', '2020')",
            [("raw.a@r1", "raw.a", str(original / "data" / "raw.a" / "r1.parquet")),
             ("raw.b@r1", "raw.b", "/elsewhere/raw.b.parquet")],
        )
    old.close()
    monkeypatch.undo()
    copy.mkdir(parents=True)
    (copy / "ledger.db").write_bytes((original / "ledger.db").read_bytes())

    for store in (copy, original):  # copied before the upgrade, and upgraded where it was written
        led = Ledger(store / "ledger.db")
        assert led.schema_version == len(ledger_module.MIGRATIONS)
        assert dict(tuple(r) for r in led.query("SELECT version_id, path FROM dataset_versions")) == {
            "raw.a@r1": "data/raw.a/r1.parquet", "raw.b@r1": "/elsewhere/raw.b.parquet",
        }
        assert led.current_versions()["raw.a"].path == str(store / "data" / "raw.a" / "r1.parquet")
        assert led.integrity() == "ok"
        led.close()

"""The ledger: WAL SQLite, versioned schema that migrates forward, one current version."""

from __future__ import annotations

import sqlite3

import pytest

from dataops_nb.errors import DataOpsError, LedgerError
from dataops_nb.ledger import MIGRATIONS, Ledger, VersionRecord, now
from dataops_nb.ledger.migrations import sqlite as sqlite_migrations


def open_ledger(path) -> Ledger:
    ledger = Ledger.open(path)
    ledger.migrate()
    return ledger


def version(name: str, run: str) -> VersionRecord:
    return VersionRecord(f"{name}@{run}", name, run, "s", f"/x/{run}.parquet", 1, 10, [], "staged", now())


def test_wal_and_schema_version(tmp_path):
    led = open_ledger(tmp_path / "ledger.db")
    assert led.db.query("PRAGMA journal_mode")[0][0] == "wal"
    assert led.schema_version == len(MIGRATIONS)
    assert led.integrity() == "ok"


def test_older_ledger_migrates_forward_keeping_its_rows(tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    old = open_ledger(path)
    old.runs.open("r1", user="ann")
    old.close()
    monkeypatch.setattr(sqlite_migrations, "MIGRATIONS", [*MIGRATIONS, "ALTER TABLE runs ADD COLUMN note TEXT"])
    new = Ledger.open(path)
    assert new.schema_version == len(MIGRATIONS)  # opening did not migrate
    assert new.migrate() == [len(MIGRATIONS) + 1]
    assert [tuple(r) for r in new.db.query("SELECT run_id, user, note FROM runs")] == [("r1", "ann", None)]


def test_newer_ledger_is_refused_clearly(tmp_path):
    path = tmp_path / "ledger.db"
    open_ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 999")
    con.close()
    for readonly in (False, True):
        with pytest.raises(DataOpsError, match="newer dataops-nb"):
            Ledger.open(path, readonly=readonly)


def test_promote_keeps_exactly_one_current_version(tmp_path):
    led = open_ledger(tmp_path / "ledger.db")
    for run in ("r1", "r2"):
        led.runs.open(run)
        with led.transaction():
            led.versions.stage(version("raw.a", run), [])
            led.versions.transition([f"raw.a@{run}"], "current")
    assert [(v.version_id, v.status) for v in led.versions.of_dataset("raw.a")] == [
        ("raw.a@r2", "current"),
        ("raw.a@r1", "superseded"),
    ]
    assert led.versions.current()["raw.a"].version_id == "raw.a@r2"


def test_failed_transaction_changes_nothing(tmp_path):
    led = open_ledger(tmp_path / "ledger.db")
    led.runs.open("r1")
    with pytest.raises(RuntimeError), led.transaction():
        led.versions.stage(version("raw.a", "r1"), [])  # its own transaction joins the caller's
        raise RuntimeError("crash between stage and promote")
    assert led.versions.of_dataset("raw.a") == []
    assert led.catalog.dataset_names() == []


def test_version_paths_are_kept_relative_to_the_store_and_read_from_where_it_is(tmp_path):
    store = tmp_path / "proj" / ".dataops"
    led = open_ledger(store / "ledger.db")
    led.runs.open("r1")
    inside = VersionRecord("raw.a@r1", "raw.a", "r1", "s", str(store / "data" / "raw.a" / "r1.parquet"),
                           1, 10, [], "staged", now())
    with led.transaction():
        led.versions.stage(inside, [])
        led.versions.stage(version("raw.b", "r1"), [])  # outside the store: kept as it is
    assert dict(tuple(r) for r in led.db.query("SELECT version_id, path FROM dataset_versions")) == {
        "raw.a@r1": "data/raw.a/r1.parquet", "raw.b@r1": "/x/r1.parquet",
    }
    led.close()
    moved = store.parent.rename(tmp_path / "moved") / ".dataops"  # the project moves
    reopened = Ledger.open(moved / "ledger.db", readonly=True)
    paths = {v.version_id: v.path for v in reopened.versions.of_dataset("raw.a") + reopened.versions.of_dataset("raw.b")}
    assert paths == {"raw.a@r1": str(moved / "data" / "raw.a" / "r1.parquet"), "raw.b@r1": "/x/r1.parquet"}


def test_older_ledger_with_absolute_paths_migrates_to_relative_ones(tmp_path, monkeypatch):
    """Schema 6 stored absolute paths; a ledger copied with its project before the upgrade
    names the old location, and still reads the copy's own files once migrated."""
    original, copy = tmp_path / "original" / ".dataops", tmp_path / "copy" / ".dataops"
    monkeypatch.setattr(sqlite_migrations, "MIGRATIONS", MIGRATIONS[:6])
    old = open_ledger(original / "ledger.db")
    with old.transaction() as db:
        db.executemany(
            "INSERT INTO datasets (name, created_at, updated_at) VALUES (?, '2020', '2020')", [("raw.a",), ("raw.b",)]
        )
        db.executemany(
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
        led = open_ledger(store / "ledger.db")
        assert led.schema_version == len(MIGRATIONS)
        assert dict(tuple(r) for r in led.db.query("SELECT version_id, path FROM dataset_versions")) == {
            "raw.a@r1": "data/raw.a/r1.parquet", "raw.b@r1": "/elsewhere/raw.b.parquet",
        }
        assert led.versions.current()["raw.a"].path == str(store / "data" / "raw.a" / "r1.parquet")
        assert led.integrity() == "ok"
        led.close()


def test_an_unknown_url_scheme_is_one_sentence(tmp_path):
    with pytest.raises(LedgerError, match=r"^Ledger URL scheme 'mysql' is not supported") as caught:
        Ledger.open("mysql://ann:secret@db/ledger")
    assert "secret" not in str(caught.value) and caught.value.exit_code == 2

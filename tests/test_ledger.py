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

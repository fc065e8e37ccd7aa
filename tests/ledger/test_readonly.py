"""Opening the ledger for reading never writes: not the file, not beside it, not a new one."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from dataops_nb.errors import LedgerError
from dataops_nb.ledger import MIGRATIONS, Ledger, VersionRecord, now


def files(folder):
    """Each file's bytes and mtime; WAL sidecars count only for what they hold (a reader of a
    WAL database may create the shared-memory index and an empty log: no data changes)."""
    found = {}
    for p in sorted(folder.iterdir()):
        if p.name.endswith("-shm") or (p.name.endswith("-wal") and p.stat().st_size == 0):
            continue
        found[p.name] = (p.read_bytes(), os.stat(p).st_mtime_ns)
    return found


def written(path):
    ledger = Ledger.open(path)
    ledger.migrate()
    ledger.runs.open("20261125-093012-0001abc", user="ann")
    with ledger.transaction():
        ledger.versions.stage(
            VersionRecord("raw.a@r1", "raw.a", "r1", "s", "data/raw.a/r1.parquet", 1, 10, [], "staged", now()), []
        )
        ledger.versions.transition(["raw.a@r1"], "current")
    ledger.close()
    return path


def test_reading_changes_no_byte_and_no_mtime(tmp_path):
    path = written(tmp_path / "ledger.db")
    before = files(tmp_path)
    reader = Ledger.open(path, readonly=True)
    assert reader.readonly
    assert [r["run_id"] for r in reader.runs.recent()] == ["20261125-093012-0001abc"]
    assert reader.versions.current()["raw.a"].status == "current"
    assert reader.catalog.dataset_names() == ["raw.a"]
    reader.close()
    assert files(tmp_path) == before


def test_a_read_only_ledger_refuses_writes_and_keeps_its_rows(tmp_path):
    path = written(tmp_path / "ledger.db")
    reader = Ledger.open(path, readonly=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
        reader.runs.end("20261125-093012-0001abc", "failed")
    with pytest.raises(LedgerError, match="read-only"):
        reader.migrate()
    reader.close()
    stored = Ledger.open(path, readonly=True).db.query("SELECT status FROM runs WHERE run_id = '20261125-093012-0001abc'")
    assert stored[0][0] == "running"


def test_reading_a_project_without_a_ledger_creates_nothing(tmp_path):
    reader = Ledger.open(tmp_path / ".dataops" / "ledger.db", readonly=True)
    assert reader.runs.recent() == [] and reader.versions.current() == {}
    assert reader.schema_version == len(MIGRATIONS)
    assert list(tmp_path.iterdir()) == []


def test_reading_an_older_ledger_asks_for_a_migration_and_writes_nothing(tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(Path(__file__).resolve().parent.parent / "data" / "ledger-v7.db", path)  # written by schema 7
    before = files(tmp_path)
    with pytest.raises(LedgerError, match=r"has schema 7 and this dataops-nb needs \d+: `dataops-nb ledger migrate` \(or any command that writes\) migrates it"):
        Ledger.open(path, readonly=True)
    assert files(tmp_path) == before


def test_a_project_reads_read_only_and_writes_only_when_asked(two_steps):
    """`Project.ledger` opens read-only; `writable_ledger()` (the commands that write) migrates."""
    from dataops_nb.project import Project

    project = Project(two_steps.root)
    assert project.ledger.readonly and project.ledger.runs.recent() == []
    assert not (two_steps.root / ".dataops").exists()
    writer = project.writable_ledger()
    assert not writer.readonly and project.ledger is writer
    assert (two_steps.root / ".dataops" / "ledger.db").is_file()


def _ledger_with_a_run(path):
    writer = Ledger.open(path)
    writer.migrate()
    writer.open_run("r1", user="alice", selection=["make"])
    writer.close()


def _run_opened_by_another_process(path, run_id: str) -> None:
    """`run_id` opened by another process, which then closes the last connection it had."""
    import subprocess
    import sys

    script = ("import sys; from dataops_nb.ledger import Ledger; w = Ledger.open(sys.argv[1]); "
              "w.open_run(sys.argv[2], user='bob', selection=['make']); w.close()")
    subprocess.run([sys.executable, "-c", script, str(path), run_id], check=True)


def test_a_reader_sees_what_another_process_commits_after_the_ledger_is_opened_again(tmp_path):
    """Opening the ledger a second time in a process (the server does, for each changed spec) must
    not blind the handles already open: another process's commit and close are seen by them."""
    path = tmp_path / "ledger.db"
    _ledger_with_a_run(path)
    reader = Ledger.open(path, readonly=True)
    assert reader.run("r1") is not None and reader.run("r2") is None
    again = Ledger.open(path, readonly=True)  # a second handle in this process
    for run_id in ("r2", "r3"):
        _run_opened_by_another_process(path, run_id)
        assert reader.run(run_id) is not None and again.run(run_id) is not None


def test_a_reader_is_not_blinded_by_a_dropped_handle_whose_connection_a_cursor_keeps(tmp_path):
    """The server drops a project's handle when the spec changes; a cursor left over (in a traceback,
    say) keeps its connection open. Opening the ledger again must not release that connection's
    locks (which the process's other connections share): the next run's commits would go unseen."""
    import gc

    path = tmp_path / "ledger.db"
    _ledger_with_a_run(path)
    dropped = Ledger.open(path, readonly=True)
    kept = dropped.db.execute("SELECT run_id FROM runs")  # its connection outlives the handle
    del dropped
    gc.collect()
    reader = Ledger.open(path, readonly=True)
    assert reader.run("r1") is not None
    wal = path.with_name("ledger.db-wal")
    opened_on = wal.stat().st_ino
    for number in range(2, 8):
        _run_opened_by_another_process(path, f"r{number}")
        assert reader.run(f"r{number}") is not None, f"r{number} is not seen"
        # the writer did not take itself for the last connection (it would have checkpointed and
        # deleted the WAL): this process's connections still hold their locks
        assert wal.is_file() and wal.stat().st_ino == opened_on
    assert [tuple(row) for row in kept.fetchall()] == [("r1",)]

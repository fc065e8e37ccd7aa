"""Versions, time travel and gc over real runs: make -> square -> total, with an `evens` branch."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from dataops_nb.errors import ConflictError, DataOpsError, NotFoundError
from dataops_nb.ledger import MIGRATIONS, _statements
from dataops_nb.metadata.retention import (
    as_of_path,
    gc,
    plan_gc,
    resolve_as_of,
    versions,
)
from dataops_nb.project import Project
from tests.conftest import TWO_STEPS, ProjectFactory, make_two_steps
from tests.test_runtime import run_by_hand

SPEC = """
name: retention
steps:
  - {name: make, notebook: notebooks/make.ipynb}
  - {name: square, notebook: notebooks/square.ipynb, needs: [make]}
  - {name: total, notebook: notebooks/total.ipynb, needs: [square]}
  - {name: evens, notebook: notebooks/evens.ipynb, needs: [square]}
datasets:
  raw.numbers: {keep_versions: 2}
  staging.squares:
    keep_versions: 2
    columns:
      id: {checks: [unique]}
  marts.evens: {keep_versions: 2}
  # marts.total sets no keep_versions: every version is kept
"""


def build(project: ProjectFactory) -> ProjectFactory:
    project.notebook("make", "n = 10",
                     "import dataops_nb as dn\ndn.step().publish('raw.numbers', f'select range as n from range({n})')")
    project.notebook(
        "square", "dup = False",
        """
        import dataops_nb as dn
        q = "select n as id, n * n as sq from raw.numbers"
        dn.step().publish("staging.squares", q + (" union all select 1, 1" if dup else ""))
        """,
    )
    project.notebook(
        "total", 'hold = ""',
        """
        import pathlib, time
        import dataops_nb as dn
        step = dn.step()
        seen = step.read("staging.squares").height
        if hold:  # a long step: it has read its input and is still running
            pathlib.Path(hold + ".started").write_text(str(seen))
            deadline = time.time() + 300
            while not pathlib.Path(hold).exists() and time.time() < deadline:
                time.sleep(0.1)
        step.publish("marts.total", "select sum(sq) as total, count(*) as n from staging.squares")
        """,
    )
    project.notebook("evens", "x = 1",
                     "import dataops_nb as dn\n"
                     "dn.step().publish('marts.evens', 'select id, sq from staging.squares where id % 2 = 0')")
    project.spec(SPEC)
    return project


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> ProjectFactory:
    """Four good runs (n = 10, 20, 30, 40), then a fifth whose squares fail the unique check."""
    project = build(ProjectFactory(tmp_path_factory.mktemp("retention") / "proj"))
    for n in (10, 20, 30, 40):
        project.cli("run", "-p", f"n={n}", check=0)
    bad = project.cli("run", "-p", "n=40", "-p", "dup=true")
    assert bad.returncode == 1 and "versions quarantined" in bad.stderr
    return project


def run_ids(project: ProjectFactory) -> list[str]:
    return [r[0] for r in project.ledger_rows("select run_id from runs order by run_id")]


def statuses(project: ProjectFactory) -> dict[str, str]:
    return dict(project.ledger_rows("select version_id, status from dataset_versions"))


def test_versions_listing_and_time_travel(history: ProjectFactory) -> None:
    project = Project(history.root)
    r1, r2, r3, r4, r5 = run_ids(history)

    listing = versions(project, "staging.squares")
    assert [(v["version"], v["status"], v["expires"]) for v in listing] == [
        (f"staging.squares@{r5}", "quarantined", False),
        (f"staging.squares@{r4}", "current", False),
        (f"staging.squares@{r3}", "superseded", False),
        (f"staging.squares@{r2}", "superseded", True),
        (f"staging.squares@{r1}", "superseded", True),
    ]
    assert [v["rows"] for v in listing] == [41, 40, 30, 20, 10]
    assert all(v["readable"] and (history.root / v["notebook"]).is_file() for v in listing)
    assert listing[1]["path"] == f".dataops/data/staging.squares/{r4}.parquet"
    assert not any(v["expires"] for v in versions(project, "marts.total"))  # no keep_versions: keep all
    with pytest.raises(NotFoundError, match="did you mean 'raw.numbers'"):
        versions(project, "raw.number")

    # as of run 2, raw.numbers was the 20-row version; reading it gives the old data
    old = resolve_as_of(project.ledger, "raw.numbers", r2)
    assert (old.version_id, old.status) == (f"raw.numbers@{r2}", "superseded")
    assert pl.read_parquet(old.path)["n"].to_list() == list(range(20))
    assert pl.read_parquet(project.ledger.current_versions()["raw.numbers"].path).height == 40
    # the kernel's way: the ledger file, opened read-only
    assert resolve_as_of(project.store.ledger_path, "raw.numbers", r3).version_id == f"raw.numbers@{r3}"
    # run 5 only quarantined squares and skipped total: the r4 versions were current when it ended
    assert resolve_as_of(project.store.ledger_path, "staging.squares", r5).version_id == f"staging.squares@{r4}"
    assert resolve_as_of(project.ledger, "marts.total", r5).version_id == f"marts.total@{r4}"
    assert resolve_as_of(project.store.ledger_path, "marts.evens", r1).version_id == f"marts.evens@{r1}"
    with pytest.raises(NotFoundError, match="Unknown run '2001"):
        resolve_as_of(project.ledger, "raw.numbers", "20010101-000000-000abcd")
    with pytest.raises(DataOpsError, match="raw.other had no current version when run"):
        resolve_as_of(project.ledger, "raw.other", r1)


def test_gc_deletes_only_superseded_versions_beyond_keep(history: ProjectFactory, tmp_path: Path) -> None:
    project = Project(history.root)
    r1, r2, r3, r4, r5 = run_ids(history)
    before = statuses(history)
    lineage_before = history.ledger_rows("select * from lineage order by 1, 2")
    expected = {f"{ds}@{r}" for ds in ("raw.numbers", "staging.squares", "marts.evens") for r in (r1, r2)}

    assert {e.version.version_id for e in plan_gc(project)} == expected
    dry = gc(project, dry_run=True)
    assert {e.version.version_id for e in dry.deleted} == expected and dry.blocked_by == ()
    assert dry.bytes_freed == sum(Path(e.version.path).stat().st_size for e in dry.deleted)
    assert statuses(history) == before  # a dry run changes nothing

    # while a run is in flight (its step has read staging.squares and is still going), gc refuses
    hold = tmp_path / "release"
    running = subprocess.Popen(
        [sys.executable, "-m", "dataops_nb.cli", "run", "--only", "total", "-p", f"hold={hold}"],
        cwd=history.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 300
        while not Path(f"{hold}.started").exists():
            assert running.poll() is None, running.communicate()
            assert time.time() < deadline
            time.sleep(0.1)
        with pytest.raises(ConflictError, match="Another run is in progress: .*gc deletes nothing"):
            gc(project)
        blocked = gc(project, dry_run=True)
        assert len(blocked.blocked_by) == 1 and str(running.pid) in blocked.blocked_by[0]
        assert statuses(history) == before
        assert all(Path(e.version.path).is_file() for e in dry.deleted)
    finally:
        hold.write_text("go")
        out, err = running.communicate(timeout=300)
    assert running.returncode == 0, out + err
    before = statuses(history)

    result = gc(project)
    assert {e.version.version_id for e in result.deleted} == expected
    assert result.bytes_freed == dry.bytes_freed and result.missing_files == ()
    after = statuses(history)
    for version_id, status in after.items():
        dataset, _, run_id = version_id.partition("@")
        path = history.root / ".dataops" / "data" / dataset / f"{run_id}.parquet"
        if version_id in expected:
            assert status == "deleted" and not path.exists()
        else:  # current, quarantined, kept superseded, and every marts.total version
            assert status == before[version_id] and path.is_file(), version_id
    assert after[f"staging.squares@{r5}"] == "quarantined"
    totals = [v for v in before if v.startswith("marts.total@")]
    assert len(totals) >= 4 and all(after[v] == before[v] for v in totals)  # keep all when unset
    # the rows keep their paths; lineage history is intact; the ledger is sound
    kept_paths = dict(history.ledger_rows("select version_id, path from dataset_versions where status = 'deleted'"))
    assert kept_paths == {v: f"data/{v.split('@')[0]}/{v.split('@')[1]}.parquet" for v in expected}
    assert set(lineage_before) <= set(history.ledger_rows("select * from lineage"))
    assert history.ledger_rows("PRAGMA integrity_check") == [("ok",)]
    assert history.ledger_rows("PRAGMA foreign_key_check") == []

    # reading a deleted past says so; a kept one still reads
    with pytest.raises(DataOpsError, match=f"raw.numbers@{r1} .*was deleted by gc"):
        as_of_path(project.ledger, "raw.numbers", r1)
    version, path = as_of_path(project.ledger, "raw.numbers", r3)
    assert pl.read_parquet(path).height == 30
    listing = versions(project, "raw.numbers")
    assert [(v["status"], v["readable"]) for v in listing[-2:]] == [("deleted", False), ("deleted", False)]

    # gc again deletes nothing; the runner carries on over the ledger, and the next gc
    # removes the next version that falls out of the window
    assert gc(project).deleted == ()
    history.cli("run", "-p", "n=50", check=0)
    r7 = run_ids(history)[-1]
    again = gc(project)
    assert {e.version.version_id for e in again.deleted} == {
        f"{ds}@{r3}" for ds in ("raw.numbers", "staging.squares", "marts.evens")
    }
    assert resolve_as_of(project.ledger, "raw.numbers", r7).version_id == f"raw.numbers@{r7}"
    assert history.ledger_rows("PRAGMA integrity_check") == [("ok",)]


def test_an_older_ledger_migrates_and_keeps_history(two_steps: ProjectFactory) -> None:
    """A project whose ledger predates gc (schema 4) opens with this kit: rows kept, `deleted` allowed."""
    db = two_steps.root / ".dataops" / "ledger.db"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    for migration in MIGRATIONS[:4]:
        for statement in _statements(migration):
            con.execute(statement)
    con.execute("PRAGMA user_version = 4")
    con.execute(
        "INSERT INTO dataset_versions (version_id, dataset, run_id, step, path, rows, schema, status, created_at) "
        "VALUES ('raw.old@20200101-000000-0000000', 'raw.old', '20200101-000000-0000000', 'make', '/x', 1, '[]', "
        "'superseded', '2020-01-01T00:00:00')"
    )
    con.commit()
    con.close()

    project = Project(two_steps.root)
    assert project.writable_ledger().schema_version == len(MIGRATIONS)
    assert two_steps.ledger_rows("select version_id, status from dataset_versions") == [
        ("raw.old@20200101-000000-0000000", "superseded")
    ]
    assert two_steps.ledger_rows("PRAGMA integrity_check") == [("ok",)]
    with project.ledger.transaction() as con:
        con.execute("UPDATE dataset_versions SET status = 'deleted'")
    with pytest.raises(sqlite3.IntegrityError):  # other statuses are still refused
        with project.ledger.transaction() as con:
            con.execute("UPDATE dataset_versions SET status = 'gone'")

    # the runner keeps working on the migrated ledger; gc stamps deleted_at
    two_steps.cli("run", check=0)
    two_steps.cli("run", "-p", "n=4", check=0)
    two_steps.spec(TWO_STEPS.replace("    owner: tests\n", "    owner: tests\n    keep_versions: 1\n"))
    result = gc(Project(two_steps.root))
    assert len(result.deleted) == 1
    stamped = two_steps.ledger_rows(
        "select status, deleted_at is not null from dataset_versions where dataset = 'raw.numbers' order by version_id")
    assert stamped == [("deleted", 1), ("current", 0)]


def test_gc_refuses_a_version_outside_the_store_before_changing_anything(two_steps: ProjectFactory,
                                                                         tmp_path: Path) -> None:
    """A row whose file lies outside the store stops gc before any row or file changes."""
    two_steps.spec(TWO_STEPS.replace("    owner: tests\n", "    owner: tests\n    keep_versions: 1\n"))
    for n in (3, 4, 5):
        two_steps.cli("run", "-p", f"n={n}", check=0)
    r1, r2, _ = run_ids(two_steps)
    outside = tmp_path / "elsewhere" / "numbers.parquet"
    outside.parent.mkdir()
    outside.write_bytes((two_steps.root / ".dataops" / "data" / "raw.numbers" / f"{r1}.parquet").read_bytes())
    con = sqlite3.connect(two_steps.root / ".dataops" / "ledger.db")
    with con:
        con.execute("UPDATE dataset_versions SET path = ? WHERE version_id = ?", (str(outside), f"raw.numbers@{r1}"))
    con.close()
    project = Project(two_steps.root)
    # gc would delete r2's version (in the store) and r1's (its row now names a file outside)
    assert [e.version.version_id for e in plan_gc(project)] == [f"raw.numbers@{r2}", f"raw.numbers@{r1}"]
    rows = "select version_id, status, deleted_at, path from dataset_versions order by version_id"
    before, files = two_steps.ledger_rows(rows), two_steps.snapshot()

    with pytest.raises(DataOpsError, match=f"raw.numbers@{r1}: .* is outside the store") as refused:
        gc(project)
    assert two_steps.ledger_rows(rows) == before  # no row marked deleted
    assert two_steps.snapshot() == files and outside.is_file()  # no file removed
    assert "gc deleted nothing" in str(refused.value)
    cli = two_steps.cli("gc")
    assert cli.returncode == 2 and "outside the store" in cli.stderr and "Traceback" not in cli.stderr
    assert two_steps.ledger_rows(rows) == before


@pytest.mark.usefixtures("ledger_backend")  # on SQLite and on PostgreSQL
def test_reading_a_collected_version_says_gc_deleted_it_when_and_why(project: ProjectFactory) -> None:
    spec = TWO_STEPS.replace("    owner: tests\n", "    owner: tests\n    keep_versions: 1\n")
    history = make_two_steps(project, spec)
    for n in (3, 4):
        history.cli("run", "-p", f"n={n}", check=0)
    first = history.ledger_rows("select run_id from runs order by run_id")[0][0]
    history.cli("gc", check=0)

    result = run_by_hand(history, f"""
        import dataops_nb as dn
        for how in ({{"version": "{first}"}}, {{"as_of": "{first}"}}, {{"version": "20200101-000000-0000000"}}):
            try:
                dn.read("raw.numbers", **how)
            except dn.DataOpsError as exc:
                print(exc)
        """)

    by_version, by_as_of, never = result.stdout.splitlines()
    assert by_version.startswith(f"raw.numbers@{first} was deleted by gc on 20")
    assert "(superseded; raw.numbers keeps its 1 newest good version(s)); it can no longer be read." in by_version
    assert by_as_of == by_version.replace(f"@{first} ", f"@{first} (current when run {first} ended) ")
    assert never.startswith("Unknown version of raw.numbers '20200101-000000-0000000'")

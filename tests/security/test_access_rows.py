"""Access to rows: executed notebooks of steps that read restricted data, and the files a check
or a hand-run notebook may open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from ..catalog.conftest import PEOPLE
from ..identities import as_user

SPEC = """
name: guarded
steps:
  - {name: people, notebook: notebooks/people.ipynb}
  - {name: peek, notebook: notebooks/peek.ipynb, needs: [people]}
  - {name: crash, notebook: notebooks/crash.ipynb, needs: [people]}
  - {name: stall, notebook: notebooks/stall.ipynb, needs: [people], timeout: 3s}
  - {name: cities, notebook: notebooks/cities.ipynb}
datasets:
  raw.people:
    description: Customers who signed up.
    columns:
      full_name: {tags: [pii]}
access:
  roles:
    steward: {read: ["*"], unmask: ["*"]}
    guest: {read: ["marts.*"]}
  members: {alice: [steward], carol: [guest]}
"""

# each reads raw.people and shows a row, then publishes nothing: it succeeds, fails or times out
PEEK = """
import dataops_nb as dn
print(dn.step().sql("select full_name from raw.people order by id").fetchall()[0])
"""
CRASH = """
import dataops_nb as dn
name = dn.read("raw.people")["full_name"][0]
print(name)
raise ValueError("no luck")
"""
STALL = """
import time
import dataops_nb as dn
print(dn.step().sql("select full_name from raw.people order by id").fetchall()[0])
time.sleep(60)
"""
CITIES = """
import dataops_nb as dn
dn.step().publish("marts.cities", "select 'London' as city")
"""
SECRET_ROW = "Ada Lovelace"


def build(project):
    project.notebook("people", "bump = 0", PEOPLE)
    project.notebook("peek", "x = 1", PEEK)
    project.notebook("crash", "x = 1", CRASH)
    project.notebook("stall", "x = 1", STALL)
    project.notebook("cities", "x = 1", CITIES)
    project.spec(SPEC)
    project.cli("run", env={"DATAOPS_USER": "alice"}, check=1)  # crash fails, stall times out
    (run,) = project.ledger_rows("SELECT max(run_id) FROM runs")[0]
    statuses = dict(project.ledger_rows(f"SELECT step, status FROM step_runs WHERE run_id = '{run}'"))
    assert statuses == {"people": "success", "peek": "success", "crash": "failed", "stall": "timed_out",
                        "cities": "success"}
    for step in ("peek", "crash", "stall"):  # the row is really in each notebook on disk
        assert SECRET_ROW in (project.root / ".dataops" / "runs" / run / f"{step}.ipynb").read_text()
    return run


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    from ..conftest import ProjectFactory

    project = ProjectFactory(tmp_path_factory.mktemp("guarded") / "proj")
    return project, build(project)


def test_cli_serves_a_readers_notebook_only_to_who_may_read_what_it_read(guarded):
    project, run = guarded
    for step in ("peek", "crash", "stall"):
        denied = project.cli("show", run, "--notebook", step, env={"DATAOPS_USER": "carol"}, check=2)
        assert SECRET_ROW not in denied.stdout and SECRET_ROW not in denied.stderr
        assert denied.stdout == ""
        assert denied.stderr.strip() == (f"Error: User 'carol' may not read raw.people, which step {step} of run "
                                         f"{run} used: its executed notebook may show its rows.")
        shown = project.cli("show", run, "--notebook", step, env={"DATAOPS_USER": "alice"}, check=0)
        assert SECRET_ROW in shown.stdout and json.loads(shown.stdout)["cells"]
    # a step that touched only what carol may read is shown to her
    mart = project.cli("show", run, "--notebook", "cities", env={"DATAOPS_USER": "carol"}, check=0)
    assert "marts.cities" in mart.stdout


def test_may_read_step_decides_from_manifests_of_failed_steps_and_of_earlier_attempts(guarded, tmp_path):
    from dataops_nb.access import may_read_step, step_datasets
    from dataops_nb.project import Project

    project, run = guarded
    opened = Project(project.root)
    assert step_datasets(opened, run, "stall").datasets == {"raw.people"}
    assert step_datasets(opened, run, "cities").datasets == {"marts.cities"}
    assert may_read_step(opened, "alice", run, "crash") and not may_read_step(opened, "carol", run, "crash")
    assert may_read_step(opened, "carol", run, "cities") and not may_read_step(opened, "mallory", run, "cities")
    # what an earlier attempt read counts too; a manifest that cannot be read denies all but full readers
    runs = project.root / ".dataops" / "runs" / run
    (runs / "cities.attempt-1.json").write_text(json.dumps({"read": [{"dataset": "raw.people"}], "published": []}))
    assert not may_read_step(opened, "carol", run, "cities")
    (runs / "cities.attempt-1.json").write_text("{not json")
    assert not may_read_step(opened, "carol", run, "cities") and may_read_step(opened, "alice", run, "cities")
    (runs / "cities.attempt-1.json").unlink()


# --- the server, with two identities ----------------------------------------------------


async def fetch_notebook(jp_fetch, run, step, user):
    try:
        response = await jp_fetch("dataops", "runs", run, "notebooks", step, headers=as_user(user))
    except HTTPClientError as exc:
        return exc.code, exc.response.body
    return response.code, response.body


async def test_server_serves_a_readers_notebook_only_to_who_may_read_what_it_read(jp_fetch, served, monkeypatch):
    run = build(served)
    monkeypatch.setenv("DATAOPS_USER", "alice")  # the server decides with Jupyter's user, never this
    for step in ("peek", "crash", "stall"):
        code, body = await fetch_notebook(jp_fetch, run, step, "carol")
        assert code == 403 and SECRET_ROW.encode() not in body
        assert json.loads(body)["message"].startswith("User 'carol' may not read raw.people")
        code, body = await fetch_notebook(jp_fetch, run, step, "alice")
        assert code == 200 and SECRET_ROW.encode() in body


# --- point 7: files a check or a hand-run notebook may open ------------------------------


def by_hand(project, code, user):
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=project.root, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "DATAOPS_USER": user})
    return out.stdout + out.stderr


PASSWD = "root:x:0:0"


def store_bytes(project) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((project.root / ".dataops").rglob("*")) if p.is_file())


def test_a_check_cannot_read_files_other_than_its_datasets_own(guarded):
    project, _ = guarded
    assert PASSWD in Path("/etc/passwd").read_text()  # the file the checks go after is really there
    (project.root / "notes.csv").write_text("who,what\nceo,layoffs\n")
    [(mart,)] = project.ledger_rows("SELECT path FROM dataset_versions WHERE dataset = 'marts.cities'")
    mart = str((project.root / ".dataops" / mart).resolve())
    checks = {
        "/etc/passwd": "select * from read_csv('/etc/passwd', header=false)",
        str(project.root / "notes.csv"): f"select * from read_csv('{project.root / 'notes.csv'}')",
        mart: f"select * from read_parquet('{mart}')",
        "/etc/*": "select * from glob('/etc/*')",
    }
    original = (project.root / "dataops.yaml").read_text()
    try:
        # declared in the spec: refused when the spec loads, before anything runs
        for path, query in checks.items():
            project.spec(original.replace("      full_name: {tags: [pii]}\n", "      full_name: {tags: [pii]}\n"
                                          f"    checks:\n      - sql: {{query: \"{query}\", severity: warn}}\n"))
            before = project.ledger_rows("SELECT count(*) FROM check_results")
            checked = project.cli("check", "raw.people", env={"DATAOPS_USER": "alice"}, check=2)
            assert checked.stdout == "" and PASSWD not in checked.stderr and "layoffs" not in checked.stderr
            assert f"the sql check on raw.people opens the file {path}: a check reads only {{this}}" in checked.stderr
            assert checked.stderr.count("\n") == 1 and "Traceback" not in checked.stderr
            assert project.ledger_rows("SELECT count(*) FROM check_results") == before  # nothing recorded
        project.spec(original)
        # recorded by a notebook (step.check): the check runs confined, and is one error result
        people = project.root / "notebooks" / "people.ipynb"
        kept = people.read_text()
        try:
            project.notebook("people", "bump = 0", PEOPLE + "step.check('raw.people').not_null('id')\n" + "\n".join(
                f"step.check('raw.people').sql({query!r}, severity='warn')" for query in checks.values()))
            ran = project.cli("run", "--only", "people", "--force", env={"DATAOPS_USER": "alice"}, check=1)
            assert "quarantined" in ran.stdout + ran.stderr
        finally:
            people.write_text(kept)
        [(run,)] = project.ledger_rows("SELECT max(run_id) FROM runs")
        messages = project.ledger_rows(f"SELECT message FROM check_results WHERE run_id = '{run}' AND kind = 'sql'")
        assert len(messages) == 4 and all("Cannot access file" in m for (m,) in messages), messages
        project.cli("report", env={"DATAOPS_USER": "alice"}, check=0)
        stored = store_bytes(project)
        assert b"layoffs" not in stored and PASSWD.encode() not in stored
        review = project.cli("review", "--json", env={"DATAOPS_USER": "alice"}, check=0).stdout
        assert "layoffs" not in review and PASSWD not in review
    finally:
        project.spec(original)


HAND = """
import polars as pl
import dataops_nb as dn
step = dn.step()
frame = pl.DataFrame({"n": [1, 2, 3]})
for query in ("select sum(n) from frame",
              "select count(*) from read_csv('{root}/notes.csv')",
              "select count(*) from read_parquet('{people}')",
              "select count(*) from read_csv('/etc/passwd', header=false)",
              "select count(*) from read_parquet('{store}/data/*/*.parquet')"):
    try:
        print("ok", step.sql(query).fetchall())
    except Exception as exc:
        print(type(exc).__name__, str(exc).splitlines()[0][:60])
print("con", step.con.sql("select count(*) from marts.cities").fetchall())
"""


def test_a_hand_run_notebook_opens_no_store_file_but_those_the_user_may_read(guarded):
    project, _ = guarded
    (project.root / "notes.csv").write_text("who,what\nceo,layoffs\n")
    [(people,)] = project.ledger_rows("SELECT path FROM dataset_versions WHERE dataset = 'raw.people' "
                                      "AND status = 'current'")
    store = project.root / ".dataops"
    code = HAND.replace("{root}", str(project.root)).replace("{people}", str((store / people).resolve()))
    code = code.replace("{store}", str(store))
    denied = "PermissionException Permission Error: Cannot access file"
    carol = by_hand(project, code, "carol").splitlines()
    assert carol[:2] == ["ok [(6,)]", "ok [(1,)]"]  # dataframes by name, and the project's own files
    assert carol[2].startswith(denied) and carol[3].startswith(denied) and carol[4].startswith(denied)
    assert carol[5] == "con [(1,)]"
    alice = by_hand(project, code, "alice").splitlines()
    assert alice[:3] == ["ok [(6,)]", "ok [(1,)]", "ok [(6,)]"]  # her own view's file
    assert alice[3].startswith(denied) and alice[4].startswith(denied)  # no other file of the store, no /etc

"""Access to rows: executed notebooks of steps that read restricted data, and the files a check
or a hand-run notebook may open."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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

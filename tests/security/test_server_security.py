"""The /dataops/ API attacked on a real Jupyter server with several authenticated users:
identity, input limits, paths outside the root, an unreadable ledger (issue 11, points 8, 10-12).
Every assertion is on the status and the bytes of the response, or on the files on disk."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ..conftest import TWO_STEPS, ProjectFactory, make_two_steps
from .conftest import wait_for_run

GUARDED = TWO_STEPS.replace(
    "    owner: tests\n", "    owner: tests\n    checks:\n      - row_count: {max: 5, severity: warn}\n"
) + """
access:
  roles:
    steward: {read: ["*"], unmask: ["*"], review: ["*"], run: ["*"]}
    analyst: {read: ["staging.*"], run: ["double"]}
  members: {alice: [steward], bob: [analyst]}
"""


def one_sentence(body: bytes) -> str:
    message = json.loads(body)["message"]
    assert "\n" not in message and "Traceback" not in message and message.endswith(".")
    assert len(message) < 400
    return message


# --- 8: identity ------------------------------------------------------------------------------


async def test_every_decision_uses_the_jupyter_user_not_dataops_user(api, api_project, monkeypatch):
    """DATAOPS_USER names the steward in the server's environment: bob stays bob."""
    api_project.spec(GUARDED)
    api_project.cli("run", check=0, env={"DATAOPS_USER": "alice"})
    monkeypatch.setenv("DATAOPS_USER", "alice")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    run_id = api_project.ledger_rows("select run_id from runs")[0][0]

    # read: the executed notebook of a step that made raw.numbers, which bob may not read
    code, body = await api("bob", "GET", "runs", run_id, "notebooks", "make")
    assert code == 403 and "bob" in one_sentence(body) and b"range(" not in body
    code, body = await api("alice", "GET", "runs", run_id, "notebooks", "make")
    assert code == 200 and b"range(" in body

    # unmask / read rows: the catalog page of raw.numbers shows bob no rows
    code, body = await api("bob", "GET", "catalog", "raw.numbers")
    preview = json.loads(body)["preview"]
    assert code == 200 and (preview["user"], preview["may_read"], preview["rows"]) == ("bob", False, [])
    code, body = await api("alice", "GET", "catalog", "raw.numbers")
    preview = json.loads(body)["preview"]
    assert code == 200 and preview["user"] == "alice" and len(preview["rows"]) == 10

    # review: bob is refused, alice's decision is recorded as hers
    code, body = await api("alice", "GET", "reviews")
    [failure] = json.loads(body)["failures"]
    decision = {"target": f"#{failure['id']}", "decision": "accept", "reason": "ten rows are fine"}
    code, body = await api("bob", "POST", "reviews", body=decision)
    assert code == 403 and "bob" in one_sentence(body)
    assert api_project.ledger_rows("select count(*) from reviews") == [(0,)]
    monkeypatch.setenv("DATAOPS_USER", "bob")  # and the environment cannot make alice someone else
    code, body = await api("alice", "POST", "reviews", body=decision)
    assert code == 201
    assert api_project.ledger_rows("select decision, user from reviews") == [("accept", "alice")]


async def test_starting_runs_needs_the_run_right(api, api_project, monkeypatch):
    api_project.spec(GUARDED)
    monkeypatch.setenv("DATAOPS_USER", "alice")
    code, body = await api("carol", "POST", "runs", body={"mode": "all"})  # in no role
    assert code == 403 and one_sentence(body) == (
        "User 'carol' may not run step make (see access.roles.<role>.run in dataops.yaml).")
    code, body = await api("bob", "POST", "runs", body={"mode": "from", "step": "make"})
    assert code == 403 and "may not run step make" in one_sentence(body)
    assert not (api_project.root / ".dataops" / "runs").exists()  # nothing started

    api_project.cli("run", "--only", "make", check=0)
    code, body = await api("bob", "POST", "runs", body={"mode": "only", "step": "double"})
    assert code == 201, body
    run = await wait_for_run(api, "bob", json.loads(body)["run_id"])
    assert run["status"] == "success" and run["user"] == "bob"  # not the server's DATAOPS_USER


async def test_without_members_anyone_may_run(api, api_project):
    code, body = await api("carol", "POST", "runs", body={"mode": "all"})
    assert code == 201
    run = await wait_for_run(api, "carol", json.loads(body)["run_id"])
    assert run["user"] == "carol"


# --- 10: bounded inputs -----------------------------------------------------------------------


async def test_oversized_inputs_are_400_with_one_sentence(api, api_project):
    before = api_project.snapshot()
    code, body = await api("alice", "GET", "runs", params={"limit": "99999999999999999999999"})
    assert code == 400 and "limit" in one_sentence(body)
    code, body = await api("alice", "POST", "reviews",
                           body={"target": "#99999999999999999999999", "decision": "accept", "reason": "x"})
    assert code == 400 and "target" in one_sentence(body)
    code, body = await api("alice", "POST", "steps", body={"name": "a" * 100_000, "template": "sql_transform"})
    assert code == 400 and "name" in one_sentence(body) and len(body) < 1000
    code, body = await api("alice", "GET", "catalog", params={"q": "x" * 5000})
    assert code == 400 and "q" in one_sentence(body)
    code, body = await api("alice", "GET", "lineage", "raw.numbers", params={"depth": "9" * 30})
    assert code == 400 and "depth" in one_sentence(body)
    code, body = await api("alice", "GET", "runs", "2" * 5000)
    assert code == 400 and "path" in one_sentence(body)
    code, body = await api("alice", "POST", "runs", body={"mode": "only", "step": "s" * 100_000})
    assert code == 400 and "step" in one_sentence(body)
    assert api_project.snapshot() == before


async def test_a_huge_check_id_on_the_command_line_is_one_sentence(api_project):
    api_project.cli("run", check=0)
    result = api_project.cli("review", "accept", "#99999999999999999999999", "-m", "x")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "Error: Unknown check result '#99999999999999999999999'."


# --- 11: paths outside the root ---------------------------------------------------------------


async def test_a_store_outside_the_root_is_refused(api, jp_root_dir):
    project = make_two_steps(ProjectFactory(jp_root_dir / "team" / "proj"),
                             TWO_STEPS.replace("name: twosteps", "name: twosteps\nstore: ../../../other/.dataops"))
    project.cli("run", check=0)
    outside = jp_root_dir.parent / "other" / ".dataops"
    assert (outside / "ledger.db").is_file()
    run_id = json.loads(project.cli("runs", "--json", check=0).stdout)[0]["run_id"]
    for path in (("runs",), ("runs", run_id), ("runs", run_id, "notebooks", "make"), ("catalog", "raw.numbers"),
                 ("pipeline",)):
        code, body = await api("alice", "GET", *path, params={"project": "team/proj"})
        assert code == 403, (path, body)
        assert "outside the server's root directory" in one_sentence(body)
        assert run_id.encode() not in body and b"range(" not in body


async def test_a_run_store_symlinked_outside_the_root_is_refused(api, api_project, jp_root_dir):
    api_project.cli("run", check=0)
    run_id = api_project.ledger_rows("select run_id from runs")[0][0]
    runs = api_project.root / ".dataops" / "runs"
    outside = jp_root_dir.parent / "elsewhere-runs"
    shutil.move(runs, outside)
    os.symlink(outside, runs)
    code, body = await api("alice", "GET", "runs", run_id, "notebooks", "make")
    assert code == 403 and "outside the server's root directory" in one_sentence(body)
    assert b"range(" not in body


async def test_a_notebook_is_served_only_from_the_path_recorded_for_its_step(api, api_project):
    api_project.spec(GUARDED)
    api_project.cli("run", check=0, env={"DATAOPS_USER": "alice"})
    run_id = api_project.ledger_rows("select run_id from runs")[0][0]
    run_dir = api_project.root / ".dataops" / "runs" / run_id
    code, body = await api("bob", "GET", "runs", run_id, "notebooks", "double")
    assert code == 403  # double read raw.numbers, which bob may not read
    # a step's executed notebook replaced by a link to another step's
    (run_dir / "double.ipynb").unlink()
    os.symlink(run_dir / "make.ipynb", run_dir / "double.ipynb")
    code, body = await api("alice", "GET", "runs", run_id, "notebooks", "double")
    assert code == 404 and b"range(" not in body
    # the ledger's record pointed at another step's file
    import sqlite3

    con = sqlite3.connect(api_project.root / ".dataops" / "ledger.db")
    with con:
        con.execute("UPDATE step_runs SET output_notebook = ? WHERE step = 'double'",
                    (f".dataops/runs/{run_id}/make.ipynb",))
    con.close()
    code, body = await api("alice", "GET", "runs", run_id, "notebooks", "double")
    assert code == 404 and b"range(" not in body


# --- 12: an unreadable ledger -----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["empty", "truncated", "text"])
async def test_an_unreadable_ledger_is_never_replaced(api, api_project, damage):
    api_project.cli("run", check=0)
    ledger = api_project.root / ".dataops" / "ledger.db"
    for extra in ("ledger.db-wal", "ledger.db-shm"):
        (ledger.parent / extra).unlink(missing_ok=True)
    data = ledger.read_bytes()
    damaged = {"empty": b"", "truncated": data[: len(data) // 2], "text": b"name,value\nnot,a database\n" * 10}[damage]
    ledger.write_bytes(damaged)

    for command in (("runs",), ("run",), ("catalog", "search", "numbers"), ("review",)):
        result = api_project.cli(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        message = result.stderr.strip()
        assert message.startswith(f"Error: The ledger {ledger} ") and "Traceback" not in message
        assert "restore it from a backup, or move it aside" in message and message.count("\n") == 0
        assert ledger.read_bytes() == damaged  # never overwritten

    code, body = await api("alice", "GET", "runs")
    assert code == 503
    assert "Error: " + one_sentence(body) == message
    assert ledger.read_bytes() == damaged

"""The audit log: who did what, when and from where, hash-chained (issue 11, point 13).

Real runs, reviews, gc and exports through the CLI and a real Jupyter server with several
users; the log is read back with `dataops-nb audit` and tampered with in the SQLite file."""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest

from ..conftest import TWO_STEPS, ProjectFactory, make_two_steps
from .conftest import wait_for_run

SECRET = "s3cr3t-Value-<&>-'quoted'-0123456789"

AUDITED = TWO_STEPS.replace(
    "  - name: make\n    notebook: notebooks/make.ipynb\n",
    "  - name: make\n    notebook: notebooks/make.ipynb\n    params: {token: {secret: MAKE_TOKEN}}\n",
).replace(
    "    owner: tests\n", "    owner: tests\n    keep_versions: 1\n    checks:\n      - row_count: {max: 5, severity: warn}\n"
) + """
access:
  roles:
    steward: {read: ["*"], review: ["*"], run: ["*"]}
    analyst: {read: ["staging.*"]}
  members: {alice: [steward], bob: [analyst]}
"""


def audited(project: ProjectFactory) -> ProjectFactory:
    make_two_steps(project, AUDITED)
    project.notebook(
        "make",
        'n = 10\ntoken = ""',
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.numbers", f"select range as i from range({n})")
        """,
    )
    return project


def audit(project: ProjectFactory, *args: str, check: int | None = 0) -> list[dict]:
    return json.loads(project.cli("audit", "--json", *args, check=check).stdout)


def ledger_bytes(project: ProjectFactory) -> bytes:
    store = project.root / ".dataops"
    return b"".join(p.read_bytes() for p in store.glob("ledger.db*"))


def test_cli_actions_are_audited_with_who_when_and_where(project):
    audited(project)
    as_alice = {"DATAOPS_USER": "alice", "MAKE_TOKEN": SECRET}
    project.cli("run", env=as_alice, check=0)
    project.cli("run", "-p", "n=4", env=as_alice, check=0)  # supersedes raw.numbers: gc has work
    [check_id] = [row[0] for row in project.ledger_rows(
        "select id from check_results where status = 'warn' order by id desc limit 1")]
    denied = project.cli("review", "accept", f"#{check_id}", "-m", "fine", env={"DATAOPS_USER": "bob"})
    assert denied.returncode == 2 and "bob" in denied.stderr
    project.cli("review", "waive", f"#{check_id}", "-m", "ten rows are fine", env={"DATAOPS_USER": "alice"}, check=0)
    project.cli("gc", env={"DATAOPS_USER": "carol"}, check=0)
    project.cli("export", "openlineage", env={"DATAOPS_USER": "carol"}, check=0)

    entries = audit(project)
    assert [(e["action"], e["user"], e["origin"]) for e in entries] == [
        ("run_started", "alice", "cli"), ("status_changed", "alice", "cli"), ("status_changed", "alice", "cli"),
        ("run_ended", "alice", "cli"),
        ("run_started", "alice", "cli"), ("status_changed", "alice", "cli"), ("status_changed", "alice", "cli"),
        ("run_ended", "alice", "cli"),
        ("access_denied", "bob", "cli"), ("review", "alice", "cli"), ("gc_deleted", "carol", "cli"),
        ("export", "carol", "cli"),
    ]
    first, second = entries[0]["target"], entries[4]["target"]
    assert entries[0]["details"]["params"]["make"] == {"token": {"secret": "MAKE_TOKEN"}}
    assert entries[4]["details"]["params"]["make"]["n"] == 4
    assert entries[3]["details"] == {"status": "success", "message": None}
    assert entries[1]["details"]["versions"] == [f"raw.numbers@{first}"]
    assert entries[1]["details"]["status"] == "current"
    assert "may not review raw.numbers" in entries[8]["details"]["message"]
    assert entries[9]["target"] == f"#{check_id}" and entries[9]["details"]["decision"] == "waive"
    assert entries[9]["details"]["reason"] == "ten rows are fine"
    assert [v["version"] for v in entries[10]["details"]["versions"]] == [f"raw.numbers@{first}"]
    assert entries[11]["target"] == "openlineage" and entries[11]["details"]["run_id"] == second
    assert [e["id"] for e in entries] == list(range(1, 13))
    assert all(e["at"] <= f["at"] for e, f in itertools.pairwise(entries))
    # no form of the secret anywhere in the ledger
    for form in (SECRET, json.dumps(SECRET)[1:-1], SECRET.replace("<", "&lt;")):
        assert form.encode() not in ledger_bytes(project)

    assert [e["action"] for e in audit(project, "--user", "bob")] == ["access_denied"]
    assert len(audit(project, "--since", "1h")) == 12
    assert audit(project, "--since", "2999-01-01") == []
    assert len(audit(project, "--since", entries[9]["at"])) == 3
    bad = project.cli("audit", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since 'last tuesday' is not a date" in bad.stderr
    table = project.cli("audit", check=0).stdout
    assert "access_denied" in table and "gc_deleted" in table and "carol" in table


def test_verify_names_the_first_changed_or_removed_entry(project):
    audited(project)
    env = {"DATAOPS_USER": "alice", "MAKE_TOKEN": SECRET}
    project.cli("run", env=env, check=0)
    project.cli("run", "--force", env=env, check=0)
    ok = project.cli("audit", "--verify", check=0)
    assert ok.stdout.startswith("audit log intact: 8 entries, newest hash ")
    assert json.loads(project.cli("audit", "--verify", "--json", check=0).stdout)["entries"] == 8

    con = sqlite3.connect(project.root / ".dataops" / "ledger.db", isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM audit_log WHERE id = 3")
    # someone with write access to the file removes the guard and rewrites history
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("DROP TRIGGER audit_log_no_delete")
    (original,) = con.execute("SELECT details FROM audit_log WHERE id = 3").fetchone()
    con.execute("UPDATE audit_log SET details = ? WHERE id = 3", (original.replace("current", "quarantined"),))
    changed = project.cli("audit", "--verify")
    assert changed.returncode == 1 and changed.stdout == ""
    assert changed.stderr.startswith("Error: Audit entry #3 (status_changed by alice at ")
    assert changed.stderr.strip().endswith("was changed: its hash does not match its contents.")
    con.execute("UPDATE audit_log SET details = ? WHERE id = 3", (original,))
    project.cli("audit", "--verify", check=0)  # the hash covers the contents, nothing else

    con.execute("DELETE FROM audit_log WHERE id = 5")
    removed = project.cli("audit", "--verify")
    assert removed.returncode == 1
    assert removed.stderr.strip() == "Error: Audit entry #6 follows #4: #5 was removed."
    con.close()


async def test_server_actions_are_audited_as_the_jupyter_user(api, jp_root_dir, monkeypatch):
    project = audited(ProjectFactory(jp_root_dir))
    monkeypatch.setenv("DATAOPS_USER", "bob")  # the server's environment says nothing about who asks
    monkeypatch.setenv("MAKE_TOKEN", SECRET)
    code, body = await api("alice", "POST", "runs", body={"mode": "all"})
    assert code == 201, body
    run_id = json.loads(body)["run_id"]
    assert (await wait_for_run(api, "alice", run_id))["status"] == "success"

    code, body = await api("alice", "GET", "reviews")
    [failure] = json.loads(body)["failures"]
    decision = {"target": f"#{failure['id']}", "decision": "accept", "reason": "ten rows are fine"}
    code, _ = await api("bob", "POST", "reviews", body=decision)
    assert code == 403
    code, _ = await api("carol", "POST", "runs", body={"mode": "only", "step": "double"})
    assert code == 403
    code, _ = await api("alice", "POST", "reviews", body=decision)
    assert code == 201

    entries = audit(project)
    assert [(e["action"], e["user"], e["origin"]) for e in entries] == [
        ("run_started", "alice", "server"), ("status_changed", "alice", "server"),
        ("status_changed", "alice", "server"), ("run_ended", "alice", "server"),
        ("access_denied", "bob", "server"), ("access_denied", "carol", "server"), ("review", "alice", "server"),
    ]
    assert entries[0]["target"] == run_id
    assert entries[4]["target"].startswith("POST /") and entries[4]["target"].endswith("/dataops/reviews") and "bob" in entries[4]["details"]["message"]
    assert "may not run step double" in entries[5]["details"]["message"]
    assert SECRET.encode() not in ledger_bytes(project)
    project.cli("audit", "--verify", check=0)

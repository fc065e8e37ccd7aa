"""Review decisions that stick: an accepted version's step is fresh, decisions name check results,
standing decisions ("known issues") keep a repeating warning closed while their condition holds."""

from __future__ import annotations

from .conftest import cli_json


def _states(project, *args):
    return {row["step"]: (row["state"], row["reasons"]) for row in cli_json(project, "status", *args)}


def test_accepting_a_quarantined_version_makes_its_step_fresh_and_dependents_stale(gated):
    gated.cli("run", check=0)
    bad = gated.cli("run", "-p", "make.dup=true")
    assert bad.returncode == 1 and "step 'after' skipped" in bad.stderr
    assert _states(gated, "-p", "make.dup=true")["make"] == ("stale", ["last run failed"])

    decided = gated.cli("review", "accept", "staging.t", "-m", "the duplicate is a known re-issue", check=0)
    assert "promoted to current; its step is fresh for this version" in decided.stdout
    states = _states(gated, "-p", "make.dup=true")
    assert states["make"] == ("fresh", [])
    assert states["after"] == ("stale", ["input changed: staging.t"])
    assert cli_json(gated, "status", "-p", "make.dup=true")[0]["last_status"] == "accepted"

    # the next run keeps the accepted version: make is not re-run, nothing new is quarantined
    again = gated.cli("run", "-p", "make.dup=true", check=0)
    assert "quarantined" not in again.stdout + again.stderr
    [run] = cli_json(gated, "runs", "-n", "1")
    steps = {s["name"]: s["status"] for s in cli_json(gated, "show", run["run_id"])["steps"]}
    assert steps == {"make": "fresh", "after": "success"}
    assert gated.ledger_rows("select count(*) from dataset_versions where status = 'quarantined'") == [(0,)]
    [(current_rows,)] = gated.ledger_rows("select rows from dataset_versions where status = 'current'")
    assert current_rows == 101  # the accepted version, duplicate included
    # with the accepted parameters changed back, make is stale again for the usual reason
    assert _states(gated)["make"] == ("stale", ["parameter changed"])

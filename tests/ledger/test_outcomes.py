"""A step's latest outcome and the warn checks of a run, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from dataops_nb.ledger import Ledger


@pytest.fixture
def ledger(ledger_backend, tmp_path):
    led = Ledger.open(ledger_backend or tmp_path / "ledger.db", store_root=tmp_path)
    led.migrate()
    yield led
    led.close()


def check(run: str, step: str, name: str, status: str) -> dict:
    return {"run_id": run, "step": step, "dataset": "raw.a", "version_id": f"raw.a@{run}", "check_name": name,
            "kind": "not_null", "origin": "spec", "severity": "warn", "status": status}


def test_the_latest_outcome_counts_runs_and_skips_not_fresh_steps(ledger):
    ledger.open_run("r1", user="alice", selection=["make", "double"])
    ledger.set_step("r1", "make", status="success")
    ledger.set_step("r1", "double", status="failed", error="cell 2:1: ValueError: x")
    ledger.open_run("r2", user="alice", selection=["make", "double"])
    ledger.set_step("r2", "make", status="fresh", duration_s=0.0)  # not re-run: r1's success stands
    ledger.set_step("r2", "double", status="skipped", error="upstream step 'make' did not succeed")
    outcomes = ledger.runs.last_outcomes()
    assert {name: (row.run_id, str(row.status)) for name, row in outcomes.items()} == {
        "make": ("r1", "success"), "double": ("r2", "skipped")}
    assert outcomes["double"].error == "upstream step 'make' did not succeed"


def test_warnings_count_the_latest_result_of_each_check(ledger):
    ledger.checks.record([check("r1", "make", "a", "warn"), check("r1", "make", "b", "warn"),
                          check("r1", "make", "c", "pass"), check("r2", "double", "a", "warn")])
    ledger.checks.record([check("r1", "make", "b", "pass")])  # a re-check that passed
    assert ledger.checks.warnings(["r1", "r2"]) == {("r1", "make"): 1, ("r2", "double"): 1}
    assert ledger.checks.warnings(["r1"]) == {("r1", "make"): 1}
    assert ledger.checks.warnings([]) == {}


def test_the_latest_outcome_in_an_environment_falls_back_to_its_base(ledger):
    ledger.open_run("r1", user="alice", selection=["make", "double"], environment="prod")
    ledger.set_step("r1", "make", status="success")
    ledger.set_step("r1", "double", status="success")
    ledger.open_run("r2", user="alice", selection=["double"], environment="dev")
    ledger.set_step("r2", "double", status="failed", error="cell 1:1: ValueError: x")
    ledger.open_run("r3", user="alice", selection=["make"], environment="prod")
    ledger.set_step("r3", "make", status="skipped", error="upstream")
    found = ledger.runs.last_outcomes_in(["dev", "prod"], default="prod")
    # dev ran double itself (and failed); make it defers to prod, whose latest outcome is r3's skip
    assert {step: (env, row.run_id, str(row.status)) for step, (env, row) in found.items()} == {
        "double": ("dev", "r2", "failed"), "make": ("prod", "r3", "skipped")}
    prod = ledger.runs.last_outcomes_in(["prod"], default="prod")
    assert {step: (env, row.run_id) for step, (env, row) in prod.items()} == {
        "double": ("prod", "r1"), "make": ("prod", "r3")}
    # executed runs only, as before
    assert {s: r.run_id for s, r in ledger.runs.last_step_runs(["dev", "prod"], default="prod").items()} == {
        "double": "r2", "make": "r1"}

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

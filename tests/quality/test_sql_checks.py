"""A broken `sql` check: refused when the spec loads if it cannot bind, one error result of its own
at run time, while every other check still runs and reports."""

from __future__ import annotations

from .conftest import SPEC, cli_json

SQL_LINE = next(i for i, text in enumerate(SPEC.splitlines(), 1) if "- sql:" in text) - 1  # SPEC is dedented


def test_sql_check_on_a_missing_declared_column_is_refused_when_the_spec_loads(gated):
    gated.spec(SPEC.replace("where id < 0", "where idd < 0"))
    for command in ("run", "check", "status"):
        result = gated.cli(command)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert (f"dataops.yaml:{SQL_LINE}: the sql check on staging.t refers to column 'idd', which staging.t does "
                "not have (did you mean 'id'?) at 'datasets.staging.t.checks[1].sql.query'.") in result.stderr
    assert not (gated.root / ".dataops").exists()


UNDECLARED = """
name: gate
steps:
  - {name: make, notebook: notebooks/make.ipynb}
  - {name: after, notebook: notebooks/after.ipynb, needs: [make]}
datasets:
  staging.t:
    checks:
      - sql: {query: "select * from {this} where id < 0", name: no_negative_ids}
"""


def test_sql_check_is_bound_against_the_current_schema_when_no_columns_are_declared(gated):
    gated.spec(UNDECLARED)
    gated.cli("run", check=0)
    gated.spec(UNDECLARED.replace("where id < 0", "where carier = 'ZZ'"))
    result = gated.cli("check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("sql check 'no_negative_ids' on staging.t refers to column 'carier', which staging.t does not have "
            "(did you mean 'carrier'?)") in result.stderr
    gated.spec(UNDECLARED.replace("{this} where id < 0", "planes"))
    other_table = gated.cli("plan")
    assert other_table.returncode == 2
    assert "reads table planes, which a check cannot see (write {this} for the dataset under check)" in other_table.stderr


def test_a_check_that_fails_at_run_time_is_one_error_result_and_the_others_report(gated):
    # binds (name is declared without a type), but the data cannot be cast
    gated.spec(SPEC.replace("where id < 0", "where cast(name as integer) < 0"))
    ran = gated.cli("run")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "quality checks could not run" not in ran.stderr
    assert "quality checks failed, versions quarantined: sql: error" in ran.stderr
    assert "step 'after' skipped" in ran.stderr
    results = {r[0]: r[1:] for r in gated.ledger_rows("select check_name, status, failing, message from check_results")}
    assert results["sql"][0] == "error" and "could not run" in results["sql"][2]
    assert "Could not convert string" in results["sql"][2]
    assert results["unique(id)"][:2] == ("pass", 0)
    assert results["not_null(name)"][:2] == ("warn", 10)
    assert results["row_count"][0] == "pass"

    review = cli_json(gated, "review")
    assert {(f["check"], f["status"]) for f in review["failures"]} >= {("sql", "error"), ("not_null(name)", "warn")}

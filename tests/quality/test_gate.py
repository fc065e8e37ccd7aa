"""Write–audit–publish through real runs, the check/review commands, and bad check specs."""

from __future__ import annotations

import json

import pytest

from .conftest import SPEC, cli_json


def test_warnings_promote_and_errors_quarantine(gated, ledger_backend):
    ok = gated.cli("run", check=0)
    assert "warning in step 'make': not_null(name): warn, 10 failing row(s)" in ok.stdout
    first = gated.ledger_rows("select version_id from dataset_versions where status = 'current'")

    bad = gated.cli("run", "-p", "dup=true")
    assert bad.returncode == 1
    assert "quality checks failed, versions quarantined: unique(id): error, 1 failing row(s)" in bad.stderr
    assert "step 'after' skipped" in bad.stderr
    assert gated.ledger_rows("select version_id from dataset_versions where status = 'current'") == first
    [(quarantined,)] = gated.ledger_rows("select version_id from dataset_versions where status = 'quarantined'")

    # history is append-only: both runs' results are kept, with masked samples and SQL
    rows = gated.ledger_rows("select version_id, check_name, status, failing, sample, sql, origin from check_results")
    assert len(rows) == 2 * 6
    unique = next(r for r in rows if r[0] == quarantined and r[1] == "unique(id)")
    assert unique[2:4] == ("error", 1)
    assert all(row["name"] == "********" for row in json.loads(unique[4]))
    assert "count(DISTINCT" in unique[5]
    assert {r[6] for r in rows if r[1] == "accepted_values(carrier)"} == {"notebook"}

    items = cli_json(gated, "review")
    assert [q["version"] for q in items["quarantined"]] == [quarantined]
    assert {(f["check"], f["status"]) for f in items["failures"] if f["version"] == quarantined} == {
        ("unique(id)", "error"), ("not_null(name)", "warn"), ("accepted_values(carrier)", "warn")
    }

    # accepting the quarantined version promotes it; the decision is kept with who and why
    decided = gated.cli("review", "accept", "staging.t", "--reason", "the duplicate is expected",
                        env={"DATAOPS_USER": "alice"}, check=0)
    assert "promoted to current" in decided.stdout
    assert gated.ledger_rows("select version_id from dataset_versions where status = 'current'") == [(quarantined,)]
    assert gated.ledger_rows("select decision, reason, user from reviews") == [
        ("accept", "the duplicate is expected", "alice")
    ]
    assert cli_json(gated, "review")["quarantined"] == []


def test_check_command_rechecks_and_explains(gated):
    gated.cli("run", check=0)
    [report] = cli_json(gated, "check")
    assert report["status"] == "warn"
    assert {r["check"] for r in report["results"]} >= {"unique(id)", "accepted_values(carrier)"}
    explained = gated.cli("check", "staging.t", "--explain", check=0).stdout
    # one statement: the streaming scan, the key-only subquery of unique(id), `{this}` for the sql check
    assert explained.count(";") == 1 and "(SELECT count(\"id\") - count(DISTINCT \"id\") FROM read_parquet" in explained
    assert gated.cli("check", "raw.nothing").returncode == 2
    assert gated.ledger_rows("select count(*) from check_results where run_id is null") == [(6,)]


def test_waive_and_quarantine_current_version(gated, ledger_backend):
    gated.cli("run", check=0)
    gated.cli("run", "--force", check=0)
    failure = cli_json(gated, "review")["failures"][0]
    gated.cli("review", "waive", f"#{failure['id']}", "-m", "nulls are cancelled flights", check=0)
    assert all(f["id"] != failure["id"] for f in cli_json(gated, "review")["failures"])
    older, newer = [r[0] for r in gated.ledger_rows("select version_id from dataset_versions order by created_at")]
    result = cli_json(gated, "review", "quarantine", newer, "-m", "bad load")
    assert older in result["effect"]
    assert gated.ledger_rows("select version_id from dataset_versions where status = 'current'") == [(older,)]


def test_review_needs_reason_and_valid_target(gated, ledger_backend):
    gated.cli("run", check=0)
    assert gated.cli("review", "accept", "staging.t").returncode == 2  # --reason is required
    missing = gated.cli("review", "accept", "staging.x", "-m", "why")
    assert missing.returncode == 2 and "Unknown dataset 'staging.x'" in missing.stderr
    bad = gated.cli("review", "accept", "x; drop table reviews", "-m", "why")
    assert bad.returncode == 2 and "is not a dataset" in bad.stderr


def test_access_roles_limit_who_reviews(gated):
    gated.spec(SPEC + "access:\n  roles:\n    steward: {review: ['staging.*']}\n  members: {alice: [steward], bob: []}\n")
    gated.cli("run", check=0)
    denied = gated.cli("review", "comment", "staging.t", "-m", "hi", env={"DATAOPS_USER": "bob"})
    assert denied.returncode == 2 and "may not review staging.t" in denied.stderr
    gated.cli("review", "comment", "staging.t", "-m", "hi", env={"DATAOPS_USER": "alice"}, check=0)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (("- row_count: {min: 10}", "- row_cnt: {min: 10}"), "unknown check type 'row_cnt' (did you mean 'row_count'?)"),
        (("carrier: {}", "carrier: {checks: [{not_null: {warn_if: 'lots'}}]}"), "threshold 'lots' is malformed"),
        (("- row_count: {min: 10}", "- not_null: {column: nme}"),
         "does not declare (did you mean 'name'?); a dataset that declares columns declares every column its checks "
         "name (add 'nme' under its columns:)"),
        (("- row_count: {min: 10}", "- relationships: {column: id, to: raw.nope, field: id}"),
         "relationships points to raw.nope, which is not declared under datasets: in the spec; a dataset a check "
         "refers to must be declared there"),
        (("where id < 0", "wher id <"), "the check's SQL does not parse"),
    ],
)
def test_bad_checks_refused_when_spec_loads(gated, breakage, message):
    gated.spec(SPEC.replace(*breakage))
    result = gated.cli("run")
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()) and "dataops.yaml:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (gated.root / ".dataops" / "runs").exists()


@pytest.mark.parametrize(
    ("check", "field", "message"),
    [
        ('sql: {query: "delete from {this}"}', "sql.query", "must be exactly one SELECT or WITH query (got DELETE)"),
        ('sql: {query: "select 1; select 2"}', "sql.query", "must be exactly one SELECT or WITH query"),
        ("row_count: {min: lots}", "row_count.min", "argument 'min' must be a whole number of 0 or more (got 'lots')"),
        ("range: {column: id, min: one}", "range.min", "argument 'min' must be a number or an ISO date or timestamp"),
        ("volume_anomaly: {sensitivity: high}", "volume_anomaly.sensitivity", "must be a positive number (got 'high')"),
        ("volume_anomaly: {min_history: 2.5}", "volume_anomaly.min_history", "must be a whole number of 0 or more"),
        ("schema: {allow_added: maybe}", "schema.allow_added", "must be true or false (got 'maybe')"),
        ("unique: {columns: name}", "unique.columns", "must be a list of column names (got 'name')"),
        ("accepted_values: {column: carrier, values: 5}", "accepted_values.values", "must be a list of values (got 5)"),
        ("freshness: {column: id, warn_after: 2x}", "freshness.warn_after", "must be a duration such as 30s"),
    ],
)
def test_check_arguments_of_the_wrong_type_refused_when_spec_loads(gated, check, field, message):
    gated.spec(SPEC.replace("- row_count: {min: 10}", "- " + check))
    line = next(i for i, text in enumerate(SPEC.splitlines(), 1) if "row_count: {min: 10}" in text) - 1  # dedented
    for command in ("run", "check"):
        result = gated.cli(command)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert message in result.stderr
        assert f"dataops.yaml:{line}: " in result.stderr
        assert result.stderr.strip().endswith(f"at 'datasets.staging.t.checks[0].{field}'.")
    assert not (gated.root / ".dataops" / "runs").exists()


EVENTS = """
import dataops_nb as dn
step = dn.step()
step.publish("raw.events", f"select range as id, TIMESTAMP '2013-01-01' + INTERVAL (range) HOUR as time_hour from range({n})")
step.check("raw.events").freshness("time_hour", warn_after="2d", error_after="36500d")
"""

EVENTS_SPEC = """
name: events
steps:
  - {name: load, notebook: notebooks/load.ipynb}
datasets:
  raw.events:
    checks:
      - freshness: {column: time_hour, warn_after: 2d, name: declared_freshness}
      - volume_anomaly: {min_history: 2}
"""


@pytest.fixture
def events(project):
    project.notebook("load", "n = 100", EVENTS)
    project.spec(EVENTS_SPEC)
    return project


def _results(report):
    return {r["check"]: r for r in report["results"]}


def test_freshness_durations_in_spec_and_notebook(events):
    ran = events.cli("run", check=0)
    assert "declared_freshness: warn" in ran.stdout and "freshness(time_hour): warn" in ran.stdout
    [report] = cli_json(events, "check")
    results = _results(report)
    assert results["declared_freshness"]["status"] == "warn" and "days old" in results["declared_freshness"]["message"]
    assert results["freshness(time_hour)"]["status"] == "warn"  # stale by far more than 2d, less than 36500d


def test_anomaly_history_is_one_value_per_earlier_version(events):
    events.cli("run", check=0)
    for _ in range(3):  # re-checking the same version adds results, not history
        [report] = cli_json(events, "check")
        assert "0 of 2 versions of history" in _results(report)["volume_anomaly"]["message"]
    jump = events.cli("run", "-p", "n=5000", check=0)  # one earlier version: still no judgement
    assert "quarantined" not in jump.stderr
    [report] = cli_json(events, "check")
    assert "1 of 2 versions of history" in _results(report)["volume_anomaly"]["message"]

    events.cli("run", "-p", "n=5000", "--force", check=0)  # versions: 100, 5000, 5000
    spike = events.cli("run", "-p", "n=100000")
    assert spike.returncode == 1 and "volume_anomaly: error" in spike.stderr


def test_review_of_an_unknown_dataset_is_refused(gated):
    assert gated.cli("review", "--dataset", "nope.x").returncode == 2  # no ledger yet
    gated.cli("run", check=0)
    missing = gated.cli("review", "--dataset", "nope.x")
    assert missing.returncode == 2 and "Unknown dataset 'nope.x'" in missing.stderr
    assert "Traceback" not in missing.stderr and "Nothing to review" not in missing.stdout
    assert gated.cli("review", "--dataset", "Nope").returncode == 2
    assert {f["dataset"] for f in cli_json(gated, "review", "--dataset", "staging.t")["failures"]} == {"staging.t"}

"""Write–audit–publish through real runs, the check/review commands, and bad check specs."""

from __future__ import annotations

import json

import pytest

SPEC = """
name: gate
steps:
  - {name: make, notebook: notebooks/make.ipynb}
  - {name: after, notebook: notebooks/after.ipynb, needs: [make]}
datasets:
  staging.t:
    owner: tests
    columns:
      id: {checks: [not_null, unique]}
      name: {checks: [{not_null: {severity: warn}}], tags: [pii]}
      carrier: {}
    checks:
      - row_count: {min: 10}
      - sql: {query: "select * from {this} where id < 0"}
"""

MAKE = """
import dataops_nb as dn
step = dn.step()
q = "select range as id, case when range % 10 = 0 then null else 'person' || range end as name, 'AA' as carrier from range(100)"
if dup:
    q += " union all select 5, 'dupe', 'ZZ'"
step.publish("staging.t", q)
step.check("staging.t").accepted_values("carrier", ["AA", "UA"], severity="warn")
"""


@pytest.fixture
def gated(project):
    project.notebook("make", "dup = False", MAKE)
    project.notebook("after", "x = 1", "import dataops_nb as dn\nprint(dn.step().read('staging.t').height)")
    project.spec(SPEC)
    return project


def cli_json(project, *args):
    return json.loads(project.cli(*args, "--json", check=0).stdout)


def test_warnings_promote_and_errors_quarantine(gated):
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


def test_waive_and_quarantine_current_version(gated):
    gated.cli("run", check=0)
    gated.cli("run", "--force", check=0)
    failure = cli_json(gated, "review")["failures"][0]
    gated.cli("review", "waive", f"#{failure['id']}", "-m", "nulls are cancelled flights", check=0)
    assert all(f["id"] != failure["id"] for f in cli_json(gated, "review")["failures"])
    older, newer = [r[0] for r in gated.ledger_rows("select version_id from dataset_versions order by created_at")]
    result = cli_json(gated, "review", "quarantine", newer, "-m", "bad load")
    assert older in result["effect"]
    assert gated.ledger_rows("select version_id from dataset_versions where status = 'current'") == [(older,)]


def test_review_needs_reason_and_valid_target(gated):
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
        (("- row_count: {min: 10}", "- not_null: {column: nme}"), "does not declare (did you mean 'name'?)"),
        (("- row_count: {min: 10}", "- relationships: {column: id, to: raw.nope, field: id}"), "unknown dataset 'raw.nope'"),
        (("where id < 0", "wher id <"), "the check's SQL does not parse"),
    ],
)
def test_bad_checks_refused_when_spec_loads(gated, breakage, message):
    gated.spec(SPEC.replace(*breakage))
    result = gated.cli("run")
    assert result.returncode == 2, result.stderr
    assert message.split(" (")[0] in result.stderr and "dataops.yaml:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (gated.root / ".dataops" / "runs").exists()

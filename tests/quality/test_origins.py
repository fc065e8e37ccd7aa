"""A check declared in dataops.yaml and a notebook's `step.check` of the same name are two checks:
each keeps its own latest result, and every place that shows checks shows both."""

from __future__ import annotations

from .conftest import cli_json

TWINS = """
name: twins
steps:
  - {name: make, notebook: notebooks/make.ipynb}
datasets:
  staging.t:
    columns:
      id: {}
      name: {checks: [{not_null: {severity: warn}}]}
"""

# ten of the hundred names are null: the declared check warns; the notebook's, which allows up to
# half the rows to be null, passes (and, recorded after it, used to overwrite the warning)
MAKE = """
import dataops_nb as dn
step = dn.step()
step.publish("staging.t", "select range as id, case when range % 10 = 0 then null else 'n' end as name from range(100)")
step.check("staging.t").not_null("name", severity="warn", warn_if=">50%")
"""


def test_a_declared_and_a_notebook_check_of_one_name_are_both_shown(project, ledger_backend):
    project.notebook("make", "x = 1", MAKE)
    project.spec(TWINS)
    ran = project.cli("run", check=0)
    assert "warning in step 'make': not_null(name): warn, 10 failing row(s)" in ran.stdout

    page = cli_json(project, "catalog", "show", "staging.t")
    shown = {(c["origin"], c["check"]): c["status"] for c in page["quality"]["checks"]}
    assert shown == {("spec", "not_null(name)"): "warn", ("notebook", "not_null(name)"): "pass"}
    assert page["quality"]["status"] == "warn"
    text = project.cli("catalog", "show", "staging.t", check=0).stdout
    assert "quality warn\n  not_null(name): warn" in text

    [report] = cli_json(project, "check", "staging.t")
    assert report["status"] == "warn"
    assert sorted((r["label"], r["status"]) for r in report["results"]) == [
        ("not_null(name)", "warn"), ("notebook:not_null(name)", "pass")]
    table = project.cli("check", "staging.t", check=0).stdout
    assert "notebook:not_null(name)  pass" in table and "\nnot_null(name)           warn" in table

    review = cli_json(project, "review")
    assert [(f["origin"], f["check"], f["status"]) for f in review["failures"]] == [
        ("spec", "not_null(name)", "warn")]

    # a decision names one of the two: a bare name is ambiguous, an origin settles it
    before = project.ledger_rows("select count(*) from reviews")
    vague = project.cli("review", "accept", "staging.t", "--check", "not_null(name)", "-m", "known")
    assert vague.returncode == 2 and "Traceback" not in vague.stderr
    assert ("staging.t has two checks named 'not_null(name)', one declared in dataops.yaml and one from a "
            "notebook: name one with --check spec:not_null(name) or --check notebook:not_null(name)") in vague.stderr
    assert project.ledger_rows("select count(*) from reviews") == before
    decided = project.cli("review", "waive", "staging.t", "--check", "spec:not_null(name)", "-m", "known", check=0)
    assert "check not_null(name) by" in decided.stdout
    assert project.ledger_rows("select check_origin, check_name from reviews") == [("spec", "not_null(name)")]

    closed = cli_json(project, "review")
    assert closed["failures"] == [] and [(f["origin"], f["decision"]) for f in closed["closed"]] == [("spec", "waived")]
    page = cli_json(project, "catalog", "show", "staging.t")
    decided = {c["origin"]: (c["status"], c["decision"]) for c in page["quality"]["checks"]}
    assert decided == {"spec": ("warn", "waived"), "notebook": ("pass", None)}

"""Review decisions that stick: an accepted version's step is fresh, decisions name check results,
standing decisions ("known issues") keep a repeating warning closed while their condition holds."""

from __future__ import annotations

from .conftest import cli_json


def _states(project, *args):
    return {row["step"]: (row["state"], row["reasons"]) for row in cli_json(project, "status", *args)}


def test_accepting_a_quarantined_version_makes_its_step_fresh_and_dependents_stale(gated, ledger_backend):
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


# --- point 7: decisions name the check results they close; standing decisions carry over --------

NULLS = """
import dataops_nb as dn
step = dn.step()
step.publish("staging.k", f"select range as id, case when range < {nulls} then null else range end as v from range(100)")
"""

KNOWN = """
name: known
steps:
  - {name: make, notebook: notebooks/make.ipynb}
datasets:
  staging.k:
    columns:
      id: {checks: [not_null]}
      v: {checks: [{not_null: {severity: warn}}]}
"""


def _review(project):
    return cli_json(project, "review")


def test_a_version_decision_closes_the_checks_failing_then_and_a_check_added_later_is_open(gated, ledger_backend):
    gated.cli("run", check=0)
    accepted = gated.cli("review", "accept", "staging.t", "-m", "ten unnamed rows are expected", check=0)
    assert "accept staging.t@" in accepted.stdout and ": recorded" in accepted.stdout
    shown = gated.cli("review", check=0).stdout
    assert "Nothing to review." in shown and "Closed by a decision:" in shown
    assert "not_null(name)" in shown and "accepted by" in shown

    # a check added after the decision: `check` says warn, and `review` shows it open
    gated.spec(SPEC_WITH_CARRIER_CHECK)
    [report] = cli_json(gated, "check")
    by_check = {r["check"]: r for r in report["results"]}
    assert by_check["not_null(name)"]["decision"] == "accepted"
    assert by_check["carrier_is_ua"]["status"] == "warn" and by_check["carrier_is_ua"]["decision"] is None
    assert (report["status"], report["accepted"], report["waived"]) == ("warn", 1, 0)
    assert [f["check"] for f in _review(gated)["failures"]] == ["carrier_is_ua"]

    # one check of the version: waived alone
    waived = gated.cli("review", "waive", "staging.t", "--check", "carrier_is_ua", "-m", "UA codes arrive next week",
                       check=0)
    assert "check carrier_is_ua" in waived.stdout
    assert _review(gated)["failures"] == []
    [report] = cli_json(gated, "check")
    assert (report["status"], report["accepted"], report["waived"]) == ("pass", 1, 1)
    text = gated.cli("check", check=0).stdout
    assert "pass (1 accepted, 1 waived)" in text and "waived by" in text
    page = gated.cli("catalog", "show", "staging.t", check=0).stdout
    assert "not_null(name): warn, accepted by" in page and "carrier_is_ua: warn, waived by" in page
    quality = cli_json(gated, "catalog", "show", "staging.t")["quality"]
    assert {c["check"]: c["decision"] for c in quality["checks"] if c["status"] != "pass"} == {
        "not_null(name)": "accepted", "carrier_is_ua": "waived"}
    # each decision is in the audit log with what it names
    reviews = [e["details"] for e in cli_json(gated, "audit") if e["action"] == "review"]
    assert [(d["decision"], d["check"], d["checks"]) for d in reviews] == [
        ("accept", None, ["not_null(name)"]), ("waive", "carrier_is_ua", None)]


SPEC_WITH_CARRIER_CHECK = __import__("tests.quality.conftest", fromlist=["SPEC"]).SPEC.replace(
    "      carrier: {}", "      carrier: {checks: [{accepted_values: {values: [UA], severity: warn, name: carrier_is_ua}}]}")


def test_a_standing_decision_keeps_a_repeating_warning_closed_while_it_holds(project, ledger_backend):
    project.notebook("make", "nulls = 3", NULLS)
    project.spec(KNOWN)
    project.cli("run", check=0)
    [failure] = _review(project)["failures"]
    assert (failure["check"], failure["failing"]) == ("not_null(v)", 3)

    known = project.cli("review", "accept", f"#{failure['id']}", "--for-runs", "1", "-m", "backfill pending", check=0)
    assert "known issue: warnings of not_null(v) on staging.k stay closed for 1 run" in known.stdout
    # the next run: the warning is the known issue, not a new open failure
    again = project.cli("run", "--force", check=0)
    assert "not_null(v): warn, 3 failing row(s) (3.00%), accepted by" in again.stdout
    assert "known issue for 1 run" in again.stdout
    items = _review(project)
    assert items["failures"] == [] and [c["check"] for c in items["closed"]] == ["not_null(v)"]
    [standing] = items["standing"]
    assert (standing["check"], standing["terms"], standing["runs_left"], standing["expired"]) == (
        "not_null(v)", "for 1 run", 0, False)
    shown = project.cli("review", check=0).stdout
    assert "Known issues (standing decisions):" in shown and "active, 0 run(s) left" in shown
    # its runs used, it expires: the run after shows the warning open again
    project.cli("run", "--force", check=0)
    items = _review(project)
    assert [f["check"] for f in items["failures"]] == ["not_null(v)"] and items["standing"][0]["expired"] is True
    assert "expired" in project.cli("review", check=0).stdout

    # while a condition holds: closed at 3%, open again at 8%
    project.cli("review", "waive", "staging.k", "--check", "not_null(v)", "--while", "failing <= 5%", "-m", "noise",
                check=0)
    assert _review(project)["failures"] == []
    project.cli("run", "-p", "make.nulls=8", check=0)
    [reopened] = _review(project)["failures"]
    assert (reopened["check"], reopened["failing"]) == ("not_null(v)", 8)
    # through a date: closed, shown with its date
    project.cli("review", "accept", "staging.k", "--check", "not_null(v)", "--until", "2999-12-31", "-m", "q4",
                check=0)
    items = _review(project)
    assert items["failures"] == [] and items["standing"][0]["terms"] == "through 2999-12-31"


def test_standing_decision_bad_input_is_one_sentence_and_records_nothing(project, ledger_backend):
    project.notebook("make", "nulls = 3", NULLS)
    project.spec(KNOWN)
    project.cli("run", check=0)
    before = len(cli_json(project, "audit"))
    cases = [
        (["accept", "staging.k", "--check", "not_null(v)", "--until", "2020-01-01"], "is in the past"),
        (["accept", "staging.k", "--check", "not_null(v)", "--until", "next friday"], "is not a date"),
        (["accept", "staging.k", "--check", "not_null(v)", "--while", "rows > 3"], "is not a condition on the failing"),
        (["accept", "staging.k", "--for-runs", "2"], "A standing decision names one check"),
        (["accept", "staging.k", "--check", "not_nul(v)", "--for-runs", "2"], "did you mean 'not_null(v)'"),
        (["accept", "staging.k", "--for-runs", "0"], "0 is not in the range x>=1"),
        (["quarantine", "staging.k", "--until", "2999-01-01"], "No such option '--until'"),
    ]
    for args, message in cases:
        result = project.cli("review", *args, "-m", "why", check=2)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert len(cli_json(project, "audit")) == before
    assert _review(project)["decisions"] == []


def _decision_row(**fields):
    row = {"id": 1, "decision": "accept", "dataset": "staging.k", "version_id": "staging.k@1", "check_id": None,
           "check_origin": "spec", "check_name": "not_null(v)", "checks": None, "reason": "r", "user": "ana",
           "created_at": "2026-01-01T00:00:00.000+00:00", "expires_at": None, "for_runs": None,
           "while_condition": None}
    return {**row, **fields}


def test_a_standing_decision_past_its_date_or_on_an_error_closes_nothing():
    from dataops_nb.quality.decisions import Decisions

    result = {"dataset": "staging.k", "version": "staging.k@2", "origin": "spec", "check": "not_null(v)", "status": "warn",
              "failing": 3, "rows": 100}
    later = Decisions([_decision_row(expires_at="2999-01-01T00:00:00.000+00:00")], lambda *_: ["staging.k@2"])
    assert later.label(result)["text"] == "accepted by ana (#1; known issue through 2998-12-31)"
    assert later.closing({**result, "status": "error"}) is None  # the gate's errors need their own decision
    past = Decisions([_decision_row(expires_at="2026-01-02T00:00:00.000+00:00")], lambda *_: ["staging.k@2"])
    assert past.closing(result) is None and past.standing()[0]["expired"] is True


def test_the_report_tells_accepted_waived_and_open_checks_apart(gated, ledger_backend):
    from tests.catalog.test_report import Page

    gated.cli("run", check=0)
    gated.cli("run", "-p", "make.dup=true", check=1)  # unique(id) errors: quarantined; carrier ZZ warns
    gated.cli("review", "waive", "staging.t", "--check", "accepted_values(carrier)", "-m", "ZZ is a test carrier",
              check=0)
    partly = gated.cli("review", "accept", "staging.t", "--check", "unique(id)", "-m", "the re-issue", check=0)
    assert "promoted to current" in partly.stdout  # no error of it is left open
    [run] = cli_json(gated, "runs", "-n", "1")
    out = cli_json(gated, "report", run["run_id"])
    html = (gated.root / out["path"]).read_text()
    text = Page(html).text
    assert "1 open check failure(s), 1 accepted, 1 waived" in text
    assert ("error unique(id) (1 failing) accepted accepted by" in text
            and "warn notebook:accepted_values(carrier) (1 failing) waived waived by" in text)
    assert '<span class="badge warn">warn</span> not_null(name) (10 failing)<br>' in html  # open: no decision
    # the open failure is under the failures, the decided ones apart, each with who and why
    failures, decided = text.split("Check failures", 1)[1].split("Accepted and waived checks", 1)
    assert "not_null(name)" in failures and "unique(id)" not in failures
    assert "unique(id)" in decided and "the re-issue" in decided and "ZZ is a test carrier" in decided

"""PII in step errors (issue point 4, its PII half): a step that raises with personal data in
its message shows the values only to users who may read and unmask the datasets it used; others
see the message with the values masked, in `show`, `runs --json`, the HTML report, the server's
runs API and the OpenLineage errorMessage facet. Asserted on the bytes printed, written and served."""

from __future__ import annotations

import json

from dataops_nb.security import MASK

from ..catalog.conftest import PEOPLE
from .conftest import wait_for_run  # noqa: F401 - the fixtures come with it
from .forms import leaks

SPEC = """
name: errors-pii
steps:
  - {name: people, notebook: notebooks/people.ipynb}
  - {name: crash, notebook: notebooks/crash.ipynb, needs: [people]}
  - {name: names, notebook: notebooks/names.ipynb}
datasets:
  raw.people:
    columns:
      full_name: {tags: [pii]}
  raw.names:
    columns:
      full_name: {tags: [pii]}
      n: {checks: [not_null]}
    checks:
      - sql: {query: "select n from {this} where cast(full_name as integer) > 0", severity: warn}
access:
  roles:
    steward: {read: ["*"], unmask: ["*"]}
    analyst: {read: ["*"]}
    guest: {read: ["marts.*"]}
  members: {alice: [steward], bob: [analyst], carol: [guest]}
"""
# the name is only PII by its spec tag (no pattern finds it); the e-mail address and the card
# number are found in the data, and the unformatted number only by the classifier
CRASH = """
import dataops_nb as dn
row = dn.read("raw.people").row(0, named=True)
raise ValueError(f"bad row for {row['full_name']} <{row['email']}>, card {row['card']}, "
                 f"account 9876543210 in run of step crash")
"""
# a check DuckDB cannot answer quotes the value in its error
NAMES = """
import polars as pl
import dataops_nb as dn
dn.step().publish("raw.names", pl.DataFrame({"full_name": ["Ada Lovelace"], "n": [1]}))
"""
VALUES = {"name": "Ada Lovelace", "email": "ada@example.com", "card": "4111 1111 1111 1111", "account": "9876543210"}


async def test_step_errors_show_pii_only_to_who_may_unmask(served, api):
    served.notebook("people", "bump = 0", PEOPLE)
    served.notebook("crash", "x = 1", CRASH)
    served.notebook("names", "x = 1", NAMES)
    served.spec(SPEC)
    served.cli("run", env={"DATAOPS_USER": "alice"}, check=1)
    [(run,)] = served.ledger_rows("SELECT max(run_id) FROM runs")
    [(stored,)] = served.ledger_rows("SELECT error FROM step_runs WHERE step = 'crash'")
    assert all(value in stored for value in VALUES.values())  # the steward's record is whole

    def cli(user, *args):
        return served.cli(*args, env={"DATAOPS_USER": user}, check=0).stdout

    def error_of(data):
        [step] = [s for s in data["steps"] if s["name"] == "crash"]
        return step["error"]

    for user in ("bob", "carol"):
        shown = cli(user, "show", run, "--json")
        listed = cli(user, "runs", "--json")
        text = cli(user, "show", run)
        assert leaks((shown + listed + text).encode(), VALUES) == [], user
        where, error = error_of(json.loads(shown)).split(": ", 1)  # `cell N...: ` says where it failed
        assert where.startswith("cell ") and error == (
            f"ValueError: bad row for {MASK} <{MASK}>, card {MASK}, account {MASK} in run of step crash")
        assert error_of(json.loads(listed)[0]) == error_of(json.loads(shown))
        served.cli("report", run, "--output", f"report-{user}.html", env={"DATAOPS_USER": user}, check=0)
        html = (served.root / f"report-{user}.html").read_bytes()
        assert leaks(html, VALUES) == [] and b"bad row for" in html
        code, body = await api(user, "GET", "runs", run)
        assert code == 200 and leaks(body, VALUES) == [] and MASK.encode() in body, user
        code, body = await api(user, "GET", "runs")
        assert code == 200 and leaks(body, VALUES) == [], user
    # a check's message too: in review, check, the catalog page, the report and the reviews API
    [(message,)] = served.ledger_rows("SELECT message FROM check_results WHERE dataset = 'raw.names' AND kind = 'sql'")
    assert "Ada Lovelace" in message
    for user in ("bob", "carol"):
        review, page = cli(user, "review", "--json"), cli(user, "catalog", "show", "raw.names", "--json")
        [failure] = [f for f in json.loads(review)["failures"] if f["dataset"] == "raw.names"]
        assert MASK in failure["message"] and leaks((review + page).encode(), VALUES) == [], user
        code, body = await api(user, "GET", "reviews")
        assert code == 200 and leaks(body, VALUES) == [], user
        html = (served.root / f"report-{user}.html").read_bytes()
        assert b"could not run" in html and leaks(html, VALUES) == []
    assert any("Ada Lovelace" in f["message"] for f in json.loads(cli("alice", "review", "--json"))["failures"])
    # the steward sees the error as it was
    assert all(value in error_of(json.loads(cli("alice", "show", run, "--json"))) for value in VALUES.values())
    code, body = await api("alice", "GET", "runs", run)
    assert code == 200 and all(value.encode() in body for value in VALUES.values())
    # an OpenLineage backend is nobody's member: masked there too
    served.cli("export", "openlineage", run, env={"DATAOPS_USER": "alice"}, check=0)
    events = b"".join(p.read_bytes() for p in (served.root / ".dataops" / "openlineage").glob("*.jsonl"))
    assert b"errorMessage" in events and leaks(events, VALUES) == []

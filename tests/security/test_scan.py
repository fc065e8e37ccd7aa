"""The scan: three secrets, steps that print, display, raise and publish them; afterwards no
encoding of any of them is in any file under the store, the HTML report, the OpenLineage
export, run.log, or any answer of the server."""

from __future__ import annotations

import json

from dataops_nb.security import MASK

from ..conftest import run_cli
from .conftest import wait_for_run
from .forms import leaks, scan_tree

SECRETS = {
    "LONG_TOKEN": "lng-" + "9fQ2xW7kP4mZ8rT1vB6nC3yH5jL0dS" * 2,
    "QUOTED_TOKEN": "Pa&s'w\"rd<&>Zq7",
    "THIRD_TOKEN": "thr-Kx83-Wq27-Lp90-Vb45",  # declared by `third`, read by `sneak`
}

USE = """
import base64, html, os
from IPython.display import HTML, JSON, display
import dataops_nb as dn
step = dn.step()
token = step.secret("token")
print(token, repr(token), base64.b64encode(token.encode()).decode())
display(HTML(f"<i>{html.escape(token)}</i>")); display(JSON({"t": token}))
step.publish(f"raw.{name}", f"select 1 as id, {token!r} as leaked".replace("\\\\'", "''"))
token
"""


async def test_no_form_of_any_secret_is_left_anywhere(served, jp_fetch):
    for name in ("long", "quoted"):
        served.notebook(name, f"token = None\nname = {name!r}", USE)
    served.notebook("third", "token = None\nname = 'third'", USE, "raise ValueError(f'bad {token!r} ' + token)")
    served.notebook("sneak", "n = 1", "import os\nprint(os.environ.get('THIRD_TOKEN'))\n"
                    "raise RuntimeError(str(os.environ.get('THIRD_TOKEN')))")
    served.spec(
        """
        name: scan
        steps:
          - {name: long, notebook: notebooks/long.ipynb, params: {token: {secret: LONG_TOKEN}}}
          - {name: quoted, notebook: notebooks/quoted.ipynb, params: {token: {secret: QUOTED_TOKEN}}}
          - {name: third, notebook: notebooks/third.ipynb, params: {token: {secret: THIRD_TOKEN}}}
          - {name: sneak, notebook: notebooks/sneak.ipynb}
        """
    )
    ran = run_cli("run", "-j", "2", cwd=served.root, env=SECRETS, check=1)
    report, events = served.root / "report.html", served.root / "events.jsonl"
    run_cli("report", "-o", str(report), cwd=served.root, check=0)
    run_cli("export", "openlineage", "-o", str(events), cwd=served.root, check=0)
    run_id = json.loads(run_cli("runs", "--json", cwd=served.root, check=0).stdout)[0]["run_id"]
    answers = {}
    for parts in [("runs",), ("runs", run_id), ("catalog",), ("catalog", "raw.long"), ("catalog", "raw.quoted"),
                  ("pipeline",), *[("runs", run_id, "notebooks", s) for s in ("long", "quoted", "sneak")]]:
        response = await jp_fetch("dataops", *parts, raise_error=False)
        assert response.code == 200, (parts, response.body)
        answers["/".join(parts)] = response.body
    assert scan_tree(served.root / ".dataops", SECRETS) == {}
    for name, data in {**answers, "report": report.read_bytes(), "openlineage": events.read_bytes(),
                       "cli": (ran.stdout + ran.stderr).encode()}.items():
        assert leaks(data, SECRETS) == [], name
    sneak = json.loads(answers[f"runs/{run_id}/notebooks/sneak"])
    assert "None" in json.dumps(sneak)  # the undeclared secret was not in its kernel at all
    assert b"********" in answers["catalog/raw.quoted"]  # published, masked before it was written
    assert b"********" in (served.root / ".dataops").joinpath("runs", run_id, "quoted.ipynb").read_bytes()


# --- PII: what the kit writes during a run and serves afterwards ---------------------------------

PII_SPEC = """
name: pii-scan
steps:
  - {name: people, notebook: notebooks/people.ipynb}
  - {name: mart, notebook: notebooks/mart.ipynb, needs: [people]}
  - {name: crash, notebook: notebooks/crash.ipynb, needs: [people], retries: 1, params: {token: {secret: SCAN_TOKEN}}}
  - {name: late, notebook: notebooks/late.ipynb, needs: [people]}
datasets:
  raw.people:
    columns:
      full_name: {tags: [pii]}
      salary: {tags: [pii]}
      member_no: {tags: [pii]}
access:
  roles:
    steward: {read: ["*"], unmask: ["*"], run: ["*"]}
    analyst: {read: ["*"]}
    guest: {read: ["marts.cities"]}
  members: {alice: [steward], bob: [analyst], carol: [guest]}
"""
# the rows come from a file of the project: no value is in a notebook's source; the numbers are
# PII only by their spec tags, and their extremes are what a profile would show
PEOPLE_CSV = ("full_name,email,salary,member_no,city\n"
              "Grace Hopper,grace.hopper@example.org,734519,918273645,Arlington\n"
              "Alan Turing,alan.turing@example.org,734522,918273646,Wilmslow\n"
              "Ada Lovelace,ada.lovelace@example.org,734525,918273647,London\n")
PEOPLE_STEP = """
import polars as pl
import dataops_nb as dn
dn.step().publish("raw.people", pl.read_csv("../people.csv"))
"""
# a mart that carries the numbers under other names (PII by column lineage)
MART_STEP = """
import dataops_nb as dn
dn.step().publish("marts.pay", "select city, salary * 1 as pay, member_no as ref from raw.people")
"""
# fails on both attempts with a row, and the secret, in its message
CRASH_STEP = """
import dataops_nb as dn
step = dn.step()
row = dn.read("raw.people").sort("full_name").row(0, named=True)
raise ValueError(f"no payroll for {row['full_name']} <{row['email']}> (token {step.secret('token')})")
"""
# publishes a copy of the numbers from a dataframe, then fails: its manifest stays behind
LATE_STEP = """
import dataops_nb as dn
step = dn.step()
step.publish("marts.copy", dn.read("raw.people").select("city", "salary", "member_no"))
raise RuntimeError("late failure after publishing")
"""
SHOWN = {"name": "Ada Lovelace", "email": "ada.lovelace@example.org"}  # what the failing step's error shows
EXTREMES = {f"{column}-{end}": value for column, values in (("salary", ("734519", "734525")),
                                                          ("member_no", ("918273645", "918273647")))
            for end, value in zip(("min", "max"), values)}
TOKEN = {"SCAN_TOKEN": "scn-Qw7&<x>'Zr4\"Lm9-Tp2"}


async def test_no_pii_value_or_secret_is_left_where_its_readers_may_not_see_it(served, api, monkeypatch):
    """A run started from the server: two steps fail with PII (and a secret) in their errors, one
    of them twice (a retry), two publish spec-tagged numeric PII, under their names and others.
    Afterwards every file the kit wrote under the store and every answer of the server's routes
    is searched for every encoding of each value: the error's values are only in the ledger
    (for the steward's `show`), the executed notebooks of the failing step (served to who may
    read and unmask what it read) and the data files; the numbers' extremes only in the data."""
    (served.root / "people.csv").write_text(PEOPLE_CSV)
    for name, code in (("people", PEOPLE_STEP), ("mart", MART_STEP), ("crash", CRASH_STEP), ("late", LATE_STEP)):
        served.notebook(name, "token = None", code)
    served.spec(PII_SPEC)
    monkeypatch.setenv(*next(iter(TOKEN.items())))  # the server's environment: its run worker inherits it
    code, body = await api("alice", "POST", "runs", body={})
    assert code == 201, body
    run_id = json.loads(body)["run_id"]
    run = await wait_for_run(api, "alice", run_id)
    statuses = {s["name"]: s["status"] for s in run["steps"]}
    assert statuses == {"people": "success", "mart": "success", "crash": "failed", "late": "failed"}, run
    store = served.root / ".dataops"
    assert (store / "runs" / run_id / "crash.attempt-1.ipynb").is_file()  # the retry kept its attempt

    # the files: data files hold the data; the ledger holds the whole error for who may see it
    def data(path: str) -> bool:
        return path.startswith("data/") and path.endswith(".parquet")

    shown = scan_tree(store, SHOWN, skip=data)
    assert set(shown) - {"ledger.db", "ledger.db-wal"} == {f"runs/{run_id}/crash.ipynb",
                                                         f"runs/{run_id}/crash.attempt-1.ipynb"}, shown
    assert scan_tree(store, EXTREMES, skip=data) == {}
    assert scan_tree(store, TOKEN) == {}
    # what made them disappear is really there: the masked error in run.log, the numbers' profiles
    log = (store / "runs" / run_id / "run.log").read_text()
    assert log.count(f"no payroll for {MASK} <{MASK}> (token ********)") == 2  # the retry and the end
    manifest = json.loads((store / "runs" / run_id / "late.json").read_text())
    [copy] = manifest["published"]
    profile = {c["name"]: c for c in copy["profile"]}
    assert profile["salary"]["min"] is None and profile["member_no"]["max"] is None
    assert profile["salary"]["null_count"] == 0  # the rest of the profile stays
    # the answers of the server, for each user; then the report each of them can write
    routes = [("runs",), ("runs", run_id), ("pipeline",), ("catalog",), ("reviews",),
              *[("catalog", name) for name in ("raw.people", "marts.pay")],
              *[("lineage", name) for name in ("raw.people", "marts.pay")],
              *[("runs", run_id, "notebooks", step) for step in ("people", "mart", "crash", "late")]]
    for user in ("alice", "bob", "carol"):
        for parts in routes:
            code, body = await api(user, "GET", *parts)
            route = "/".join(parts)
            assert code in (200, 403), (user, route, code, body)
            assert leaks(body, TOKEN) == [], (user, route)
            if user != "alice":
                assert leaks(body, {**SHOWN, **EXTREMES}) == [], (user, route)
            elif parts[0] != "catalog":  # her previews show the rows: she may unmask them
                assert leaks(body, EXTREMES) == [], (user, route)
        report = served.root / f"report-{user}.html"
        served.cli("report", run_id, "--output", str(report), env={"DATAOPS_USER": user}, check=0)
        assert leaks(report.read_bytes(), {**SHOWN, **EXTREMES, **TOKEN}) == [], (user, leaks(report.read_bytes(), {**SHOWN, **EXTREMES, **TOKEN}))  # a report travels
    for parts in (("runs", run_id), ("runs", run_id, "notebooks", "crash")):  # the steward sees the error whole
        code, body = await api("alice", "GET", *parts)
        assert code == 200 and all(value.encode() in body for value in SHOWN.values()), parts
    code, body = await api("bob", "GET", "runs", run_id, "notebooks", "crash")  # may read, may not unmask
    assert code == 200 and MASK.encode() in body and b"no payroll for" in body
    code, body = await api("bob", "GET", "catalog", "raw.people")
    columns = {c["name"]: c for c in json.loads(body)["columns"]}
    assert columns["salary"]["profile"]["null_count"] == 0 and columns["salary"]["pii"]
    for dataset, column in (("raw.people", "salary"), ("marts.pay", "pay"), ("marts.pay", "ref")):
        code, body = await api("alice", "GET", "catalog", dataset)  # no extremes of PII for her either
        columns = {c["name"]: c for c in json.loads(body)["columns"]}
        assert columns[column]["pii"] and columns[column]["profile"]["min"] is None, (dataset, column)
        assert columns[column]["profile"]["max"] is None and columns[column]["profile"]["null_count"] == 0

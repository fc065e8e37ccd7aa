"""`access.roles.<role>.read`: who may see a dataset's rows, in the catalog, review, checks and notebooks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import SPEC, cli_json

GUEST = SPEC.replace(
    '    steward: {read: ["*"], unmask: ["raw.*"], review: ["*"]}\n',
    '    steward: {read: ["*"], unmask: ["raw.*"], review: ["*"]}\n    guest: {read: ["marts.*"]}\n',
).replace("members: {alice: [steward], bob: [analyst]}", "members: {alice: [steward], bob: [analyst], carol: [guest]}")


@pytest.fixture
def guarded(people):
    people.spec(GUEST)
    people.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
    return people


def test_catalog_shows_what_a_dataset_is_but_not_its_rows_to_a_user_who_may_not_read_it(guarded):
    page = cli_json(guarded, "catalog", "show", "raw.people", user="carol")
    assert page["preview"]["rows"] == [] and page["preview"]["may_read"] is False
    assert "carol may not read raw.people" in page["preview"]["notice"]
    assert all(c["profile"] is None for c in page["columns"])  # min/max would show values
    assert page["description"] == "Customers who signed up, one row per person." and page["owner"] == "growth"
    assert {"id", "full_name", "score"} <= {c["name"] for c in page["columns"]}
    assert page["current_version"]["rows"] == 6
    human = guarded.cli("catalog", "show", "raw.people", env={"DATAOPS_USER": "carol"}, check=0).stdout
    assert "carol may not read raw.people" in human and "Ada" not in human
    # what the role grants is shown as usual
    mart = cli_json(guarded, "catalog", "show", "marts.people_by_city", user="carol")
    assert {"city": "London", "people": 2} in mart["preview"]["rows"] and mart["preview"]["notice"] is None
    # bob's role reads everything (PII still masked for him)
    bob = cli_json(guarded, "catalog", "show", "raw.people", user="bob")
    assert len(bob["preview"]["rows"]) == 6 and bob["columns"][0]["profile"] is not None
    # someone who is not a member reads nothing, once access names members
    dave = cli_json(guarded, "catalog", "show", "marts.people_by_city", user="dave")
    assert dave["preview"]["rows"] == [] and dave["preview"]["may_read"] is False


def failing_samples(items):
    return {f["check"]: f["sample"] for f in items["failures"] if f["dataset"] == "raw.people"}


def test_failing_row_samples_are_hidden_from_a_user_who_may_not_read(guarded):
    bob = failing_samples(cli_json(guarded, "review", user="bob"))
    assert any(row.get("score") == 55 for row in bob["range(score)"])  # the row that fails the check
    carol = failing_samples(cli_json(guarded, "review", user="carol"))
    assert carol["range(score)"] == []
    checked = cli_json(guarded, "check", "raw.people", user="carol")
    [score] = [r for r in checked[0]["results"] if r["check"] == "range(score)"]
    assert score["failing"] == 1 and score["sample"] == []  # how many, not which


READ = """
import dataops_nb as dn
for attempt in (lambda: dn.read("raw.people").height,
                lambda: dn.read("raw.people", version="{run}").height,
                lambda: dn.step().sql("select count(*) from raw.people").fetchall(),
                lambda: dn.read("marts.people_by_city").height,
                lambda: dn.step().sql("select sum(people) from marts.people_by_city").fetchall()):
    try:
        print("ok", attempt())
    except dn.DataOpsError as exc:
        print(type(exc).__name__, "|", exc)
"""


def test_a_notebook_run_by_hand_reads_only_what_the_user_may_read(guarded):
    def as_user(user):
        run = guarded.ledger_rows("SELECT max(run_id) FROM runs")[0][0]
        out = subprocess.run([sys.executable, "-c", READ.replace("{run}", run)], cwd=guarded.root, capture_output=True, text=True,
                             timeout=120, env={**os.environ, "DATAOPS_USER": user})
        return out.stdout.splitlines()

    carol = as_user("carol")
    denied = "AccessDeniedError | User 'carol' may not read raw.people (see access.roles in dataops.yaml)."
    assert carol == [denied, denied, denied, "ok 5", "ok [(6,)]"]  # an older version is no way round
    assert as_user("bob") == ["ok 6", "ok 6", "ok [(6,)]", "ok 5", "ok [(6,)]"]


def test_an_executed_notebook_is_shown_only_to_who_may_read_what_its_step_used(guarded):
    from dataops_nb.errors import AccessDeniedError
    from dataops_nb.project import Project
    from dataops_nb.service import executed_notebook

    project = Project(guarded.root)
    run = guarded.ledger_rows("SELECT max(run_id) FROM runs")[0][0]
    assert executed_notebook(project, run, "summary", user="bob")["name"] == "summary.ipynb"
    # summary publishes a mart carol may read, but made it from raw.people: its outputs may show those rows
    for step in ("people", "summary"):
        with pytest.raises(AccessDeniedError, match="User 'carol' may not read raw.people"):
            executed_notebook(project, run, step, user="carol")

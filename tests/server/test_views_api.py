"""The routes behind the lab's main-area views on a real Jupyter server: runs started with
parameters and several steps, each step's datasets, and the data diff of two runs."""

from __future__ import annotations

import json

import pytest

from dataops_nb.security import MASK

from ..conftest import TWO_STEPS
from ..identities import as_user
from .test_handlers import failure_of, get, post, wait_for_run

pytestmark = pytest.mark.usefixtures("api_project")

# staging.doubled has a key and a PII column; only sam (a steward) may see it unmasked
SPEC = TWO_STEPS + """
  staging.doubled:
    key: [i]
    columns:
      j: {tags: [pii]}
access:
  roles:
    analyst: {read: ["*"], run: ["*"]}
    steward: {read: ["*"], unmask: ["*"], run: ["*"]}
  members: {alice: [analyst], sam: [steward]}
"""


async def _run(jp_fetch, body: dict) -> dict:
    code, started = await post(jp_fetch, "runs", body, headers=as_user("alice"))
    assert code == 201, started
    run = await wait_for_run(jp_fetch, started["run_id"])
    assert run["status"] == "success", run
    return run


async def test_a_run_takes_parameters_and_several_steps(jp_fetch, api_project):
    api_project.spec(SPEC)
    run = await _run(jp_fetch, {"mode": "only", "steps": ["make", "double"], "params": ["n=3"], "force": True})
    assert run["selection"] == ["make", "double"]
    assert run["params"] == {"make": {"n": 3}, "double": {}}  # what each step was given


async def test_the_diff_of_two_runs_masks_pii_for_the_reader(jp_fetch, api_project):
    api_project.spec(SPEC)
    alice = {"DATAOPS_USER": "alice"}
    api_project.cli("run", "-p", "n=3", "--force", env=alice, check=0)
    api_project.cli("run", "-p", "n=4", "-p", "double.factor=3", "--force", env=alice, check=0)
    second, first = (await get(jp_fetch, "runs"))["items"][:2]

    response = await jp_fetch("dataops", "runs", first["run_id"], "diff", second["run_id"], headers=as_user("alice"))
    diff = json.loads(response.body)
    assert diff["a"] == f"run {first['run_id']}" and diff["differs"] is True
    assert diff["only_in_a"] == [] and diff["only_in_b"] == []
    by_name = {d["dataset"]: d for d in diff["datasets"]}
    assert set(by_name) == {"raw.numbers", "staging.doubled"}
    assert by_name["raw.numbers"]["rows"] == {"a": 3, "b": 4}
    doubled = by_name["staging.doubled"]
    assert doubled["key"] == ["i"] and doubled["only_in_b"] == 1 and doubled["changed"] == 2  # i = 1, 2
    assert doubled["changed_columns"] == {"j": 2}
    # alice may not see j: masked in the bytes the server sends; sam sees the values
    assert [row["j (a)"] for row in doubled["sample"]] == [MASK, MASK]
    # nor in the statistics: the nulls of j, not its smallest, largest or mean value
    assert doubled["stats"]["j"] == {"a": {"nulls": 0, "min": MASK, "max": MASK, "mean": MASK},
                                     "b": {"nulls": 0, "min": MASK, "max": MASK, "mean": MASK}}
    assert b'"9"' not in response.body and b"4.5" not in response.body  # max and mean of j in run B
    shown = await get(jp_fetch, "runs", first["run_id"], "diff", second["run_id"])
    unmasked = json.loads((await jp_fetch("dataops", "runs", first["run_id"], "diff", second["run_id"],
                                          headers=as_user("sam"))).body)
    sample = {d["dataset"]: d for d in unmasked["datasets"]}["staging.doubled"]["sample"]
    assert [(row["i"], row["j (a)"], row["j (b)"]) for row in sample] == [(1, 2, 3), (2, 4, 6)]
    assert shown["datasets"][1]["sample"][0]["j (a)"] == MASK  # the server's own token: no role
    page = json.loads((await jp_fetch("dataops", "catalog", "raw.numbers", params={"rows": "2"},
                                      headers=as_user("alice"))).body)
    assert page["current_version"]["rows"] == 4 and len(page["preview"]["rows"]) == 2
    # the versions say where they were built and where they are current, with their check counts
    assert [(v["environment"], v["current_in"], v["checks"]) for v in page["versions"]] == [
        ("prod", ["prod"], {"pass": 0, "warn": 0, "error": 0}), ("prod", [], {"pass": 0, "warn": 0, "error": 0})]



async def test_a_bad_parameter_or_steps_with_the_wrong_mode_is_400_with_one_sentence(jp_fetch):
    code, body = await failure_of(post(jp_fetch, "runs", {"mode": "all", "params": ["n"]}))
    assert code == 400 and body["message"] == "-p 'n': expected KEY=VALUE (for instance -p sample_rows=500)."
    code, body = await failure_of(post(jp_fetch, "runs", {"mode": "from", "steps": ["make"]}))
    assert code == 400 and "several steps go with mode 'only'" in body["message"]
    code, body = await failure_of(get(jp_fetch, "runs", "20990101-000000-aaaa", "diff", "20990101-000000-bbbb"))
    assert code == 404


async def test_dataflow_names_what_each_step_reads_and_publishes(jp_fetch):
    flow = await get(jp_fetch, "dataflow")
    assert flow == {"environment": "prod", "steps": [
        {"step": "make", "reads": [], "publishes": ["raw.numbers"]},
        {"step": "double", "reads": ["raw.numbers"], "publishes": ["staging.doubled"]},
    ]}

"""The routes behind the lab's main-area views on a real Jupyter server: runs started with
parameters and several steps, each step's datasets, and the data diff of two runs."""

from __future__ import annotations

import json

import pytest

from dataops_nb import service
from dataops_nb.project import Project
from dataops_nb.security import MASK
from dataops_nb.server import models

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


def _fields(value, path=""):
    """The field paths of an answer (`columns.profile.min`); a preview's rows are data, not fields."""
    if isinstance(value, list):
        return set().union(*(_fields(item, path) for item in value)) if value else set()
    if not isinstance(value, dict) or path == "preview.rows":
        return set()
    return {f"{path}{key}" for key in value} | set().union(
        *(_fields(item, f"{path}{key}.") for key, item in value.items()), set())


async def test_the_dataset_page_is_typed_and_masks_pii_for_the_reader(jp_fetch, api_project):
    api_project.spec(SPEC)
    api_project.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
    answer = await jp_fetch("dataops", "catalog", "staging.doubled", params={"rows": "3"}, headers=as_user("alice"))
    page = json.loads(answer.body)
    # every field the service puts on the page reaches the browser, under the name models.ts gives it
    found = service.catalog_show(Project(api_project.root), "staging.doubled", user="alice", rows=3)
    assert _fields(found) <= _fields(page)
    assert set(page) == {field.alias or name for name, field in models.DatasetPage.model_fields.items()}
    assert page["published_by"] == "double" and page["environment"] == "prod"
    assert page["current_version"]["rows"] == 10 and page["current_version"]["schema"] == [
        {"name": "i", "type": "BIGINT"}, {"name": "j", "type": "BIGINT"}]
    [version] = page["versions"]
    assert version["checks"] == {"pass": 0, "warn": 0, "error": 0} and version["current_in"] == ["prod"]
    assert page["quality"] == {"status": None, "accepted": 0, "waived": 0, "checks": []}
    assert [(u["dataset"], u["status"]) for u in page["upstream"]] == [("raw.numbers", "current")]
    assert page["notebook"]["step"] == "double" and page["notebook"]["exists"] is True
    columns = {c["name"]: c for c in page["columns"]}
    assert columns["i"]["profile"] == {"null_count": 0, "approx_distinct": columns["i"]["profile"]["approx_distinct"],
                                       "min": 0, "max": 9}
    assert isinstance(columns["i"]["profile"]["approx_distinct"], int)
    # j is PII: alice sees it marked and masked, in the profile and the preview, in the bytes sent
    assert columns["j"]["pii"] is True and columns["j"]["masked"] is True
    assert columns["j"]["tags"] == [{"tag": "pii", "source": "spec", "kind": None, "confidence": None, "from": None}]
    assert (columns["j"]["profile"]["min"], columns["j"]["profile"]["max"]) == (None, None)  # never kept
    assert page["preview"]["masked_columns"] == ["j"] and page["preview"]["may_unmask"] is False
    assert [row["j"] for row in page["preview"]["rows"]] == [MASK, MASK, MASK]
    assert b'"j":"' + MASK.encode() + b'"' in answer.body and b'"j":2' not in answer.body
    steward = json.loads((await jp_fetch("dataops", "catalog", "staging.doubled", params={"rows": "3"},
                                         headers=as_user("sam"))).body)
    assert [row["j"] for row in steward["preview"]["rows"]] == [0, 2, 4]
    assert steward["preview"]["may_unmask"] is True and steward["preview"]["masked_columns"] == []


def test_a_field_the_service_adds_does_not_reach_the_browser_undeclared(api_project):
    api_project.spec(SPEC)
    api_project.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
    found = service.catalog_show(Project(api_project.root), "staging.doubled", user="alice")
    found["columns"][1]["profile"] = {**found["columns"][1]["profile"], "raw_max": 18}
    found["preview"] = {**found["preview"], "unmasked_rows": [{"i": 1, "j": 2}]}
    sent = json.loads(models.DatasetPage(**found, owner_email="ada@example.com").model_dump_json())
    assert "owner_email" not in sent and "unmasked_rows" not in sent["preview"]
    assert set(sent["columns"][1]["profile"]) == {"null_count", "approx_distinct", "min", "max"}


async def test_lineage_and_an_environment_answer_typed_models(jp_fetch, api_project):
    api_project.cli("run", check=0)
    lineage = await get(jp_fetch, "lineage", "staging.doubled")
    assert lineage["dataset"] == "staging.doubled" and lineage["environment"] == "prod"
    kinds = {node["name"]: node["kind"] for node in lineage["nodes"]}
    assert kinds["raw.numbers"] == "dataset" and kinds["double"] == "step"
    assert all(set(edge) == {"source", "target", "version", "stale"} for edge in lineage["edges"])
    prod = await get(jp_fetch, "environments", "prod")
    assert prod["chain"] == ["prod"] and prod["default"] is True
    assert {(d["dataset"], d["from"], d["differs"]) for d in prod["datasets"]} == {
        ("raw.numbers", "prod", False), ("staging.doubled", "prod", False)}

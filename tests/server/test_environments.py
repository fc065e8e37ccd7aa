"""Environments over the /dataops/ API on a real Jupyter server, as several real users: what each
environment shows, a dataset's diff against its base, and promotion with its authorization."""

from __future__ import annotations

import json

import pytest

from dataops_nb.security import MASK

from ..conftest import TWO_STEPS, ProjectFactory, make_two_steps
from ..identities import as_user
from .test_handlers import failure_of, get, post

# alice may promote into prod and see PII; bob reads everything, unmasks nothing, promotes nothing
ACCESS = TWO_STEPS.replace("""  raw.numbers:""", """  staging.doubled:
    key: [i]
    columns:
      j: {tags: [pii]}
  raw.numbers:""") + """
access:
  roles:
    steward: {read: ["*"], unmask: ["*"], run: ["*"], promote: ["prod"]}
    analyst: {read: ["*"], run: ["*"]}
  members: {alice: [steward], bob: [analyst]}
"""


def pointers(project: ProjectFactory, env: str) -> dict[str, str]:
    return dict(project.ledger_rows(
        f"select dataset, version_id from current_versions where environment = '{env}' order by dataset"))


@pytest.fixture
def dev(jp_root_dir) -> ProjectFactory:
    """prod built; dev-alice rebuilt only `double` (j = 3 i), reading prod's raw.numbers."""
    project = make_two_steps(ProjectFactory(jp_root_dir), ACCESS)
    project.cli("run", check=0)
    project.cli("run", "--env", "dev-alice", "--only", "double", "-p", "double.factor=3", check=0)
    return project


async def test_each_panel_reads_the_environment_it_names(jp_fetch, dev):
    alice = as_user("alice")
    listed = json.loads((await jp_fetch("dataops", "environments", headers=alice)).body)
    assert listed["default"] == "prod"
    envs = {e["environment"]: e for e in listed["items"]}
    assert envs["prod"]["default"] and not envs["dev-alice"]["default"]
    assert envs["dev-alice"]["base"] == "prod" and envs["dev-alice"]["differs"] == 1

    # the pipeline in dev: double's outcome is dev's own run, make is deferred to prod
    pipeline = await get(jp_fetch, "pipeline", env="dev-alice")
    steps = {s["name"]: s for s in pipeline["steps"]}
    assert pipeline["environment"] == "dev-alice"
    assert steps["double"]["deferred_to"] is None and steps["double"]["outcome"]["environment"] == "dev-alice"
    assert steps["make"]["deferred_to"] == "prod" and steps["make"]["outcome"]["environment"] == "prod"
    prod_run, dev_run = (r["run_id"] for r in reversed((await get(jp_fetch, "runs"))["items"]))
    assert steps["double"]["outcome"]["run_id"] == dev_run and steps["make"]["outcome"]["run_id"] == prod_run
    in_prod = {s["name"]: s for s in (await get(jp_fetch, "pipeline"))["steps"]}
    assert in_prod["double"]["outcome"]["run_id"] == prod_run and in_prod["double"]["deferred_to"] is None

    # runs of one environment only, and the answer says which
    runs = await get(jp_fetch, "runs", env="dev-alice")
    assert runs["environment"] == "dev-alice" and [r["run_id"] for r in runs["items"]] == [dev_run]
    assert [r["run_id"] for r in (await get(jp_fetch, "runs", env="prod"))["items"]] == [prod_run]

    page = await get(jp_fetch, "catalog", "staging.doubled", env="dev-alice")
    assert page["environment"] == "dev-alice"


async def test_a_dataset_diff_against_the_base_masks_pii_for_the_reader(jp_fetch, dev):
    async def diff(user, **params):
        response = await jp_fetch("dataops", "catalog", "staging.doubled", "diff", params=params, headers=as_user(user))
        return json.loads(response.body)

    seen = await diff("alice", env="dev-alice")
    assert (seen["environment"], seen["against"]) == ("dev-alice", "prod")
    assert (seen["a"], seen["b"]) == (pointers(dev, "prod")["staging.doubled"], pointers(dev, "dev-alice")["staging.doubled"])
    assert seen["differs"] and seen["key"] == ["i"]
    assert seen["rows"] == {"a": 10, "b": 10}
    assert (seen["only_in_a"], seen["only_in_b"], seen["changed"]) == (0, 0, 9)  # j = 2i became 3i, but for i = 0
    assert seen["changed_columns"] == {"j": 9}
    assert seen["schema"] == {"added": [], "removed": [], "type_changed": []}
    assert seen["sample"][0] == {"i": 1, "j (a)": 2, "j (b)": 3}
    # bob may read it but not unmask j: the bytes he gets hold no value of it
    response = await jp_fetch("dataops", "catalog", "staging.doubled", "diff", params={"env": "dev-alice"},
                              headers=as_user("bob"))
    masked = json.loads(response.body)
    assert masked["changed"] == 9 and masked["sample"][0]["i"] == 1
    assert {row["j (a)"] for row in masked["sample"]} == {row["j (b)"] for row in masked["sample"]} == {MASK}
    assert b'"j (b)":3' not in response.body.replace(b" ", b"")

    # the default environment has no base: name one to compare with
    code, body = await failure_of(diff("alice"))
    assert code == 400 and "prod is the default environment and has no base" in body["message"]
    assert (await diff("alice", against="dev-alice"))["b"] == pointers(dev, "prod")["staging.doubled"]
    code, body = await failure_of(diff("alice", env="dev-alice", against="nowhere"))
    assert code == 404 and "nowhere" in body["message"]


async def test_promote_applies_the_plan_as_the_server_user_and_refusals_change_nothing(jp_fetch, dev):
    # prod rebuilt raw.numbers since: dev's doubled was built from an input prod replaced
    dev.cli("run", "--only", "make", "-p", "make.n=7", check=0)
    before = pointers(dev, "prod")

    plan = json.loads((await jp_fetch("dataops", "environments", "dev-alice", "promotion", headers=as_user("bob"))).body)
    assert plan["applied"] is False and plan["to"] == "prod"
    assert plan["may_promote"] is False and "may not promote to prod" in plan["denied"]
    (move,) = plan["moves"]
    assert move["dataset"] == "staging.doubled" and move["forcible"] and "built from raw.numbers@" in move["problem"]

    # bob lacks access.roles.<role>.promote: 403, nothing moved, the denial audited
    code, body = await failure_of(post(jp_fetch, "environments/dev-alice/promote", {"to": "prod"},
                                       headers=as_user("bob")))
    assert code == 403 and "access.roles.<role>.promote" in body["message"]
    assert pointers(dev, "prod") == before

    alice = as_user("alice")
    assert json.loads((await jp_fetch("dataops", "environments", "dev-alice", "promotion", headers=alice)).body)[
        "may_promote"] is True
    # the stale input refuses the promotion: 409 naming the dataset, nothing moved
    code, body = await failure_of(post(jp_fetch, "environments/dev-alice/promote", {"to": "prod"}, headers=alice))
    assert code == 409 and body["error"] == "PromotionRefusedError"
    assert "staging.doubled" in body["message"] and list(body["fields"]["refused"]) == ["staging.doubled"]
    assert pointers(dev, "prod") == before

    code, done = await post(jp_fetch, "environments/dev-alice/promote", {"to": "prod", "force": True}, headers=alice)
    assert code == 201 and done["applied"] is True and [m["dataset"] for m in done["moves"]] == ["staging.doubled"]
    assert pointers(dev, "prod")["staging.doubled"] == pointers(dev, "dev-alice")["staging.doubled"]
    assert pointers(dev, "prod")["raw.numbers"] == before["raw.numbers"]
    ((actor, origin, target, details),) = dev.ledger_rows(
        "select actor, origin, target, details from audit_log where action = 'promoted'")
    assert (actor, origin, target) == ("alice", "server", "prod")
    assert json.loads(details)["force"] is True and json.loads(details)["from"] == "dev-alice"
    assert dev.ledger_rows("select actor from audit_log where action = 'access_denied'") == [("bob",)]


async def test_bad_promotion_requests_are_refused_with_one_sentence(jp_fetch, dev):
    alice = as_user("alice")
    before = pointers(dev, "prod")
    for body, words in (({"to": "prod", "extra": 1}, "extra"), ({"to": "no such"}, "to"), ({"force": "maybe"}, "force")):
        code, answer = await failure_of(post(jp_fetch, "environments/dev-alice/promote", body, headers=alice))
        assert code == 400 and words in answer["message"], answer
    code, answer = await failure_of(post(jp_fetch, "environments/prod/promote", {"to": "prod"}, headers=alice))
    assert code == 400 and "Cannot promote prod to itself" in answer["message"]
    code, answer = await failure_of(post(jp_fetch, "environments/nowhere/promote", {}, headers=alice))
    assert code == 404 and "nowhere" in answer["message"]
    assert pointers(dev, "prod") == before
    assert dev.ledger_rows("select count(*) from audit_log where action = 'promoted'") == [(0,)]

"""Environments on one store: a run moves "current" in its environment only, the rest is read
from the base; promotion and rollback move pointers, never data files."""

from __future__ import annotations

import json

import pytest

from .test_cli import assert_clean_refusal


def js(project, *args, check=0):
    return json.loads(project.cli("--json", *args, check=check).stdout)


def pointers(project, env):
    return dict(project.ledger_rows(
        f"select dataset, version_id from current_versions where environment = '{env}' order by dataset"))


def data_files(project):
    return sorted(p.relative_to(project.root).as_posix() for p in (project.root / ".dataops" / "data").rglob("*.parquet"))


@pytest.fixture
def dev(two_steps):
    """prod built once; dev-alice rebuilt only `double` (factor 3), reading prod's raw.numbers."""
    two_steps.cli("run", check=0)
    two_steps.cli("run", "--env", "dev-alice", "--only", "double", "-p", "double.factor=3", check=0)
    return two_steps


def test_a_run_in_an_environment_is_current_there_only_and_defers_the_rest(dev):
    prod, mine = pointers(dev, "prod"), pointers(dev, "dev-alice")
    assert set(prod) == {"raw.numbers", "staging.doubled"} and set(mine) == {"staging.doubled"}
    assert mine["staging.doubled"] != prod["staging.doubled"]
    # dev's double read prod's raw.numbers (deferred), and made j = 3 i
    (path,) = dev.ledger_rows(f"select path from dataset_versions where version_id = '{mine['staging.doubled']}'")[0]
    import polars as pl

    assert sorted(pl.read_parquet(dev.root / ".dataops" / path)["j"].to_list()) == [3 * i for i in range(10)]
    assert dev.ledger_rows(
        f"select input_version_id from lineage where version_id = '{mine['staging.doubled']}'") == [(prod["raw.numbers"],)]

    shown = js(dev, "env", "show", "dev-alice")
    by_dataset = {d["dataset"]: d for d in shown["datasets"]}
    assert shown["base"] == "prod"
    assert by_dataset["raw.numbers"]["from"] == "prod" and not by_dataset["raw.numbers"]["differs"]
    assert by_dataset["staging.doubled"]["from"] == "dev-alice" and by_dataset["staging.doubled"]["differs"]
    assert by_dataset["staging.doubled"]["base_version"] == prod["staging.doubled"]

    listed = {e["environment"]: e for e in js(dev, "env", "list")}
    assert listed["prod"]["default"] and listed["prod"]["datasets"] == 2
    assert listed["dev-alice"]["datasets"] == 1 and listed["dev-alice"]["differs"] == 1

    versions = {v["version"]: v for v in js(dev, "catalog", "versions", "staging.doubled")}
    assert versions[mine["staging.doubled"]]["environment"] == "dev-alice"
    assert versions[mine["staging.doubled"]]["current_in"] == ["dev-alice"]
    assert versions[prod["staging.doubled"]]["current_in"] == ["prod"]

    # what each environment shows: its own step runs, else its base's (make was never run in dev)
    status = {r["step"]: r for r in js(dev, "--env", "dev-alice", "status", "-p", "double.factor=3")}
    assert {r["environment"] for r in status.values()} == {"dev-alice"}
    assert status["make"]["state"] == "fresh" and status["double"]["state"] == "fresh"
    assert js(dev, "--env", "dev-alice", "catalog", "show", "staging.doubled")["environment"] == "dev-alice"
    assert js(dev, "catalog", "show", "staging.doubled")["environment"] == "prod"
    human = dev.cli("--env", "dev-alice", "status", check=0).stdout
    assert human.splitlines()[0] == "environment dev-alice (reads prod for what it does not build)"


def test_promote_moves_pointers_in_one_step_and_rollback_moves_them_back(dev):
    prod, mine = pointers(dev, "prod"), pointers(dev, "dev-alice")
    files = data_files(dev)

    plan = js(dev, "promote", "dev-alice")  # without --yes: the plan, nothing applied
    assert plan["applied"] is False and pointers(dev, "prod") == prod
    (move,) = plan["moves"]
    assert (move["dataset"], move["from"], move["to"]) == ("staging.doubled", prod["staging.doubled"], mine["staging.doubled"])
    assert move["problem"] is None

    done = js(dev, "promote", "dev-alice", "--yes")
    assert done["applied"] and pointers(dev, "prod") == {**prod, "staging.doubled": mine["staging.doubled"]}
    assert data_files(dev) == files  # nothing copied, nothing recomputed
    assert pointers(dev, "dev-alice") == mine
    assert js(dev, "promote", "dev-alice", "--yes")["moves"] == []  # nothing left to promote

    back = js(dev, "rollback", "staging.doubled")
    assert back["moves"] == [{"dataset": "staging.doubled", "from": mine["staging.doubled"], "to": prod["staging.doubled"]}]
    assert pointers(dev, "prod") == prod

    audit = [e["action"] for e in js(dev, "audit")]
    assert "promoted" in audit and "rolled_back" in audit

    dropped = js(dev, "env", "drop", "dev-alice")
    assert dropped["released"] == [mine["staging.doubled"]] and pointers(dev, "dev-alice") == {}
    assert dev.ledger_rows(f"select status from dataset_versions where version_id = '{mine['staging.doubled']}'") == [
        ("superseded",)]  # collectable by gc now


def test_promotion_refuses_versions_built_from_inputs_the_target_replaced(dev):
    dev.cli("run", "--only", "make", "-p", "make.n=7", check=0)  # prod gets a new raw.numbers
    mine = pointers(dev, "dev-alice")
    before = pointers(dev, "prod")
    refused = dev.cli("promote", "dev-alice", "--yes", check=1)
    assert "staging.doubled" in refused.stderr and "raw.numbers@" in refused.stderr
    assert "Traceback" not in refused.stderr and pointers(dev, "prod") == before
    forced = js(dev, "promote", "dev-alice", "--yes", "--force")
    assert forced["applied"] and pointers(dev, "prod")["staging.doubled"] == mine["staging.doubled"]


def test_rollback_of_a_run_puts_back_what_it_replaced(two_steps):
    two_steps.cli("run", check=0)
    first = pointers(two_steps, "prod")
    second_run = js(two_steps, "run", "--force")["run_id"]
    assert pointers(two_steps, "prod") != first
    undone = js(two_steps, "rollback", "--run", second_run)
    assert {m["dataset"] for m in undone["moves"]} == set(first) and undone["skipped"] == []
    assert pointers(two_steps, "prod") == first


def test_an_environment_reads_from_the_base_its_spec_declares(project):
    from dataops_nb import service
    from dataops_nb.project import Project

    from .conftest import TWO_STEPS, make_two_steps

    make_two_steps(project, TWO_STEPS.replace("  test: {params: {n: 5}}", "  stage: {}\n  dev: {base: stage}"))
    project.cli("run", "--env", "stage", check=0)
    project.cli("run", "--env", "dev", "--only", "double", "-p", "double.factor=3", check=0)
    stage, mine = pointers(project, "stage"), pointers(project, "dev")
    assert pointers(project, "prod") == {} and set(mine) == {"staging.doubled"}
    # double in dev read stage's raw.numbers (prod has none)
    assert project.ledger_rows(
        f"select input_version_id from lineage where version_id = '{mine['staging.doubled']}'") == [(stage["raw.numbers"],)]

    shown = js(project, "env", "show", "dev")
    by_dataset = {d["dataset"]: d for d in shown["datasets"]}
    assert shown["base"] == "stage" and shown["chain"] == ["dev", "stage", "prod"]
    assert by_dataset["raw.numbers"]["from"] == "stage" and by_dataset["raw.numbers"]["version"] == stage["raw.numbers"]
    assert by_dataset["staging.doubled"]["base_version"] == stage["staging.doubled"]
    assert {e["environment"]: e["base"] for e in js(project, "env", "list")}["dev"] == "stage"
    # a dataset page's diff is against the declared base
    found = service.dataset_diff(Project(project.root), "staging.doubled", "dev")
    assert (found["against"], found["a"], found["b"]) == ("stage", stage["staging.doubled"], mine["staging.doubled"])
    assert found["rows"] == {"a": 10, "b": 10} and found["differs"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["env", "drop", "prod"], ["The default environment 'prod' cannot be dropped."]),
        (["env", "show", "nope"], ["Unknown environment 'nope'"]),
        (["promote", "nope"], ["Unknown environment 'nope'"]),
        (["promote", "prod", "--to", "prod"], ["Cannot promote prod to itself"]),
        (["promote", "dev-alice", "--to", "no way"], ["'no way' is not an environment name"]),
        (["--env", "dev/alice", "status"], ["'dev/alice' is not an environment name"]),
        (["rollback", "raw.numbers", "--to", "raw.numbers@20260101-000000-0000abc"], ["Unknown version of raw.numbers"]),
        (["rollback", "staging.doubled", "--env", "dev-alice"], ["has no earlier version in dev-alice"]),
    ],
)
def test_bad_environment_input_is_refused_and_changes_nothing(dev, args, fragments):
    before = dev.snapshot()
    assert_clean_refusal(dev.cli(*args), *fragments)
    assert dev.snapshot() == before


def test_a_promotion_is_announced_to_the_channels_its_rule_names(dev):
    from .notify.sink import AlertSink

    spec = dev.root / "dataops.yaml"
    spec.write_text(spec.read_text() + "notify:\n  channels: {team: {url_env: TEAM_URL}}\n"
                    "  rules: [{on: [promotion], to: [team]}]\n")
    with AlertSink() as sink:
        dev.cli("promote", "dev-alice", "--yes", env={"TEAM_URL": sink.url()}, check=0)
        assert len(sink.received) == 1
        message = json.dumps(sink.received[0])
        assert "promotion" in message and "staging.doubled" in message and "dev-alice" in message

"""Replay: what a run records so it can be re-executed, and `dataops-nb replay RUN`."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from dataops_nb.project import Project
from dataops_nb.runner.fingerprint import Fingerprint

from .conftest import TWO_STEPS, ProjectFactory, make_two_steps


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout.strip()


def committed(project: ProjectFactory) -> str:
    """The project as a git repository with its pipeline committed; its HEAD."""
    (project.root / ".gitignore").write_text(".dataops/\n")
    git(project.root, "init", "-q")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "pipeline")
    return git(project.root, "rev-parse", "HEAD")


def last_run(project: ProjectFactory) -> dict:
    [(run_id,)] = project.ledger_rows("select run_id from runs order by run_id desc limit 1")
    return json.loads(project.cli("show", run_id, "--json", check=0).stdout)


@pytest.mark.usefixtures("ledger_backend")
def test_a_run_records_its_commit_dirty_flag_kernel_packages_and_what_each_step_read(project: ProjectFactory) -> None:
    make_two_steps(project)
    head = committed(project)
    project.cli("run", check=0)
    run = last_run(project)
    assert (run["git_commit"], run["git_dirty"]) == (head, False)
    assert run["packages"]["duckdb"] == metadata.version("duckdb")
    assert run["packages"]["polars"] == metadata.version("polars")
    assert run["packages"]["python"].count(".") == 2
    ledger = Project(project.root).ledger
    printed = Fingerprint.from_json(ledger.runs.step(run["run_id"], "double").fingerprint)
    assert printed is not None and printed.inputs == {"raw.numbers": f"raw.numbers@{run['run_id']}"}

    notebook = project.root / "notebooks" / "double.ipynb"
    notebook.write_text(notebook.read_text().replace("factor = 2", "factor = 3"))
    project.cli("run", check=0)
    dirty = last_run(project)
    assert (dirty["git_commit"], dirty["git_dirty"]) == (head, True)


def commit_all(project: ProjectFactory, message: str) -> str:
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", message)
    return git(project.root, "rev-parse", "HEAD")


def edit(project: ProjectFactory, step: str, old: str, new: str) -> None:
    path = project.root / "notebooks" / f"{step}.ipynb"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def run_id_of(project: ProjectFactory, *args: str) -> str:
    return json.loads(project.cli("run", "--json", *args, check=0).stdout)["run_id"]


def replay(project: ProjectFactory, run_id: str, *args: str, check: int | None = 0) -> dict:
    result = project.cli("replay", run_id, "--json", *args, check=check)
    return json.loads(result.stdout) if result.stdout.strip() else {}


def current(project: ProjectFactory, env: str = "prod") -> dict[str, str]:
    shown = json.loads(project.cli("env", "show", env, "--json", check=0).stdout)
    return {d["dataset"]: d["version"] for d in shown["datasets"]}


@pytest.mark.slow
@pytest.mark.usefixtures("ledger_backend")
def test_replay_runs_the_commit_s_code_on_the_versions_the_run_read_and_reproduces_it(project: ProjectFactory) -> None:
    make_two_steps(project)
    committed(project)
    first = run_id_of(project)
    # since then: new code, a new commit, new data current in prod
    edit(project, "make", "n = 10", "n = 20")
    edit(project, "double", "factor = 2", "factor = 3")
    commit_all(project, "more numbers, tripled")
    run_id_of(project)
    before = current(project)

    result = replay(project, first)

    assert result["reproduced"] is True, result
    assert {d["dataset"]: (d["original"], d["status"]) for d in result["datasets"]} == {
        "raw.numbers": (f"raw.numbers@{first}", "identical"),
        "staging.doubled": (f"staging.doubled@{first}", "identical"),
    }
    again = result["replay_run_id"]
    shown = json.loads(project.cli("show", again, "--json", check=0).stdout)
    assert shown["replay_of"] == first and shown["environment"] == f"replay-{first}"
    # the scratch environment is gone, prod still has what it had, no worktree is left behind
    assert current(project) == before
    listed = json.loads(project.cli("env", "list", "--json", check=0).stdout)
    assert f"replay-{first}" not in [e["environment"] for e in listed]
    assert len(git(project.root, "worktree", "list").splitlines()) == 1


@pytest.mark.slow
def test_replay_names_a_step_whose_output_differs_between_runs_and_verify_fails(project: ProjectFactory) -> None:
    project.notebook(
        "draw", "n = 50",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.draws", f"select range as i, random() as x from range({n})")
        """,
    )
    project.spec("""
        name: draws
        steps:
          - name: draw
            notebook: notebooks/draw.ipynb
        datasets:
          raw.draws:
            key: [i]
    """)
    committed(project)
    first = run_id_of(project)

    result = project.cli("replay", first, "--verify", "--keep")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NOT reproduced" in result.stdout
    assert "step 'draw' produced other data from the same code, parameters and inputs" in result.stdout
    assert "differs in raw.draws" in result.stderr
    data = replay(project, first)
    [entry] = data["datasets"]
    assert entry["status"] == "differs"
    assert entry["diff"]["key"] == ["i"] and entry["diff"]["changed"] == 50
    assert entry["diff"]["changed_columns"] == {"x": 50}
    assert data["kept"] is False
    # the first replay was kept (--keep); the second one dropped its scratch environment
    listed = json.loads(project.cli("env", "list", "--json", check=0).stdout)
    assert f"replay-{first}" not in [e["environment"] for e in listed]


@pytest.mark.slow
def test_replay_of_a_run_from_a_dirty_tree_says_so_and_what_differs(project: ProjectFactory) -> None:
    make_two_steps(project)
    committed(project)
    edit(project, "double", "factor = 2", "factor = 5")  # never committed
    dirty = run_id_of(project)
    edit(project, "double", "factor = 5", "factor = 2")

    result = replay(project, dirty)

    assert result["reproduced"] is False
    statuses = {d["dataset"]: d["status"] for d in result["datasets"]}
    assert statuses == {"raw.numbers": "identical", "staging.doubled": "differs"}
    assert any("uncommitted changes" in reason for reason in result["reasons"])
    [doubled] = [d for d in result["datasets"] if d["dataset"] == "staging.doubled"]
    assert "its notebook's code differs from what ran" in doubled["why"]
    assert doubled["diff"]["rows"] == {"a": 10, "b": 10} and doubled["diff"]["only_in_a"] == 9


KEEP_ONE = TWO_STEPS + "    keep_versions: 1\n"


def test_replay_refuses_an_unknown_run_a_lost_commit_and_inputs_gc_deleted_changing_nothing(
        project: ProjectFactory) -> None:
    make_two_steps(project, KEEP_ONE)
    committed(project)
    first = run_id_of(project)
    only_double = run_id_of(project, "--only", "double", "--force")  # reads raw.numbers@first
    run_id_of(project, "--only", "make", "--force")
    project.cli("gc", check=0)
    assert project.ledger_rows(f"select status from dataset_versions where version_id = 'raw.numbers@{first}'") \
        == [("deleted",)]
    before = project.snapshot()

    lost = project.cli("replay", only_double)
    assert lost.returncode == 2, lost.stdout + lost.stderr
    assert f"gc deleted input version(s) it read that no replayed step rebuilds: raw.numbers@{first} " \
           "(read by step 'double')" in lost.stderr
    unknown = project.cli("replay", "20200101-000000-000abcd")
    assert unknown.returncode == 2 and "20200101-000000-000abcd" in unknown.stderr
    assert project.cli("replay", "yesterday").returncode == 2
    for result in (lost, unknown):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert project.snapshot() == before

    # the commit the runs ran at is rewritten away
    git(project.root, "commit", "-q", "--amend", "-m", "rewritten")
    git(project.root, "reflog", "expire", "--expire=now", "--all")
    git(project.root, "gc", "-q", "--prune=now")
    before = {k: v for k, v in project.snapshot().items() if not k.startswith(".git/")}
    gone = project.cli("replay", first)
    assert gone.returncode == 2, gone.stdout + gone.stderr
    assert "which is not in the repository" in gone.stderr and len(gone.stderr.strip().splitlines()) == 1
    assert {k: v for k, v in project.snapshot().items() if not k.startswith(".git/")} == before
    assert len(git(project.root, "worktree", "list").splitlines()) == 1


@pytest.mark.slow
def test_replay_reads_the_replayed_version_where_gc_deleted_one_its_own_step_rebuilds(project: ProjectFactory) -> None:
    make_two_steps(project, KEEP_ONE)
    committed(project)
    first = run_id_of(project)
    run_id_of(project, "--only", "make", "--force")
    project.cli("gc", check=0)

    result = replay(project, first)

    statuses = {d["dataset"]: d["status"] for d in result["datasets"]}
    assert statuses == {"raw.numbers": "not_compared", "staging.doubled": "identical"}
    assert result["reproduced"] is False  # what gc deleted cannot be compared
    assert f"step 'double': read the replayed raw.numbers: the version it read, raw.numbers@{first}, was deleted by gc" \
        in result["reasons"]

"""Running a pipeline with real kernels: outputs, ledger, log, selection, failures."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest


def runs_json(project) -> list[dict]:
    return json.loads(project.cli("runs", "--json", check=0).stdout)


@pytest.mark.usefixtures("ledger_backend")  # on SQLite and on PostgreSQL
def test_run_executes_in_order_and_records_everything(two_steps):
    source_before = (two_steps.root / "notebooks" / "make.ipynb").read_bytes()
    result = two_steps.cli("run", "-p", "n=7", "-p", "factor=3", "-j", "1", check=0)
    assert "success" in result.stdout

    [run] = runs_json(two_steps)
    assert run["status"] == "success"
    assert [s["name"] for s in run["steps"]] == ["make", "double"]
    for step in run["steps"]:
        assert step["status"] == "success" and step["duration_s"] > 0
        executed = two_steps.root / step["output_notebook"]
        assert executed.is_file() and executed.parent.name == run["run_id"]
    # the source notebook is never modified; the executed one has the injected parameters
    assert (two_steps.root / "notebooks" / "make.ipynb").read_bytes() == source_before
    executed = json.loads((two_steps.root / run["steps"][0]["output_notebook"]).read_text())
    assert any("n = 7" in "".join(c["source"]) for c in executed["cells"])

    versions = two_steps.ledger_rows(
        "select dataset, status, rows, step from dataset_versions order by dataset"
    )
    assert versions == [("raw.numbers", "current", 7, "make"), ("staging.doubled", "current", 7, "double")]
    [(path,)] = two_steps.ledger_rows("select path from dataset_versions where dataset = 'staging.doubled'")
    assert path == f"data/staging.doubled/{run['run_id']}.parquet"  # relative to the store: the project can move
    assert pl.read_parquet(two_steps.root / ".dataops" / path)["j"].to_list() == [i * 3 for i in range(7)]
    lineage = two_steps.ledger_rows("select version_id, input_version_id from lineage")
    assert lineage == [(f"staging.doubled@{run['run_id']}", f"raw.numbers@{run['run_id']}")]
    [(owner, description)] = two_steps.ledger_rows("select owner, description from datasets where name = 'raw.numbers'")
    assert owner == "tests" and description == "The numbers 0..n-1."

    [row] = two_steps.ledger_rows("select user, environment, params, git_commit from runs")
    assert json.loads(row[2]) == {"make": {"n": 7}, "double": {"factor": 3}}

    log = [json.loads(line) for line in (two_steps.root / ".dataops" / "runs" / run["run_id"] / "run.log").read_text().splitlines()]
    events = [(e["event"], e.get("step")) for e in log]
    assert events == [
        ("run_started", None),
        ("step_started", "make"),
        ("step_finished", "make"),
        ("step_started", "double"),
        ("step_finished", "double"),
        ("run_finished", None),
    ]
    assert all("time" in e for e in log)


def test_second_run_supersedes_and_env_overlay_applies_in_its_environment_only(two_steps):
    two_steps.cli("run", check=0)
    two_steps.cli("run", "--env", "test", check=0)
    rows = two_steps.ledger_rows(
        "select status, rows, environment from dataset_versions where dataset = 'raw.numbers' order by created_at"
    )
    assert rows == [("current", 10, "prod"), ("current", 5, "test")]  # each current in its own environment
    runs = runs_json(two_steps)
    assert [r["environment"] for r in runs] == ["test", "prod"]  # newest first
    two_steps.cli("run", "--force", check=0)
    rows = two_steps.ledger_rows(
        "select status, rows, environment from dataset_versions where dataset = 'raw.numbers' order by created_at"
    )
    assert rows == [("superseded", 10, "prod"), ("current", 5, "test"), ("current", 10, "prod")]


def test_failing_step_fails_run_and_skips_downstream(project):
    project.notebook("make", "n = 3", "import dataops_nb as dn\ndn.step().publish('raw.n', 'select 1 as x')")
    project.notebook("boom", "d = 0", "x = 1\ny = x / d")
    project.notebook("after", "z = 1", "print(z)")
    project.spec(
        """
        name: fails
        steps:
          - {name: make, notebook: notebooks/make.ipynb}
          - {name: boom, notebook: notebooks/boom.ipynb, needs: [make], params: {d: 0}}
          - {name: after, notebook: notebooks/after.ipynb, needs: [boom]}
        """
    )
    result = project.cli("run", "-j", "1")
    assert result.returncode == 1
    assert "step 'boom' failed" in result.stderr
    # the source notebook's cell 2, line 2 (the executed one has the injected parameters before it)
    assert "cell 2:2: ZeroDivisionError" in result.stderr
    assert ".dataops/runs/" in result.stderr and "boom.ipynb" in result.stderr
    assert "step 'after' skipped" in result.stderr
    assert "Traceback" not in result.stderr
    [run] = runs_json(project)
    assert run["status"] == "failed"
    assert {s["name"]: s["status"] for s in run["steps"]} == {"make": "success", "boom": "failed", "after": "skipped"}
    boom = next(s for s in run["steps"] if s["name"] == "boom")
    assert (project.root / boom["output_notebook"]).is_file()
    # the successful upstream output stays current
    assert project.ledger_rows("select dataset, status from dataset_versions") == [("raw.n", "current")]


def test_a_second_step_publishing_what_an_earlier_step_of_the_run_published_fails(project):
    body = "import dataops_nb as dn\nname = 'raw.' + 'shared'  # no static reading sees the name\ndn.step().publish(name, f'select {v} as v')"
    project.notebook("first", "v = 1", body)
    project.notebook("second", "v = 2", body)
    project.spec(
        """
        name: twice
        steps:
          - {name: first, notebook: notebooks/first.ipynb}
          - {name: second, notebook: notebooks/second.ipynb, needs: [first]}
        """
    )
    result = project.cli("run", "-j", "1")
    assert result.returncode == 1
    assert "Step 'first' already published raw.shared in this run" in result.stderr
    assert "Traceback" not in result.stderr
    [run] = runs_json(project)
    assert {s["name"]: s["status"] for s in run["steps"]} == {"first": "success", "second": "failed"}
    # the first step's version stays the one current, with its value
    assert project.ledger_rows("select step, status from dataset_versions") == [("first", "current")]


def test_only_and_from_select_steps(project):
    for name in ("a", "b", "c", "d"):
        project.notebook(name, "x = 1", f"print('{name}')")
    project.spec(
        """
        name: sel
        steps:
          - {name: a, notebook: notebooks/a.ipynb}
          - {name: b, notebook: notebooks/b.ipynb, needs: [a]}
          - {name: c, notebook: notebooks/c.ipynb, needs: [b]}
          - {name: d, notebook: notebooks/d.ipynb, needs: [a]}
        """
    )
    project.cli("run", "--from", "b", check=0)
    project.cli("run", "--only", "d", "--only", "a", check=0)
    second, first = runs_json(project)
    assert [s["name"] for s in first["steps"]] == ["b", "c"]
    assert [s["name"] for s in second["steps"]] == ["a", "d"]


def test_step_that_publishes_nothing_readable_until_promoted(two_steps, tmp_path: Path):
    """A step killed before it finishes leaves only a staged file nobody reads."""
    two_steps.notebook(
        "double",
        "factor = 2",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("staging.doubled", "select 1 as j")
        raise SystemExit("stopped after publishing")
        """,
    )
    result = two_steps.cli("run")
    assert result.returncode == 1
    assert two_steps.ledger_rows("select dataset from dataset_versions where status = 'current'") == [("raw.numbers",)]
    assert two_steps.ledger_rows("select count(*) from dataset_versions where dataset = 'staging.doubled'") == [(0,)]


def test_warm_kernels_preimport_only_what_steps_import_and_bind_no_names(project):
    from dataops_nb.runner.kernels import warm_code

    assert warm_code(["os", "json"]) == ""
    assert "'polars'" in warm_code(["dataops_nb"]) and "'duckdb'" in warm_code(["dataops_nb.runtime"])
    probe = (
        "import sys\n"
        "print(sorted(n for n in ('polars', 'duckdb', 'dataops_nb', '__dataops_warm') if n in globals()),"
        " 'polars' in sys.modules)"
    )
    project.notebook("plain", "x = 1", probe)
    project.notebook("kit", "x = 1", "import dataops_nb as dn", probe)
    for step in ("plain", "kit"):
        project.spec(f"name: w\nsteps:\n  - {{name: {step}, notebook: notebooks/{step}.ipynb}}\n")
        project.cli("run", "-q", check=0)
    printed = []
    for run in reversed(runs_json(project)):
        executed = json.loads((project.root / run["steps"][0]["output_notebook"]).read_text())
        printed.append("".join(o.get("text", "") for c in executed["cells"] for o in c.get("outputs", [])).strip())
    # a step that imports nothing heavy gets a bare kernel; one that imports the kit gets
    # polars loaded ahead; neither sees a name it did not bind itself (here: only `dn`)
    assert printed == ["[] False", "[] True"]


def test_a_copied_project_reads_its_own_data(two_steps, tmp_path: Path):
    """Copy a project that has run, delete the original: the copy's catalog, checks and steps
    read the copy's files (the ledger keeps version paths relative to the store)."""
    import shutil
    import subprocess
    import sys

    from ..conftest import ProjectFactory

    two_steps.cli("run", check=0)
    copy = ProjectFactory(tmp_path / "copy")
    shutil.rmtree(copy.root)
    shutil.copytree(two_steps.root, copy.root)
    shutil.rmtree(two_steps.root)

    page = json.loads(copy.cli("catalog", "show", "staging.doubled", "--json", check=0).stdout)
    assert [row["j"] for row in page["preview"]["rows"]] == [i * 2 for i in range(10)]
    assert page["current_version"]["path"].startswith(".dataops/data/staging.doubled/")
    checked = json.loads(copy.cli("check", "--json", check=0).stdout)
    assert {c["dataset"]: c["status"] for c in checked} == {"raw.numbers": "pass", "staging.doubled": "pass"}
    listing = json.loads(copy.cli("catalog", "versions", "raw.numbers", "--json", check=0).stdout)
    assert [v["readable"] for v in listing] == [True]

    # a step run in the copy reads the copy's raw.numbers; so does a notebook run by hand
    copy.cli("run", "--only", "double", "-p", "factor=5", check=0)
    [(path,)] = copy.ledger_rows("select path from dataset_versions where dataset = 'staging.doubled' "
                                 "and status = 'current'")
    assert pl.read_parquet(copy.root / ".dataops" / path)["j"].to_list() == [i * 5 for i in range(10)]
    by_hand = subprocess.run(
        [sys.executable, "-c", "import dataops_nb as dn; print(dn.read('raw.numbers').height)"],
        cwd=copy.root / "notebooks", capture_output=True, text=True, timeout=120,
    )
    assert by_hand.stdout.strip() == "10", by_hand.stderr

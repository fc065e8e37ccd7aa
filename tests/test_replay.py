"""Replay: what a run records so it can be re-executed, and `dataops-nb replay RUN`."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from dataops_nb.project import Project
from dataops_nb.runner.fingerprint import Fingerprint

from .conftest import ProjectFactory, make_two_steps


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

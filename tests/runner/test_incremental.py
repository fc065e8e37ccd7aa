"""Incremental builds: fresh steps are skipped; plan and status say why a step is stale."""

from __future__ import annotations

import json


def plan(project, *args: str) -> dict[str, list[str]]:
    rows = json.loads(project.cli("plan", "--json", *args, check=0).stdout)
    assert all(set(r) == {"step", "state", "reasons", "environment"} for r in rows)
    assert all(r["state"] == ("stale" if r["reasons"] else "fresh") for r in rows)
    return {r["step"]: r["reasons"] for r in rows}


def last_statuses(project) -> dict[str, str]:
    [run, *_] = json.loads(project.cli("runs", "--json", check=0).stdout)
    return {s["name"]: s["status"] for s in run["steps"]}


def edit_cell(path, index: int, source: str) -> None:
    nb = json.loads(path.read_text())
    nb["cells"][index]["source"] = source
    path.write_text(json.dumps(nb))


def test_fresh_steps_are_skipped_and_reasons_given(two_steps):
    assert plan(two_steps) == {"make": ["never ran"], "double": ["never ran", "upstream 'make' is stale"]}
    two_steps.cli("run", check=0)
    assert plan(two_steps) == {"make": [], "double": []}
    two_steps.cli("run", check=0)
    assert last_statuses(two_steps) == {"make": "fresh", "double": "fresh"}

    # a parameter change makes make stale; double re-runs because its input changed
    assert plan(two_steps, "-p", "n=4")["make"] == ["parameter changed"]
    two_steps.cli("run", "-p", "n=4", check=0)
    assert last_statuses(two_steps) == {"make": "success", "double": "success"}

    # markdown and outputs are not code
    nb_path = two_steps.root / "notebooks" / "double.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"].insert(0, {"cell_type": "markdown", "id": "md", "metadata": {}, "source": "# Doubling"})
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "old output"}]
    nb_path.write_text(json.dumps(nb))
    assert plan(two_steps, "-p", "n=4") == {"make": [], "double": []}

    # a code edit makes only that step stale
    edit_cell(nb_path, 2, nb["cells"][2]["source"] + "\nprint('edited')\n")
    assert plan(two_steps, "-p", "n=4") == {"make": [], "double": ["code changed"]}
    two_steps.cli("run", "-p", "n=4", check=0)
    assert last_statuses(two_steps) == {"make": "fresh", "double": "success"}

    two_steps.cli("run", "-p", "n=4", "--force", check=0)
    assert last_statuses(two_steps) == {"make": "success", "double": "success"}


def test_imported_project_module_is_part_of_the_fingerprint(project):
    (project.root / "helpers").mkdir(parents=True)
    (project.root / "helpers" / "__init__.py").write_text("from .scale import factor\n")
    (project.root / "helpers" / "scale.py").write_text("factor = 2\n")
    project.notebook(
        "use",
        "n = 3",
        """
        import sys
        sys.path.insert(0, "..")
        from helpers import factor
        import json
        print(n * factor)
        """,
    )
    project.spec("name: mods\nsteps:\n  - {name: use, notebook: notebooks/use.ipynb}\n")
    project.cli("run", check=0)
    assert plan(project) == {"use": []}
    (project.root / "helpers" / "scale.py").write_text("factor = 3\n")
    assert plan(project) == {"use": ["module changed: helpers/scale.py"]}


def test_failed_step_stays_stale(project):
    project.notebook("flaky", "fail = True", "assert not fail")
    project.spec("name: f\nsteps:\n  - {name: flaky, notebook: notebooks/flaky.ipynb}\n")
    project.cli("run")
    assert plan(project) == {"flaky": ["last run failed"]}
    status = json.loads(project.cli("status", "--json", check=0).stdout)
    assert status[0]["state"] == "stale" and status[0]["last_status"] == "failed"


def test_switching_environment_makes_steps_stale_even_with_the_same_parameters(project):
    project.notebook("one", "n = 1", "print(n)")
    project.spec(
        "name: e\nenvironments:\n  ci: {params: {}}\nsteps:\n  - {name: one, notebook: notebooks/one.ipynb}\n"
    )
    project.cli("run", check=0)
    assert plan(project) == {"one": []}
    assert plan(project, "--env", "ci") == {"one": ["environment changed"]}
    project.cli("run", "--env", "ci", check=0)
    assert plan(project, "--env", "ci") == {"one": []}

"""Templates, `new`, `init`, `strip` and `test`: the real CLI, real kernels.

One project made by `dataops-nb init` (and run once) is shared by the tests that only
look at it; every test that changes a project works on its own copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dataops_nb.notebooks import GOLDEN_MARK

from .conftest import REPO, ProjectFactory, notebook, run_cli

BUILTINS = {"ingest_file", "sql_transform", "polars_transform", "report"}
# what a step `t` made from each template publishes (reading raw.example): named after the step
PUBLISHES = {
    "sql_transform": "staging.t",
    "polars_transform": "staging.t",
    "report": "marts.t",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(path: Path) -> list[dict[str, Any]]:
    return [c for c in load(path)["cells"] if c["cell_type"] == "code"]


def text(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def golden(path: Path) -> dict[str, Any]:
    (cell,) = [c for c in code_cells(path) if text(c).startswith(f"# {GOLDEN_MARK}")]
    return cell


def current_versions(root: Path) -> dict[str, int]:
    con = sqlite3.connect(root / ".dataops" / "ledger.db")
    try:
        rows = con.execute("SELECT dataset, rows FROM dataset_versions WHERE status = 'current'").fetchall()
    finally:
        con.close()
    return dict(rows)


def one_sentence(result: Any) -> str:
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message, message
    return message


def files(root: Path) -> dict[str, bytes]:
    return ProjectFactory(root).snapshot()


@pytest.fixture(scope="module")
def initialized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """`dataops-nb init shop` then `dataops-nb run` at once: the project, init's and run's --json."""
    base = tmp_path_factory.mktemp("init")
    created = json.loads(run_cli("init", "shop", "--json", cwd=base, check=0).stdout)
    root = base / "shop"
    run_cli("run", "--json", cwd=root, check=0)
    runs = json.loads(run_cli("runs", "--json", cwd=root, check=0).stdout)
    return root, created, runs


@pytest.fixture
def fresh(initialized: tuple[Path, Any, Any], tmp_path: Path) -> Path:
    """A copy of the project as init made it (no runs yet)."""
    root = tmp_path / "shop"
    shutil.copytree(initialized[0], root, ignore=shutil.ignore_patterns(".dataops"))
    return root


# --- templates ------------------------------------------------------------------------


def test_templates_json_lists_the_four_builtins_with_descriptions(tmp_path: Path) -> None:
    listed = json.loads(run_cli("templates", "--json", cwd=tmp_path, check=0).stdout)

    by_name = {t["name"]: t for t in listed}
    assert BUILTINS <= set(by_name)
    for name in BUILTINS:
        description = by_name[name]["description"]
        assert description.strip() and "\n" not in description, name
        assert by_name[name]["source"] == "built-in"
    human = run_cli("templates", cwd=tmp_path, check=0).stdout
    assert all(name in human for name in BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_template_is_a_clean_parameterized_notebook(name: str) -> None:
    nb = load(REPO / "templates" / f"{name}.ipynb")

    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["dataops"]["description"]
    assert nb["cells"][0]["cell_type"] == "markdown"
    parameters = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1 and parameters[0]["cell_type"] == "code"
    assert any("dn.step()" in text(c) for c in nb["cells"])
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "outputs committed"


# --- init -------------------------------------------------------------------------------


def test_init_creates_a_project_that_runs_at_once(initialized: tuple[Path, dict[str, Any], list[Any]]) -> None:
    root, created, runs = initialized

    assert {"dataops.yaml", ".gitignore", ".pre-commit-config.yaml", "notebooks/ingest.ipynb"} <= set(created["files"])
    assert ".dataops/" in (root / ".gitignore").read_text().splitlines()
    assert "dataops-nb strip" in (root / ".pre-commit-config.yaml").read_text()
    workflows = list((root / ".github" / "workflows").glob("*.yml"))
    assert workflows and any("dataops-nb ci" in w.read_text() and "dataops-nb promote" in w.read_text()
                             for w in workflows)
    assert any("dataops-nb lint" in w.read_text() and "dataops-nb report" in w.read_text() for w in workflows)
    assert run_cli("lint", "--strict", cwd=root).stdout.strip() == "No findings."  # it starts clean
    assert all(c["outputs"] == [] for c in code_cells(root / "notebooks" / "ingest.ipynb"))

    assert len(runs) == 1 and runs[0]["status"] == "success"
    assert [(s["name"], s["status"]) for s in runs[0]["steps"]] == [("ingest", "success")]
    assert current_versions(root) == {"raw.example": 6}


def test_init_into_an_existing_project_is_refused(fresh: Path) -> None:
    before = files(fresh)

    result = run_cli("init", str(fresh), cwd=fresh.parent)

    assert result.returncode == 2
    assert "already" in one_sentence(result)
    assert files(fresh) == before


def test_init_keeps_what_the_folder_already_has(tmp_path: Path) -> None:
    folder = tmp_path / "existing"
    (folder / "notebooks").mkdir(parents=True)
    (folder / ".gitignore").write_text("node_modules/\n")
    run_cli("init", "existing", cwd=tmp_path, check=0)
    assert (folder / ".gitignore").read_text().splitlines()[:2] == ["node_modules/", ".dataops/"]

    (folder / "dataops.yaml").unlink()  # the sample notebook is still there: init must not overwrite it
    mine = folder / "notebooks" / "ingest.ipynb"
    mine.write_text(json.dumps(notebook("x = 1", "print(x)")))
    before = files(folder)
    result = run_cli("init", "existing", cwd=tmp_path)
    assert result.returncode == 2
    assert "ingest.ipynb" in one_sentence(result)
    assert files(folder) == before


# --- new --------------------------------------------------------------------------------


@pytest.mark.parametrize("template", sorted(PUBLISHES))
def test_new_step_from_template_runs_right_after(fresh: Path, template: str) -> None:
    spec = fresh / "dataops.yaml"
    original = spec.read_text()

    added = json.loads(run_cli("new", "t", "--template", template, "--needs", "ingest", "--json", cwd=fresh, check=0).stdout)

    assert added["notebook"] == "notebooks/t.ipynb"
    assert load(fresh / "notebooks" / "t.ipynb")["metadata"]["dataops"]["description"]
    entry = "  - name: t\n    notebook: notebooks/t.ipynb\n    needs: [ingest]\n"
    edited = spec.read_text()
    assert entry in edited
    assert edited.replace(entry, "", 1) == original  # comments and layout untouched, byte for byte
    assert edited.index(entry) < edited.index("\ndatasets:")

    ran = json.loads(run_cli("run", "--json", cwd=fresh, check=0).stdout)
    assert {s["name"]: s["status"] for s in ran["steps"]} == {"ingest": "success", "t": "success"}
    assert PUBLISHES[template] in current_versions(fresh)
    if template == "report":
        executed = fresh / next(s for s in ran["steps"] if s["name"] == "t")["output_notebook"]
        outputs = [o for c in code_cells(executed) for o in c["outputs"]]
        assert any("image/png" in o.get("data", {}) for o in outputs), "the report has no chart"


def test_new_keeps_a_hand_written_spec_byte_for_byte(project: ProjectFactory) -> None:
    spec = project.spec(
        """
        # Our pipeline.   Owned by the data team.
        name:   handmade
        steps:            # in run order
        - name: load      # first
          notebook: 'notebooks/load.ipynb'
          params: { n: 3 }
        # - name: retired
        #   notebook: notebooks/retired.ipynb

        datasets:
          raw.numbers: {description: "Numbers", owner: me}   # kept as written
        """
    )
    project.notebook("load", "n = 3", "import dataops_nb as dn\ndn.step().publish('raw.numbers', 'select 1 as i')")
    original = spec.read_text()

    project.cli("new", "use", "--template", "polars_transform", "--needs", "load", check=0)
    project.cli("new", "report", "--template", "report", "--needs", "use", check=0)

    added = (
        "- name: use\n  notebook: notebooks/use.ipynb\n  needs: [load]\n"
        "- name: report\n  notebook: notebooks/report.ipynb\n  needs: [use]\n"
    )
    assert spec.read_text() == original.replace("# - name: retired", added + "# - name: retired", 1)
    plan = json.loads(project.cli("plan", "--json", check=0).stdout)
    assert [p["step"] for p in plan] == ["load", "use", "report"]


def test_project_templates_add_to_and_override_the_builtins(fresh: Path) -> None:
    ours = notebook(
        'target = "raw.team"',
        'import dataops_nb as dn\nstep = dn.step()\nstep.publish(target, "select 42 as answer")',
    )
    ours["metadata"]["dataops"] = {"description": "Our team's ingest."}
    (fresh / "templates" / "ingest_file.ipynb").write_text(json.dumps(ours))
    ours["metadata"]["dataops"] = {"description": "Our team's own step."}
    (fresh / "templates" / "team_step.ipynb").write_text(json.dumps(ours))

    listed = {t["name"]: t for t in json.loads(run_cli("templates", "--json", cwd=fresh, check=0).stdout)}

    parameters = [{"name": "target", "default": "raw.team", "publishes": True}]  # what `new` names after the step
    assert listed["ingest_file"] == {"name": "ingest_file", "description": "Our team's ingest.", "source": "project",
                                     "parameters": parameters}
    assert listed["team_step"] == {"name": "team_step", "description": "Our team's own step.", "source": "project",
                                   "parameters": parameters}
    assert listed["sql_transform"]["source"] == "built-in"
    run_cli("new", "mine", "--template", "team_step", cwd=fresh, check=0)
    run_cli("new", "again", "--template", "ingest_file", "--needs", "mine", cwd=fresh, check=0)
    assert "select 42" in text(code_cells(fresh / "notebooks" / "again.ipynb")[1])  # the project's, not the built-in
    run_cli("run", cwd=fresh, check=0)
    assert current_versions(fresh) == {"raw.example": 6, "raw.mine": 1, "raw.again": 1}


def test_a_second_ingest_step_publishes_its_own_dataset_and_both_run(fresh: Path) -> None:
    # the new user's first move: a second file ingest beside the sample one
    added = json.loads(run_cli("new", "extra", "--template", "ingest_file", "--json", cwd=fresh, check=0).stdout)
    assert added["publishes"] == ["raw.extra"]
    parameters = text(next(c for c in code_cells(fresh / "notebooks" / "extra.ipynb")
                           if "parameters" in c["metadata"].get("tags", [])))
    assert 'dataset = "raw.extra"' in parameters and parameters.startswith('path = ""  # a CSV')  # comments kept
    human = run_cli("new", "more", "--template", "ingest_file", "--publishes", "raw.more_rows", cwd=fresh, check=0)
    assert human.stdout.strip().endswith("notebooks/more.ipynb (publishes raw.more_rows)")

    ran = json.loads(run_cli("run", "--json", cwd=fresh, check=0).stdout)

    assert {s["name"]: s["status"] for s in ran["steps"]} == {"ingest": "success", "extra": "success", "more": "success"}
    assert current_versions(fresh) == {"raw.example": 6, "raw.extra": 6, "raw.more_rows": 6}


def test_new_sets_template_parameters(fresh: Path) -> None:
    (fresh / "data").mkdir()
    (fresh / "data" / "companies.csv").write_text("symbol,name\nAAA,Alpha\nBBB,Beta\n")
    run_cli("new", "companies", "--template", "ingest_file", "-p", "path=data/companies.csv", cwd=fresh, check=0)
    run_cli("run", cwd=fresh, check=0)
    assert current_versions(fresh)["raw.companies"] == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["new", "extra", "--template", "ingest_file", "--publishes", "raw.example"],
         "Step 'ingest' already publishes raw.example, which the new step 'extra' would publish too"),
        (["new", "extra", "--template", "ingest_file", "-p", "dataset=raw.example"], "already publishes raw.example"),
        (["new", "extra", "--template", "ingest_file", "--publishes", "Not A Name"], "Not A Name"),
        (["new", "extra", "--template", "ingest_file", "-p", "datset=raw.x"], "did you mean 'dataset'"),
        (["new", "t", "--template", "sql_transfrom"], "did you mean 'sql_transform'"),
        (["new", "ingest", "--template", "sql_transform"], "already exists"),
        (["new", "t", "--template", "sql_transform", "--needs", "ingset"], "did you mean 'ingest'"),
        (["new", "my step", "--template", "sql_transform"], "must be an identifier"),
        (["new", "t", "--template", "sql_transform", "--needs", "ingest", "--needs", "nope"], "Unknown step 'nope'"),
    ],
    ids=["collision", "collision-by-param", "bad-dataset-name", "unknown-param", "unknown-template", "existing-step", "unknown-needs", "invalid-name", "second-needs-unknown"],
)
def test_new_rejects_bad_input_and_changes_nothing(fresh: Path, args: list[str], expected: str) -> None:
    before = files(fresh)

    result = run_cli(*args, cwd=fresh)

    assert result.returncode == 2
    assert expected in one_sentence(result)
    assert files(fresh) == before


# --- strip and test ----------------------------------------------------------------------


def test_strip_removes_outputs_but_keeps_golden_ones(fresh: Path) -> None:
    path = fresh / "notebooks" / "ingest.ipynb"
    nb = load(path)
    saved = {"output_type": "stream", "name": "stdout", "text": "raw.example: 6 rows\n"}
    for count, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1):
        cell["outputs"], cell["execution_count"] = [dict(saved, text=f"output {count}\n")], count
        cell["metadata"]["execution"] = {"iopub.status.idle": "2024-01-01T00:00:00Z"}
    nb["metadata"]["papermill"] = {"duration": 1.0}
    path.write_text(json.dumps(nb))

    changed = json.loads(run_cli("strip", "--json", cwd=fresh, check=0).stdout)["changed"]

    assert [Path(p).name for p in changed] == ["ingest.ipynb"]
    stripped = load(path)
    assert "papermill" not in stripped["metadata"]
    for cell in (c for c in stripped["cells"] if c["cell_type"] == "code"):
        assert "execution" not in cell["metadata"]
        if text(cell).startswith(f"# {GOLDEN_MARK}"):
            assert cell["outputs"][0]["text"].startswith("output ") and cell["execution_count"]
        else:
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert json.loads(run_cli("strip", "--json", cwd=fresh, check=0).stdout)["changed"] == []


def test_notebook_tests_pass_on_a_new_project_and_catch_a_changed_golden_output(fresh: Path) -> None:
    run_cli("test", cwd=fresh, check=0)  # golden cells not recorded yet: they must only run cleanly

    run_cli("test", "--record", cwd=fresh, check=0)
    path = fresh / "notebooks" / "ingest.ipynb"
    recorded = "".join(golden(path)["outputs"][0]["text"])
    assert recorded == "raw.example: 6 rows; columns id, category, amount\n"
    assert sum(bool(c["outputs"]) for c in code_cells(path)) == 1  # only the golden cell keeps outputs

    path.write_text(path.read_text().replace("6 rows", "7 rows"))
    result = run_cli("test", cwd=fresh)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "7 rows" in result.stdout and "failed" in result.stdout
    assert "Notebook tests failed" in result.stderr

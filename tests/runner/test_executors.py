"""Executors: a real Dask LocalCluster gives the same ledger results as local; papermill engine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def current(project) -> list[tuple]:
    return project.ledger_rows(
        "select dataset, rows, step, status from dataset_versions where status = 'current' order by dataset"
    )


def test_dask_executor_matches_local(two_steps, tmp_path):
    two_steps.cli("run", "--executor", "dask", "-j", "2", "-p", "n=6", check=0)
    on_dask = current(two_steps)
    [run] = json.loads(two_steps.cli("runs", "--json", check=0).stdout)
    assert [(s["name"], s["status"]) for s in run["steps"]] == [("make", "success"), ("double", "success")]
    assert all((two_steps.root / s["output_notebook"]).is_file() for s in run["steps"])
    lineage = two_steps.ledger_rows("select count(*) from lineage")

    two_steps.cli("run", "--force", "-p", "n=6", check=0)
    assert [row[:3] for row in current(two_steps)] == [row[:3] for row in on_dask]
    assert on_dask == [("raw.numbers", 6, "make", "current"), ("staging.doubled", 6, "double", "current")]
    assert lineage == [(1,)]


def test_failure_on_dask_is_reported_like_local(project):
    project.notebook("boom", "x = 1", "raise RuntimeError('broken on the worker')")
    project.spec("name: d\nsteps:\n  - {name: boom, notebook: notebooks/boom.ipynb}\n")
    result = project.cli("run", "--executor", "dask", "-j", "1")
    assert result.returncode == 1 and "RuntimeError: broken on the worker" in result.stderr


def test_papermill_engine_entry_point(project):
    path = project.notebook("plain", "x = 1", "import os\nprint(os.path.basename(os.getcwd()), x * 2)")
    script = textwrap.dedent(
        f"""
        import papermill, json
        for x in (3, 4):
            nb = papermill.execute_notebook({str(path)!r}, "out.ipynb", parameters={{"x": x}},
                                            engine_name="dataops", progress_bar=False,
                                            cwd={str(path.parent)!r})
            print(nb.cells[-1].outputs[0]["text"].strip())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=project.root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["notebooks 6", "notebooks 8"]

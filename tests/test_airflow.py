"""`export airflow`: a DAG file that a real Airflow (in a venv of its own) loads and runs."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TWO_STEPS, make_two_steps

AIRFLOW = "apache-airflow>=3.0,<4"
CACHE = Path(os.environ.get("DATAOPS_TEST_CACHE", Path.home() / ".cache" / "dataops-nb-tests"))


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    """A venv with Airflow, made once per machine (Airflow's pins would clash with the kit's)."""
    venv = CACHE / "airflow-venv"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "airflow-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test workers share the one venv
        if not (venv / "ready").is_file():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", AIRFLOW],
                                 capture_output=True, text=True, timeout=1200)
            assert pip.returncode == 0, f"pip install {AIRFLOW} failed:\n{pip.stderr[-3000:]}"
            (venv / "ready").write_text(AIRFLOW)
    return venv


def airflow(venv: Path, home: Path, dags: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    return subprocess.run([str(venv / "bin" / "airflow"), *args], env=env, capture_output=True, text=True, timeout=600)


GRAPH = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get(sys.argv[2])
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "schedule": None if dag is None else str(dag.schedule),
                  "tasks": None if dag is None else {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
                  "command": None if dag is None else dag.task_dict["double"].bash_command}))
"""


def test_airflow_loads_the_dag_and_runs_the_pipeline(project, airflow_venv, tmp_path):
    make_two_steps(project)
    out = project.cli("export", "airflow", "--env", "test", "--schedule", "0 6 * * *", "--json", check=0)
    exported = json.loads(out.stdout)
    dag_file = project.root / exported["path"]
    assert exported["dag_id"] == "twosteps" and dag_file == project.root / "airflow" / "twosteps.py"
    # Airflow finds the DAG: one task per step, the spec's needs as its edges
    loaded = subprocess.run([str(airflow_venv / "bin" / "python"), "-c", GRAPH, str(dag_file.parent), "twosteps"],
                            capture_output=True, text=True, env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "af")},
                            timeout=300)
    graph = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert graph["errors"] == {}
    assert graph["tasks"] == {"make": [], "double": ["make"]}
    assert "0 6 * * *" in graph["schedule"]
    assert "run --only double -q --env test" in graph["command"]
    # and runs it: each task is a run of the kit on its step, in order, with the environment's parameters
    home = tmp_path / "airflow-home"
    migrated = airflow(airflow_venv, home, dag_file.parent, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    first = airflow(airflow_venv, home, dag_file.parent, "dags", "test", "twosteps")
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    runs = project.ledger_rows(
        "SELECT r.run_id, s.step, s.status FROM runs r JOIN step_runs s USING (run_id) ORDER BY r.run_id")
    assert [(step, status) for _, step, status in runs] == [("make", "success"), ("double", "success")]
    shown = project.cli("catalog", "show", "staging.doubled", "--env", "test", "--json", check=0)
    current = json.loads(shown.stdout)["current_version"]
    assert current["rows"] == 5 and current["step"] == "double"  # n = 5 in the test environment
    # a second Airflow run finds both steps fresh: nothing executes again
    second = airflow(airflow_venv, home, dag_file.parent, "dags", "test", "twosteps")
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    latest = project.ledger_rows(
        "SELECT s.step, s.status FROM step_runs s JOIN runs r USING (run_id) ORDER BY r.run_id DESC LIMIT 2")
    assert sorted(latest) == [("double", "fresh"), ("make", "fresh")]


def test_export_airflow_refuses_bad_input_and_keeps_files(project):
    make_two_steps(project)
    bad_schedule = project.cli("export", "airflow", "--schedule", "every day", check=2)
    assert "--schedule 'every day'" in bad_schedule.stderr and "Traceback" not in bad_schedule.stderr
    assert not (project.root / "airflow").exists()
    unknown_env = project.cli("export", "airflow", "--env", "prod", check=2)
    assert "Unknown environment 'prod'" in unknown_env.stderr
    bad_id = project.cli("export", "airflow", "--dag-id", "my dag", check=2)
    assert "'my dag' cannot be an Airflow DAG id" in bad_id.stderr
    # a file of the user's own is not overwritten, unless asked
    mine = project.root / "dags" / "twosteps.py"
    mine.parent.mkdir()
    mine.write_text("# my own DAG\n")
    refused = project.cli("export", "airflow", "-o", str(mine), check=2)
    assert "was not written by `export airflow`" in refused.stderr and mine.read_text() == "# my own DAG\n"
    project.cli("export", "airflow", "-o", str(mine), "--force", check=0)
    compile(mine.read_text(), str(mine), "exec")
    # a file it wrote is simply regenerated
    project.cli("export", "airflow", "-o", str(mine), "--dag-id", "numbers", check=0)
    assert "dag_id='numbers'" in mine.read_text()


DOCS = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags[sys.argv[2]]
print(json.dumps({"dag": dag.doc_md, "tasks": {t.task_id: t.doc_md for t in dag.tasks}}))
"""


def test_the_dag_names_the_secrets_its_tasks_need(project, airflow_venv, tmp_path):
    make_two_steps(project, TWO_STEPS.replace("notebook: notebooks/double.ipynb",
                                              "notebook: notebooks/double.ipynb\n    params: {token: {secret: NUMBERS_TOKEN}}"))
    dag_file = project.root / json.loads(project.cli("export", "airflow", "--json", check=0).stdout)["path"]
    assert "SECRETS = ['NUMBERS_TOKEN']" in dag_file.read_text()
    loaded = subprocess.run([str(airflow_venv / "bin" / "python"), "-c", DOCS, str(dag_file.parent), "twosteps"],
                            check=False, capture_output=True, text=True, env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "af")},
                            timeout=300)
    docs = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert "secrets from these environment variables: NUMBERS_TOKEN." in docs["dag"]
    assert docs["tasks"]["double"] == "Needs the environment variables NUMBERS_TOKEN."
    assert docs["tasks"]["make"] is None

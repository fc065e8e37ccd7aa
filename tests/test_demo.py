"""The demo pipeline at the repo root, on the real nycflights13 data (test sample)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import REPO, ProjectFactory

STEPS = ["ingest", "clean", "flight_weather", "carrier_delays", "report"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectFactory, dict]:
    """A copy of the demo project, run once with the test environment."""
    root = tmp_path_factory.mktemp("demo") / "flights"
    root.mkdir()
    shutil.copy(REPO / "dataops.yaml", root / "dataops.yaml")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    project = ProjectFactory(root)
    sources = {p.name: p.read_bytes() for p in (root / "notebooks").glob("*.ipynb")}
    result = project.cli("run", "--env", "test", check=0)
    runs = json.loads(project.cli("--json", "runs", check=0).stdout)
    return project, {"result": result, "runs": runs, "sources": sources}


def test_every_step_succeeds_in_dependency_order(demo):
    project, ran = demo
    run = ran["runs"][0]
    assert run["status"] == "success"
    steps = {s["name"]: s for s in run["steps"]}
    assert set(steps) == set(STEPS)
    assert all(s["status"] == "success" for s in steps.values())
    started = {name: project.ledger_rows(f"SELECT started_at FROM step_runs WHERE step = '{name}'")[0][0] for name in STEPS}
    ended = {name: project.ledger_rows(f"SELECT ended_at FROM step_runs WHERE step = '{name}'")[0][0] for name in STEPS}
    assert ended["ingest"] <= started["clean"]
    assert ended["clean"] <= min(started["flight_weather"], started["carrier_delays"])
    assert max(ended["flight_weather"], ended["carrier_delays"]) <= started["report"]


def test_every_declared_dataset_is_current_and_documented(demo):
    project, _ = demo
    spec = (project.root / "dataops.yaml").read_text()
    current = dict(project.ledger_rows("SELECT dataset, rows FROM dataset_versions WHERE status = 'current'"))
    assert current["raw.flights"] == 5000  # the test environment's sample
    assert current["raw.airlines"] == 16 and current["raw.planes"] == 3322
    assert current["staging.flights"] == 5000
    assert 0 < current["marts.carrier_delays"] <= 16
    assert current["reports.airline_ranking"] == 10
    for name in current:
        assert f"  {name}:\n    description:" in spec, f"{name} is not documented in dataops.yaml"


def test_lineage_joins_the_branches(demo):
    project, _ = demo
    rows = project.ledger_rows(
        "SELECT substr(version_id, 1, instr(version_id, '@') - 1), "
        "substr(input_version_id, 1, instr(input_version_id, '@') - 1) FROM lineage"
    )
    edges = set(rows)
    assert ("staging.flights", "raw.flights") in edges
    assert ("marts.flight_weather", "raw.weather") in edges
    assert ("marts.flight_weather", "staging.flights") in edges
    assert ("marts.carrier_delays", "raw.airlines") in edges
    assert ("reports.airline_ranking", "marts.carrier_delays") in edges
    assert ("reports.airline_ranking", "marts.flight_weather") in edges


def test_checks_fire_as_warnings_and_errors_pass(demo):
    project, ran = demo
    out = ran["result"].stdout
    assert "not_null(dep_time): warn" in out
    assert "relationships(tailnum): warn" in out
    results = project.ledger_rows(
        "SELECT check_name, status, failing FROM check_results WHERE dataset = 'staging.flights'"
    )
    by_name = {name: (status, failing) for name, status, failing in results}
    assert by_name["not_null(dep_time)"][0] == "warn" and by_name["not_null(dep_time)"][1] > 0
    assert by_name["relationships(tailnum)"][0] == "warn"
    assert by_name["unique(flight_id)"] == ("pass", 0)
    assert by_name["arrives_before_departing"] == ("pass", 0)
    review = json.loads(project.cli("--json", "--env", "test", "review", check=0).stdout)  # the run was in test
    assert review["environment"] == "test"
    flagged = {(f["dataset"], f["check"]) for f in review["failures"]}
    assert ("staging.flights", "not_null(dep_time)") in flagged
    sample = next(f for f in review["failures"] if f["check"] == "not_null(dep_time)")["sample"]
    assert sample and all(row["dep_time"] is None and row["cancelled"] for row in sample)


def test_executed_notebooks_are_kept_and_sources_untouched(demo):
    project, ran = demo
    run = ran["runs"][0]
    for step in run["steps"]:
        assert (project.root / step["output_notebook"]).is_file()
    executed = next(s for s in run["steps"] if s["name"] == "report")["output_notebook"]
    report = json.loads((project.root / executed).read_text())
    images = [o for c in report["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the report shows its chart"
    assert {p.name: p.read_bytes() for p in (project.root / "notebooks").glob("*.ipynb")} == ran["sources"]


def test_second_run_is_all_fresh(demo):
    project, _ = demo
    plan = json.loads(project.cli("--json", "--env", "test", "plan", check=0).stdout)
    assert {item["step"]: item["state"] for item in plan} == {name: "fresh" for name in STEPS}


def test_nbval_golden_outputs_pass_on_the_demo(demo):
    """`dataops-nb test` (nbval, lax, test parameters) passes on the committed notebooks."""
    project, _ = demo
    result = project.cli("test")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "failed" not in result.stdout


def test_committed_notebooks_carry_only_golden_outputs():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        golden = [c for c in cells if c["cell_type"] == "code" and "# NBVAL_CHECK_OUTPUT" in "".join(c["source"])]
        assert len(golden) == 1, f"{path.name} has one golden cell"
        assert golden[0]["outputs"], f"{path.name}: the golden cell keeps its recorded output"
        for cell in cells:
            if cell["cell_type"] == "code" and cell not in golden:
                assert not cell["outputs"], f"{path.name}: outputs are stripped"
        parameters = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(parameters) == 1, f"{path.name} has a parameters cell"


def test_spec_of_the_demo_has_at_least_five_steps_with_a_branch():
    from dataops_nb.spec import load_spec

    spec, _ = load_spec(Path(REPO / "dataops.yaml"))
    needs = {step.name: set(step.needs) for step in spec.steps}
    assert len(needs) >= 5
    assert needs["flight_weather"] == needs["carrier_delays"] == {"clean"}
    assert needs["report"] == {"flight_weather", "carrier_delays"}

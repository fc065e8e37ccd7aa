"""Datasets no step publishes any more: marked in the catalog, and `catalog forget`."""

from __future__ import annotations

import json

from tests.conftest import TWO_STEPS, ProjectFactory, make_two_steps


def _search(project: ProjectFactory) -> dict[str, str | None]:
    return {r["name"]: r["published_by"] for r in json.loads(project.cli("catalog", "search", "--json", check=0).stdout)}


def test_a_dataset_left_over_by_a_removed_step_is_marked_and_can_be_forgotten(project: ProjectFactory) -> None:
    pipeline = make_two_steps(project)
    pipeline.cli("run", check=0)
    assert _search(pipeline) == {"raw.numbers": "make", "staging.doubled": "double"}

    before = pipeline.snapshot()
    published = pipeline.cli("catalog", "forget", "staging.doubled")
    assert published.returncode == 2
    assert published.stderr.strip() == ("Error: Step 'double' still publishes staging.doubled: remove the step, "
                                        "or its publish, first.")
    declared = pipeline.cli("catalog", "forget", "raw.numbers")
    assert declared.returncode == 2 and "raw.numbers is declared under datasets:; remove it there first" in declared.stderr
    assert pipeline.snapshot() == before

    pipeline.spec(TWO_STEPS.replace("  - name: double\n    notebook: notebooks/double.ipynb\n    needs: [make]\n", ""))
    assert _search(pipeline) == {"raw.numbers": "make", "staging.doubled": None}
    assert "no step (left over)" in pipeline.cli("catalog", "search", env={"COLUMNS": "200"}, check=0).stdout
    page = pipeline.cli("catalog", "show", "staging.doubled", check=0).stdout
    assert "no step of the spec publishes staging.doubled any more: `dataops-nb catalog forget staging.doubled`" in page
    [(version,)] = pipeline.ledger_rows("select version_id from dataset_versions where dataset = 'staging.doubled'")

    forgot = pipeline.cli("catalog", "forget", "staging.doubled", check=0).stdout
    assert forgot.startswith("Forgot staging.doubled: 1 version(s) deleted")

    assert _search(pipeline) == {"raw.numbers": "make"}
    gone = pipeline.cli("catalog", "show", "staging.doubled")
    assert gone.returncode == 2 and "Unknown dataset 'staging.doubled'" in gone.stderr
    assert not list((pipeline.root / ".dataops" / "data" / "staging.doubled").glob("*.parquet"))
    # the ledger keeps the row (lineage history), the audit what was forgotten
    assert pipeline.ledger_rows(f"select status from dataset_versions where version_id = '{version}'") == [("deleted",)]
    [entry] = [e for e in json.loads(pipeline.cli("audit", "--json", check=0).stdout) if e["action"] == "catalog_forget"]
    assert entry["target"] == "staging.doubled"
    assert entry["details"]["versions"][0] == {"version": version, "status": "current", "step": "double", "rows": 10,
                                               "bytes": entry["details"]["versions"][0]["bytes"]}
    assert pipeline.cli("run", check=0).returncode == 0  # the pipeline without it runs on

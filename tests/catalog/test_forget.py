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


QUARANTINING = """
name: forgetting
steps:
  - {name: make, notebook: notebooks/make.ipynb}
  - {name: bad, notebook: notebooks/bad.ipynb}
"""


def test_forget_takes_a_dataset_with_a_quarantined_version_and_deletes_that_too(project: ProjectFactory) -> None:
    project.notebook("make", "x = 1", "import dataops_nb as dn\ndn.step().publish('raw.kept', 'select 1 as id')")
    project.notebook("bad", "nulls = 0", "import dataops_nb as dn\nstep = dn.step()\n"
                     "step.publish('staging.bad', f'select range as id, case when range < {nulls} then null "
                     "else range end as v from range(10)')\nstep.check('staging.bad').not_null('v')")
    project.spec(QUARANTINING)
    project.cli("run", check=0)
    assert project.cli("run", "-p", "bad.nulls=3").returncode == 1  # the second version is quarantined
    [(good,), (bad,)] = project.ledger_rows(
        "select version_id from dataset_versions where dataset = 'staging.bad' order by version_id")
    review = json.loads(project.cli("review", "--json", check=0).stdout)
    assert [q["version"] for q in review["quarantined"]] == [bad]

    project.spec(QUARANTINING.replace("  - {name: bad, notebook: notebooks/bad.ipynb}\n", ""))
    forgot = project.cli("catalog", "forget", "staging.bad", check=0).stdout
    assert forgot.startswith("Forgot staging.bad: 2 version(s) deleted")
    assert project.ledger_rows("select version_id, status from dataset_versions where dataset = 'staging.bad' "
                               "order by version_id") == [(good, "deleted"), (bad, "deleted")]
    assert not list((project.root / ".dataops" / "data" / "staging.bad").glob("*.parquet"))
    review = json.loads(project.cli("review", "--json", check=0).stdout)
    assert review["quarantined"] == [] and review["failures"] == []
    [entry] = [e for e in json.loads(project.cli("audit", "--json", check=0).stdout) if e["action"] == "catalog_forget"]
    assert {v["version"]: v["status"] for v in entry["details"]["versions"]} == {good: "current", bad: "quarantined"}
    assert _search(project) == {"raw.kept": "make"}
    # gc finds nothing left of it, and the rest of the pipeline runs on
    assert "staging.bad" not in project.cli("gc", "--dry-run", check=0).stdout
    project.cli("run", check=0)

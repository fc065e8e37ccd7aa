"""The step API run by hand (no runner): latest data in, scratch out, nothing a run sees."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def run_by_hand(project, code: str) -> subprocess.CompletedProcess[str]:
    """What a kernel in JupyterLab does: Python started in the notebooks folder, no context."""
    env = {k: v for k, v in os.environ.items() if k != "DATAOPS_CONTEXT"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=project.root / "notebooks",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_dev_context_reads_current_and_publishes_to_scratch(two_steps, monkeypatch):
    two_steps.cli("run", "--env", "test", check=0)
    monkeypatch.setenv("DATAOPS_ENV", "test")  # a kernel reads the environment it is told to
    before = two_steps.ledger_rows("select version_id, status from dataset_versions order by 1")
    result = run_by_hand(
        two_steps,
        """
        import dataops_nb as dn
        step = dn.step()
        print(repr(step))
        print(step.sql("select count(*) from raw.numbers").fetchall()[0][0])
        df = step.read("staging.doubled")
        out = step.publish("staging.doubled", df.head(2))
        print(out.rows, out.path)
        print(step.sql("select count(*) from staging.doubled").fetchall()[0][0])
        """,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "dev" in lines[0]
    assert lines[1] == "5"
    assert lines[2].startswith("2 ") and "/.dataops/scratch/staging.doubled.parquet" in lines[2]
    assert lines[3] == "2"  # the step sees its own scratch output
    assert two_steps.ledger_rows("select version_id, status from dataset_versions order by 1") == before
    # a later run does not see the scratch version
    assert run_by_hand(two_steps, "import dataops_nb as dn; print(dn.read('staging.doubled').height)").stdout.strip() == "5"


def test_bad_dataset_names_are_rejected_before_sql(two_steps):
    result = run_by_hand(
        two_steps,
        """
        import dataops_nb as dn
        from dataops_nb.errors import DatasetNameError
        step = dn.step()
        for bad in ["x; drop table y", "Staging.Flights", "flights", "a.b.c", "raw.flights--"]:
            try:
                step.publish(bad, "select 1")
            except DatasetNameError as exc:
                print("refused", bad)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("refused") == 5
    assert not (two_steps.root / ".dataops").exists() or not list((two_steps.root / ".dataops").rglob("*.parquet"))


@pytest.mark.parametrize("kind", ["polars", "lazy", "arrow", "pandas", "relation", "sql"])
def test_publish_accepts_every_frame_kind(project, kind):
    project.spec("name: kinds\n")
    make = {
        "polars": "pl.DataFrame({'a': [1, 2, 3]})",
        "lazy": "pl.DataFrame({'a': [1, 2, 3]}).lazy()",
        "arrow": "pa.table({'a': [1, 2, 3]})",
        "pandas": "pd.DataFrame({'a': [1, 2, 3]})",
        "relation": "step.sql('select unnest([1, 2, 3]) as a')",
        "sql": "'select unnest([1, 2, 3]) as a'",
    }[kind]
    result = run_by_hand(
        project,
        f"""
        import polars as pl, pyarrow as pa, pandas as pd
        import dataops_nb as dn
        step = dn.step()
        out = step.publish("staging.kinds", {make})
        print(out.rows, [c["name"] for c in out.schema])
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 ['a']"

"""A step imports the project's own modules from beside its notebook or from the project root."""

from __future__ import annotations

import json


def test_a_module_at_the_project_root_is_importable_from_notebooks(project):
    (project.root / "helpers.py").write_text("FACTOR = 3\n")
    project.spec(
        """
        name: modules
        steps:
          - name: use
            notebook: notebooks/use.ipynb
        """
    )
    project.notebook(
        "use",
        "",
        """
        import helpers
        import dataops_nb as dn
        dn.step().publish("raw.factor", f"select {helpers.FACTOR} as f")
        """,
    )
    project.cli("run", check=0)
    assert project.ledger_rows("select rows from dataset_versions where status = 'current'") == [(1,)]
    # the module is part of the step's fingerprint: editing it makes the step stale
    (project.root / "helpers.py").write_text("FACTOR = 4\n")
    [row] = json.loads(project.cli("plan", "--json", check=0).stdout)
    assert row["reasons"] == ["module changed: helpers.py"]

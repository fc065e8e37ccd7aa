"""Dataset names resolve as DuckDB resolves them: `Raw.Companies` is raw.companies everywhere."""

from __future__ import annotations

import json


def test_a_mixed_case_join_gives_lineage_and_freshness(project):
    project.spec(
        """
        name: names
        steps:
          - name: ingest
            notebook: notebooks/ingest.ipynb
          - name: summary
            notebook: notebooks/summary.ipynb
            needs: [ingest]
        """
    )
    project.notebook("ingest", "", 'import dataops_nb as dn\ndn.step().publish("raw.companies", "select 1 as id")')
    project.notebook(
        "summary",
        "",
        'import dataops_nb as dn\n'
        'dn.step().publish("marts.symbol_summary", '
        '"select c.id from (select 1 as id) s join Raw.Companies c on c.id = s.id")',
    )
    project.cli("run", check=0)
    assert project.cli("lint").returncode == 0  # no NB105/NB106 for the mixed-case name
    graph = json.loads(project.cli("lineage", "raw.companies", "--downstream", "--format", "json", check=0).stdout)
    assert "marts.symbol_summary" in {n["name"] for n in graph["nodes"]}
    [(version,)] = project.ledger_rows("select version_id from dataset_versions where dataset = 'raw.companies'")
    project.cli("review", "quarantine", version, "-m", "bad load", check=0)
    [summary] = [r for r in json.loads(project.cli("plan", "--json", check=0).stdout) if r["step"] == "summary"]
    assert summary["reasons"] and summary["reasons"][0] == "input changed: raw.companies"

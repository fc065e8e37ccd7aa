"""A gated project: one step publishing staging.t with declared and notebook checks, one reading it."""

from __future__ import annotations

import json

import pytest

SPEC = """
name: gate
steps:
  - {name: make, notebook: notebooks/make.ipynb}
  - {name: after, notebook: notebooks/after.ipynb, needs: [make]}
datasets:
  staging.t:
    owner: tests
    columns:
      id: {checks: [not_null, unique]}
      name: {checks: [{not_null: {severity: warn}}], tags: [pii]}
      carrier: {}
    checks:
      - row_count: {min: 10}
      - sql: {query: "select * from {this} where id < 0"}
"""

MAKE = """
import dataops_nb as dn
step = dn.step()
q = "select range as id, case when range % 10 = 0 then null else 'person' || range end as name, 'AA' as carrier from range(100)"
if dup:
    q += " union all select 5, 'dupe', 'ZZ'"
step.publish("staging.t", q)
step.check("staging.t").accepted_values("carrier", ["AA", "UA"], severity="warn")
"""


@pytest.fixture
def gated(project):
    project.notebook("make", "dup = False", MAKE)
    project.notebook("after", "x = 1", "import dataops_nb as dn\nprint(dn.step().read('staging.t').height)")
    project.spec(SPEC)
    return project


def cli_json(project, *args):
    return json.loads(project.cli(*args, "--json", check=0).stdout)

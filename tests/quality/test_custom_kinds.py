"""A project's own check kind, installed as a package with a `dataops_nb.checks` entry point: found
by real entry point discovery in the CLI and in the step's kernel, in the spec's JSON Schema, run
in the fused scan and judged like the kit's own kinds."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

PLUGIN = '''
from pydantic import BaseModel, ConfigDict

from dataops_nb.quality.kind import CheckKind, ident


class Positive(CheckKind):
    """Amounts above zero (or zero too, unless strict)."""

    name = "positive"
    on_column = True
    description = "Every value is above zero (at or above, with strict: false)."

    class Arguments(BaseModel):
        model_config = ConfigDict(extra="forbid")
        strict: bool = True

    def predicate(self, check, refs):
        return f"{ident(check.column)} {'<=' if check.args.get('strict', True) else '<'} 0"
'''

SPEC = """
name: custom
steps:
  - {name: load, notebook: notebooks/load.ipynb}
datasets:
  staging.payments:
    columns:
      id: {checks: [unique]}
      amount: {checks: [positive]}
    checks:
      - positive: {column: amount, strict: false, name: no_refunds, severity: warn}
"""

LOAD = """
import dataops_nb as dn
step = dn.step()
step.publish("staging.payments", "select range as id, range - 2 as amount from range(20)")
step.check("staging.payments").add("positive", "id", strict=False)
"""


@pytest.fixture
def plugin_env(tmp_path):
    """An installed distribution on sys.path: a module and its dist-info with an entry point."""
    site = tmp_path / "site"
    info = site / "acme_checks-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "acme_checks.py").write_text(textwrap.dedent(PLUGIN))
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dataops_nb.checks]\npositive = acme_checks:Positive\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def custom(project):
    project.notebook("load", "x = 1", LOAD)
    project.spec(SPEC)
    return project


def test_a_custom_check_kind_runs_end_to_end(custom, plugin_env):
    ran = custom.cli("run", env=plugin_env)
    assert ran.returncode == 1, ran.stderr
    # strict: amounts -2, -1 and 0 fail; not strict (warn): -2 and -1; the notebook's on id: none
    assert "quality checks failed, versions quarantined: positive(amount): error, 3 failing row(s)" in ran.stderr
    rows = {r[0]: r[1:] for r in custom.ledger_rows("select check_name, status, failing, origin, sample from check_results")}
    assert rows["positive(amount)"][:3] == ("error", 3, "spec")
    assert sorted(r["amount"] for r in json.loads(rows["positive(amount)"][3])) == [-2, -1, 0]
    assert rows["no_refunds"][:3] == ("warn", 2, "spec")
    assert rows["positive(id)"][:3] == ("pass", 0, "notebook")
    assert rows["unique(id)"][:2] == ("pass", 0)

    review = json.loads(custom.cli("review", "--json", env=plugin_env, check=0).stdout)
    assert {(f["check"], f["status"]) for f in review["failures"]} == {("positive(amount)", "error"), ("no_refunds", "warn")}

    schema = json.loads(custom.cli("schema", env=plugin_env, check=0).stdout)
    assert schema["$defs"]["PositiveCheck"]["properties"]["strict"]["type"] == "boolean"
    assert schema["$defs"]["PositiveCheck"]["description"].startswith("Every value is above zero")
    kinds = [next(iter(option["properties"])) for option in schema["$defs"]["Dataset"]["properties"]["checks"]["items"]["anyOf"][1:]]
    assert "positive" in kinds and "not_null" in kinds


def test_a_custom_kinds_arguments_are_checked_when_the_spec_loads(custom, plugin_env):
    custom.spec(SPEC.replace("strict: false", "strictly: false"))
    bad = custom.cli("run", env=plugin_env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "check 'positive' has no argument 'strictly' (did you mean 'strict'?)" in bad.stderr
    assert "at 'datasets.staging.payments.checks[0].positive.strictly'" in bad.stderr
    custom.spec(SPEC.replace("strict: false", "strict: sometimes"))
    assert "check 'positive' argument 'strict' must be " in custom.cli("check", env=plugin_env).stderr

    custom.spec(SPEC)
    missing = custom.cli("run")  # the package is not installed here
    assert missing.returncode == 2 and "unknown check type 'positive'" in missing.stderr
    assert not (custom.root / ".dataops" / "runs").exists()

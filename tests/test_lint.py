"""`dataops-nb lint`: what it finds in real notebook files, where, and its exit codes."""

from __future__ import annotations

import json

from .conftest import TWO_STEPS, make_two_steps

SPEC = """
name: linted
environments:
  test: {params: {rows: 5}}
steps:
  - {name: make, notebook: notebooks/make.ipynb}
  - {name: double, notebook: notebooks/double.ipynb, params: {factor: 3, scale: 2}}
  - {name: again, notebook: notebooks/again.ipynb, needs: [make]}
datasets:
  raw.numbers: {description: Numbers, owner: tests}
"""

def messy(project):
    project.notebook(
        "make", "n = 10\nimport os",
        'import dataops_nb as dn\nstep = dn.step()\nstep.publish("raw.numbers", f"select range as i from range({n})")\n'
        'step.publish("raw.extra", "select 1 as x")',
        'api_key = "sk-live-1234"\nsource = "/home/alice/numbers.csv"',
    )
    project.notebook(
        "double", "factor = 2",
        'import zipfile\nimport dataops_nb as dn\nstep = dn.step()\n'
        'df = dn.read("raw.numbers")\n'
        'zipfile.ZipFile("x.zip").read("flights.csv")\n'
        'step.publish("staging.doubled", step.sql("select i * 2 as j from raw.numbers"))',
    )
    again = project.notebook("again", "x = 1", 'import dataops_nb as dn\ndn.step().publish("raw.numbers", "select 2 as i")')
    nb = json.loads(again.read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["published\n"]}]
    nb["cells"][0]["metadata"]["tags"] = []  # the parameters tag went missing
    again.write_text(json.dumps(nb))
    project.spec(SPEC)
    return project


def test_lint_finds_each_problem_where_it_is(project):
    messy(project)
    before = project.snapshot()
    result = project.cli("lint", check=1)
    lines = result.stdout.splitlines()
    assert any(line.startswith("notebooks/again.ipynb: NB101 error: Notebook notebooks/again.ipynb has no cell "
                               "tagged 'parameters'") for line in lines)
    assert "notebooks/again.ipynb:cell 2: NB104 warn: the cell has outputs: run `dataops-nb strip` before committing" in lines
    assert ("notebooks/again.ipynb:cell 2:2: NB107 error: raw.numbers is also published by step 'make'" in lines
            or "notebooks/make.ipynb:cell 2:3: NB107 error: raw.numbers is also published by step 'again'" in lines)
    # double reads raw.numbers (through dn.read and through SQL) but does not need make
    assert ("notebooks/double.ipynb:cell 2:4: NB105 error: raw.numbers is published by step 'make', which is not "
            "among the needs of 'double': add it, or the steps may run in either order") in lines
    assert not any("flights.csv" in line for line in lines)  # a zip member is not a dataset
    assert "notebooks/make.ipynb:cell 1:2: NB103 warn" in result.stdout
    assert "notebooks/make.ipynb:cell 2:4: NB108 warn: raw.extra has no entry under datasets:" in result.stdout
    assert "notebooks/make.ipynb:cell 3:1: NB109 warn: 'api_key' is set to a literal" in result.stdout
    assert "notebooks/make.ipynb:cell 3:2: NB110 warn: '/home/alice/numbers.csv' is an absolute path" in result.stdout
    # spec parameters that no notebook defines, at their line in dataops.yaml
    assert ("dataops.yaml:6: NB102 error: steps[double].params: parameter 'scale' of step 'double' "
            "is not defined in the parameters cell of notebooks/double.ipynb") in result.stdout
    assert "dataops.yaml:3: NB102 error: environments.test.params: no step notebook defines parameter 'rows'." in lines
    assert result.stderr.strip().startswith("Error: lint:") and "Traceback" not in result.stderr
    assert project.snapshot() == before  # nothing is run or written

    findings = json.loads(project.cli("lint", "--json", check=1).stdout)
    assert {f["code"] for f in findings} == {"NB101", "NB102", "NB103", "NB104", "NB105", "NB107", "NB108", "NB109",
                                              "NB110"}
    assert all(set(f) == {"path", "cell", "line", "code", "severity", "message"} for f in findings)


def test_a_clean_pipeline_has_no_findings_and_warnings_fail_only_when_strict(project):
    two_steps = make_two_steps(project, TWO_STEPS + "  staging.doubled: {description: Doubled, owner: tests}\n")
    clean = two_steps.cli("lint", check=0)
    assert clean.stdout.strip() == "No findings."
    nb = two_steps.root / "notebooks" / "make.ipynb"
    data = json.loads(nb.read_text())
    data["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    nb.write_text(json.dumps(data))
    warned = two_steps.cli("lint", check=0)
    assert "NB104 warn" in warned.stdout
    two_steps.cli("lint", "--strict", check=1)
    two_steps.cli("strip", check=0)
    assert two_steps.cli("lint", "--strict", check=0).stdout.strip() == "No findings."


def test_a_missing_or_broken_notebook_is_a_finding_not_a_crash(two_steps):
    (two_steps.root / "notebooks" / "double.ipynb").unlink()
    missing = two_steps.cli("lint", check=1)
    assert ("notebooks/double.ipynb: NB100 error: dataops.yaml:8: steps[double].notebook: notebooks/double.ipynb "
            "does not exist.") in missing.stdout.splitlines()
    (two_steps.root / "notebooks" / "double.ipynb").write_text("[]")
    broken = two_steps.cli("lint", check=1)
    assert "NB100 error: Notebook notebooks/double.ipynb is not a readable .ipynb file" in broken.stdout
    assert "Traceback" not in missing.stderr + broken.stderr
    run = two_steps.cli("run", check=2)  # the same file stops a run before anything starts, in one sentence
    assert "is not a readable .ipynb file" in run.stderr and "Traceback" not in run.stderr


def test_lint_names_a_secret_the_ci_workflow_does_not_pass(project):
    from dataops_nb.scaffold import CI_WORKFLOW

    project.notebook("fetch", "rows = 1", 'import dataops_nb as dn\nprint(len(dn.step().secret("token")))')
    project.spec("""
        name: ci
        steps:
          - {name: fetch, notebook: notebooks/fetch.ipynb, params: {token: {secret: FETCH_TOKEN}}}
        """)
    workflow = project.root / ".github" / "workflows" / "dataops.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(CI_WORKFLOW)  # as init writes it
    env_line = next(i for i, line in enumerate(CI_WORKFLOW.splitlines(), 1) if line.strip().startswith("env:"))

    result = project.cli("lint", check=0)
    assert (f".github/workflows/dataops.yml:{env_line}: NB113 warn: job 'notebooks' runs dataops-nb without "
            "FETCH_TOKEN, which step 'fetch' reads as a secret: add `FETCH_TOKEN: ${{ secrets.FETCH_TOKEN }}` "
            "under its env:") in result.stdout
    assert project.cli("lint", "--strict").returncode == 1

    workflow.write_text(CI_WORKFLOW.replace("      DATAOPS_USER: ci\n",
                                            "      DATAOPS_USER: ci\n      FETCH_TOKEN: ${{ secrets.FETCH_TOKEN }}\n"))
    assert project.cli("lint", "--strict", check=0).stdout.strip() == "No findings."

"""Slim CI: a commit's changed steps (and their dependents) run into an environment of their own,
the rest is read from the base; the summary says what ran and why, how the data changed and which
code cells changed; a merge promotes what CI built, or runs normally when the files differ."""

from __future__ import annotations

import json
import subprocess

import pytest

from .test_cli import assert_clean_refusal

A = """
import dataops_nb as dn
step = dn.step()
step.publish("raw.a", f"select range as i from range({n})")
"""
B = """
import dataops_nb as dn
step = dn.step()
step.publish("staging.b", step.sql(f"select i, i * {k} as j from raw.a"))
"""
C = """
import dataops_nb as dn
step = dn.step()
step.publish("marts.c", step.sql("select count(*) as n, sum(j) as s from staging.b"))
"""
SPEC = """
name: tri
environments:
  test: {params: {n: 4}}
steps:
  - {name: a, notebook: notebooks/a.ipynb}
  - {name: b, notebook: notebooks/b.ipynb, needs: [a]}
  - {name: c, notebook: notebooks/c.ipynb, needs: [b]}
datasets:
  staging.b:
    key: [i]
    checks: [{unique: {column: i}}]
"""


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin"}).stdout.strip()


def js(project, *args, check=0, env=None):
    return json.loads(project.cli("--json", *args, check=check, env=env).stdout)


def pointers(project, env):
    return dict(project.ledger_rows(
        f"select dataset, version_id from current_versions where environment = '{env}' order by dataset"))


def edit(project, name, old, new):
    path = project.root / "notebooks" / f"{name}.ipynb"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def make_chain(project):
    project.notebook("a", "n = 10", A)
    project.notebook("b", "k = 2", B)
    project.notebook("c", "", C)
    project.spec(SPEC)
    (project.root / ".gitignore").write_text(".dataops/\n")
    return project


@pytest.fixture
def chain(project):
    """a -> b -> c in a git repository on `main`, built in prod; then on branch `feature`."""
    make_chain(project)
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "pipeline")
    project.cli("run", "-q", check=0)
    git(project.root, "checkout", "-qb", "feature")
    return project


def runs(project):
    return [r for (r,) in project.ledger_rows("select run_id from runs order by run_id")]


@pytest.mark.slow
@pytest.mark.usefixtures("ledger_backend")
def test_ci_runs_the_changed_step_and_its_dependents_defers_the_rest_and_a_merge_promotes_it(chain, tmp_path):
    prod = pointers(chain, "prod")
    edit(chain, "b", "i * {k} as j", "i * {k} + 1 as j")
    git(chain.root, "commit", "-qam", "b adds one")
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")

    result = js(chain, "ci", "--summary", "ci.md", env={"GITHUB_STEP_SUMMARY": str(step_summary)})

    assert result["environment"] == "ci-feature" and result["base"] == "prod" and not result["failed"]
    assert [(r["step"], r["reasons"], r["parts"], r["status"]) for r in result["ran"]] == [
        ("b", ["code changed"], ["code"], "success"), ("c", ["upstream 'b' changed"], ["upstream"], "success")]
    assert result["deferred"] == ["a"]
    assert result["commit"] == git(chain.root, "rev-parse", "HEAD")
    # the run executed b and c only; a was read from prod
    assert sorted(s for (s,) in chain.ledger_rows(
        f"select step from step_runs where run_id = '{result['run_id']}'")) == ["b", "c"]
    mine = pointers(chain, "ci-feature")
    assert set(mine) == {"staging.b", "marts.c"} and pointers(chain, "prod") == prod
    assert chain.ledger_rows(f"select input_version_id from lineage where version_id = '{mine['staging.b']}'") == [
        (prod["raw.a"],)]
    assert {(c["dataset"], c["check"], c["status"]) for c in result["checks"]} >= {("staging.b", "unique(i)", "pass")}

    summary = (chain.root / "ci.md").read_text()
    assert summary == result["summary"]
    assert "| b | success | code changed | code |" in summary
    assert "| c | success | upstream 'b' changed | upstream |" in summary
    assert "### Steps deferred to `prod`\n\n`a`" in summary
    # the keyed data diff against prod: all 10 rows of staging.b changed in column j
    assert "| staging.b | 10 | 10 | 0 | 0 | 10 |" in summary and "j (10)" in summary
    # the changed code cell, against the notebook at the commit prod was built from
    built_from = git(chain.root, "rev-parse", "main")[:10]
    assert f"1 code cell(s) changed against commit {built_from}" in summary
    assert '-step.publish("staging.b", step.sql(f"select i, i * {k} as j from raw.a"))' in summary
    assert '+step.publish("staging.b", step.sql(f"select i, i * {k} + 1 as j from raw.a"))' in summary
    assert step_summary.read_text() == "earlier step\n\n" + summary

    # merged as it was tested: prod gets ci-feature's versions, nothing is recomputed
    before = runs(chain)
    git(chain.root, "checkout", "-q", "main")
    git(chain.root, "merge", "-q", "--ff-only", "feature")
    merged = js(chain, "promote", "ci-feature", "--merged", "HEAD")
    assert merged["action"] == "promote" and runs(chain) == before
    assert pointers(chain, "prod") == {**prod, **mine}


@pytest.mark.slow
def test_a_merge_whose_files_differ_from_what_ci_built_runs_the_pipeline_instead(chain):
    edit(chain, "b", "i * {k} as j", "i * {k} + 1 as j")
    git(chain.root, "commit", "-qam", "b adds one")
    tested = js(chain, "ci")
    git(chain.root, "checkout", "-q", "main")
    git(chain.root, "merge", "-q", "--no-ff", "-m", "merge", "feature")
    edit(chain, "c", "count(*) as n", "count(*) + 0 as n")
    git(chain.root, "commit", "-qam", "main moved on")

    merged = js(chain, "promote", "ci-feature", "--merged", "HEAD")

    assert merged["action"] == "run" and "whose files differ" in merged["why"]
    assert merged["status"] == "success" and merged["run_id"] != tested["run_id"]
    prod, mine = pointers(chain, "prod"), pointers(chain, "ci-feature")
    assert prod["staging.b"] != mine["staging.b"]  # built again in prod, not promoted
    assert sorted(s for (s, status) in chain.ledger_rows(
        f"select step, status from step_runs where run_id = '{merged['run_id']}'") if status == "success") == ["b", "c"]


@pytest.mark.slow
def test_ci_names_each_fingerprint_part_that_changed_and_a_second_ci_starts_from_the_base(chain):
    (chain.root / "notebooks" / "helpers.py").write_text("OFFSET = 0\n")
    edit(chain, "a", "import dataops_nb as dn", "import dataops_nb as dn\\nimport helpers")
    git(chain.root, "add", "-A")
    git(chain.root, "commit", "-qm", "a imports helpers")
    first = js(chain, "ci")
    assert [r["step"] for r in first["ran"]] == ["a", "b", "c"] and "code" in first["ran"][0]["parts"]
    assert "local modules" in first["ran"][0]["parts"]

    # a's code back as prod has it; b gets a new parameter: ci starts again from prod
    edit(chain, "a", "import dataops_nb as dn\\nimport helpers", "import dataops_nb as dn")
    spec = (chain.root / "dataops.yaml").read_text()
    (chain.root / "dataops.yaml").write_text(spec.replace("needs: [a]}", "needs: [a], params: {k: 3}}"))
    git(chain.root, "commit", "-qam", "b triples")
    second = js(chain, "ci")
    assert [(r["step"], r["parts"]) for r in second["ran"]] == [("b", ["parameters"]), ("c", ["upstream"])]
    assert second["deferred"] == ["a"] and second["reset"] == ["marts.c", "raw.a", "staging.b"]
    assert set(pointers(chain, "ci-feature")) == {"staging.b", "marts.c"}  # raw.a is prod's again
    assert second["notebooks"] == []  # no notebook's code changed
    assert "No notebook's code changed." in second["summary"]


@pytest.mark.slow
def test_ci_with_nothing_changed_runs_nothing_and_a_failed_check_exits_1(chain):
    quiet = js(chain, "ci")
    assert quiet["ran"] == [] and quiet["run_id"] is None and quiet["deferred"] == ["a", "b", "c"]
    assert "None: every step's fingerprint matches what is current in `prod`." in quiet["summary"]

    edit(chain, "b", "from raw.a", "from raw.a union all select 0, 0")  # a duplicate key: unique(i) fails
    git(chain.root, "commit", "-qam", "duplicate")
    failed = chain.cli("ci", "--summary", "ci.md")
    assert failed.returncode == 1, failed.stderr
    assert "error check" in failed.stderr and "Traceback" not in failed.stderr
    summary = (chain.root / "ci.md").read_text()
    assert "**Result: failed.**" in summary and "| staging.b | unique(i) | error | error |" in summary
    assert "staging.b" not in pointers(chain, "ci-feature")  # quarantined: current nowhere


@pytest.mark.slow
def test_ci_runs_the_nbval_tests_of_a_changed_notebook_with_golden_cells(chain):
    cells = json.loads((chain.root / "notebooks" / "c.ipynb").read_text())
    golden = {"cell_type": "code", "execution_count": None, "id": "golden", "metadata": {}, "outputs": [],
              "source": "# NBVAL_CHECK_OUTPUT\nprint(step.sql('select count(*) from staging.b').fetchall())"}
    cells["cells"].append(golden)
    (chain.root / "notebooks" / "c.ipynb").write_text(json.dumps(cells))
    chain.cli("test", "--record", check=0)
    git(chain.root, "commit", "-qam", "c has a golden cell")
    passed = js(chain, "ci")
    assert {t["step"]: t["result"] for t in passed["tests"]["notebooks"]}["c"] == "passed"

    edit(chain, "b", "from raw.a", "from raw.a where i > 0")  # c's golden count changes: 4 -> 3 test rows
    git(chain.root, "commit", "-qam", "b drops a row")
    failed = chain.cli("--json", "ci")
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["tests"]["failed"] == ["c"] and "nbval failed for c" in failed.stderr
    assert "| c | notebooks/c.ipynb | failed" in result["summary"]


@pytest.mark.slow
def test_code_cells_are_compared_with_the_executed_notebook_when_the_base_recorded_no_commit(project):
    make_chain(project)
    project.cli("run", "-q", check=0)  # before the repository exists: the run has no commit
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "pipeline")
    edit(project, "c", "count(*) as n", "count(*) as rows_seen")
    git(project.root, "commit", "-qam", "rename")

    result = js(project, "ci")
    (nb,) = result["notebooks"]
    assert nb["against"].startswith("the executed notebook of run ") and nb["cells"] == 1
    assert "+step.publish(\"marts.c\", step.sql(\"select count(*) as rows_seen" in nb["diff"]

    for executed in (project.root / ".dataops" / "runs").glob("*/c.ipynb"):
        executed.unlink()
    again = js(project, "ci")
    (nb,) = again["notebooks"]
    assert nb["against"] is None and nb["note"].startswith("not recorded: run ") and "no git commit" in nb["note"]
    assert "records its commit" in again["summary"]


def test_bad_input_is_one_sentence_exit_2_and_changes_nothing(project):
    make_chain(project)
    project.cli("run", "-q", check=0)
    before = project.snapshot()
    outside = project.cli("ci")
    assert_clean_refusal(outside, "not inside a git repository")
    assert project.snapshot() == before

    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "pipeline")
    before = project.snapshot()
    assert_clean_refusal(project.cli("ci", "--base", "nope"), "Unknown environment 'nope'")
    assert_clean_refusal(project.cli("ci", "--env", "prod"), "an environment of its own")
    assert_clean_refusal(project.cli("ci", "--env", "bad name"), "not an environment name")
    assert_clean_refusal(project.cli("promote", "prod", "--merged", "nosuchrev"), "not a commit")
    assert project.snapshot() == before


def test_the_workflow_init_writes_runs_ci_on_pull_requests_and_promotes_on_merge():
    import yaml

    from dataops_nb.scaffold import CI_WORKFLOW

    workflow = yaml.safe_load(CI_WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request"} and "closed" in triggers["pull_request"]["types"]
    jobs = workflow["jobs"]
    runs_of = {name: [s.get("run", "") for s in job["steps"]] for name, job in jobs.items()}
    assert any(r.startswith("dataops-nb ci --base prod --env ci-pr-${{ github.event.pull_request.number }}")
               for r in runs_of["notebooks"])
    assert "github.event.action != 'closed'" in jobs["notebooks"]["if"]
    assert "github.event.pull_request.merged" in jobs["promote"]["if"]
    assert runs_of["promote"][-1] == ("dataops-nb promote ci-pr-${{ github.event.pull_request.number }} --to prod "
                                      "--merged HEAD")
    checkout = jobs["promote"]["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.merge_commit_sha }}"


@pytest.mark.slow
@pytest.mark.parametrize("named", ["--base", "spec"])
def test_ci_against_another_base_compares_with_its_runs_and_reads_from_it(project, named):
    make_chain(project)
    if named == "spec":  # the CI environment's base: in dataops.yaml, no --base
        project.spec(SPEC.replace("  test: {params: {n: 4}}", "  test: {params: {n: 4}}\n  ci-t: {base: test}"))
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "pipeline")
    project.cli("run", "-q", "--env", "test", check=0)  # test: n = 4 rows, its own overlay
    edit(project, "b", "i * {k} as j", "i * {k} + 1 as j")
    git(project.root, "commit", "-qam", "b adds one")

    result = js(project, "ci", *(["--base", "test"] if named == "--base" else []), "--env", "ci-t")

    # a is deferred: with test's parameters its fingerprint is test's run's
    assert [r["step"] for r in result["ran"]] == ["b", "c"] and result["deferred"] == ["a"]
    mine, theirs = pointers(project, "ci-t"), pointers(project, "test")
    assert set(mine) == {"staging.b", "marts.c"} and pointers(project, "prod") == {}
    assert project.ledger_rows(f"select input_version_id from lineage where version_id = '{mine['staging.b']}'") == [
        (theirs["raw.a"],)]
    assert "| staging.b | 4 | 4 | 0 | 0 | 4 |" in result["summary"] and result["base"] == "test"

"""`dataops-nb ci`: run what a commit changes into its own environment, defer the rest to the base.

Nothing is written before every input is known good (a git repository, a known base, a valid CI
environment, notebooks and parameters that plan). Then the CI environment is reset to "nothing of
its own" (an earlier CI build of the same branch no longer counts), the differing steps and their
dependents run into it (forced: the comparison was made with the base, not with the CI
environment's own history), their checks and notebook tests run, and what was tested (commit,
tree, steps) goes to the audit log, where a merge finds it.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import audit
from ..errors import DataOpsError
from ..project import Project
from ..runner.run import Reporter, RunRequest, plan
from . import git
from .changes import StepChange, compare


def prepare_environment(project: Project, base: str | None, env: str | None) -> tuple[str, str, str | None]:
    """(CI environment, base, the environment whose parameters apply), validated: bad input raises
    before anything is written. The base is `base`, else the CI environment's `base:` in the spec, else
    the default environment; in this process the CI environment reads from it."""
    from ..environments import require_known
    from ..spec import Environment

    git.require_repository(project.root)
    env = project.environment(env or git.environment_name(project.root))
    declared = project.spec.environments.get(env)
    base = require_known(project, project.environment(base or (declared.base if declared else None)))
    if env in project.spec.environment_chain(base):
        raise DataOpsError(f"ci builds into an environment of its own, but '{env}' is '{base}' or one it reads "
                           "from: name another with --env.")
    if project.spec.base_of(env) != base:
        changed = declared.model_copy(update={"base": base}) if declared else Environment(base=base)
        project.spec = project.spec.model_copy(update={"environments": {**project.spec.environments, env: changed}})
    # a CI environment without parameters of its own has the base's: its fingerprints compare with the base's runs
    return env, base, env if declared is not None and declared.params else base


def run_ci(project: Project, *, base: str | None = None, env: str | None = None, jobs: int | None = None,
           summary_file: Path | None = None, report: Reporter | None = None, test_env: str = "test") -> dict[str, Any]:
    from ..runner.run import Runner

    env, base, params_of = prepare_environment(project, base, env)
    request = RunRequest(env=env, overlay=params_of, jobs=jobs or os.cpu_count() or 1, force=True)
    changes = compare(project, plan(project, request), base)
    ran = [c for c in changes if c.differs]
    state = project.git_state()
    result: dict[str, Any] = {
        "environment": env, "base": base, "branch": git.branch(project.root),
        "commit": state["git_commit"], "dirty": bool(state["git_dirty"]), "tree": git.tree(project.root, "HEAD"),
        "run_id": None, "status": "nothing to run", "reset": _reset(project, env),
        "ran": [c.as_dict() for c in ran], "deferred": [c.step for c in changes if not c.differs],
        "checks": [], "tests": {"notebooks": []}, "diff": None, "diff_errors": {}, "notebooks": [],
    }
    problems: list[str] = []
    if ran:
        summary = Runner(project, replace(request, only=tuple(c.step for c in ran)), report).run()
        result["run_id"], result["status"] = summary.run_id, summary.status
        for item in result["ran"]:
            outcome = summary.steps.get(item["step"])
            item["status"] = outcome.status if outcome else "skipped"
            item["error"] = outcome.error if outcome and outcome.status != "success" else summary.skipped.get(item["step"])
        problems += [f"step '{i['step']}' {i['status']}." for i in result["ran"] if i["status"] != "success"]
        result["checks"] = _checks(project, summary.run_id)
        failing = [c for c in result["checks"] if c["status"] == "error"]
        if failing:
            problems.append(f"{len(failing)} error check(s) failed: "
                            + ", ".join(f"{c['dataset']} {c['check']}" for c in failing) + ".")
        result["tests"] = _notebook_tests(project, [c.step for c in ran], test_env, summary.run_id)
        if result["tests"].get("failed"):
            problems.append(f"nbval failed for {', '.join(result['tests']['failed'])}.")
        result["diff"], result["diff_errors"] = _diffs(project, base, env)
    result["notebooks"] = _notebooks(project, base, ran)
    result["failed"], result["problems"] = bool(problems), problems
    _record(project, result)
    from .summary import markdown

    result["summary"] = markdown(result)
    for path in filter(None, [summary_file, os.environ.get("GITHUB_STEP_SUMMARY")]):
        _append(Path(path), result["summary"], fresh=path == summary_file)
    result["summary_file"] = str(summary_file) if summary_file else None
    return result


def _reset(project: Project, env: str) -> list[str]:
    """The CI environment points at nothing of its own again (its versions from an earlier CI build
    of the same branch no longer shadow the base); the datasets it pointed at."""
    if not project.has_ledger() or not project.ledger.versions.pointers(env):
        return []
    from ..environments import drop_environment

    return sorted(drop_environment(project, env)["dropped"])


def _checks(project: Project, run_id: str) -> list[dict[str, Any]]:
    return [{"dataset": r["dataset"], "version": r["version_id"], "check": r["check_name"], "severity": r["severity"],
             "status": r["status"], "message": r["message"]} for r in project.ledger.checks.of_run(run_id)]


def _notebook_tests(project: Project, steps: list[str], env: str, run_id: str) -> dict[str, Any]:
    """nbval on the notebooks of `steps` that have golden cells (with the notebooks they need for
    data); a notebook without golden cells has nothing nbval compares, and its run was its test."""
    from ..nbtest import test_notebooks
    from ..notebooks import is_golden, read

    golden = [s for s in steps if any(is_golden(c) for c in read(project.notebook_path(project.spec.step(s)))["cells"])]
    rows = [{"step": s, "notebook": project.spec.step(s).notebook,
             "result": "no golden cells: its CI run was its test"} for s in steps if s not in golden]
    if not golden:
        return {"notebooks": rows, "note": "No changed notebook has golden cells (# NBVAL_CHECK_OUTPUT)."}
    run_dir = project.store.run_dir(run_id)
    junit, log = run_dir / "nbval.xml", run_dir / "nbval.log"
    code = test_notebooks(project, env=env, steps=golden, extra=["--junitxml", str(junit)], log=log)
    failures = _junit_failures(junit)
    failed = [s for s in golden if failures.get(s)] or (golden if code not in (0, 5) and not failures else [])
    rows += [{"step": s, "notebook": project.spec.step(s).notebook,
              "result": f"failed ({failures.get(s, 0) or 'see the log'} cell(s))" if s in failed else "passed"}
             for s in golden]
    order = {s: i for i, s in enumerate(steps)}
    return {"notebooks": sorted(rows, key=lambda r: order[r["step"]]), "failed": failed, "exit_code": code,
            "log": project.relative(log)}


def _junit_failures(path: Path) -> dict[str, int]:
    """Failed or erroring nbval cells per step, from pytest's JUnit XML (copies are named NN_step.ipynb)."""
    import xml.etree.ElementTree as ET

    if not path.is_file():
        return {}
    found: dict[str, int] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        match = re.search(r"\d{2,}_([A-Za-z0-9_-]+)\.ipynb", f"{case.get('classname', '')} {case.get('file', '')}")
        if match:
            found[match.group(1)] = found.get(match.group(1), 0) + 1
    return found


def _diffs(project: Project, base: str, env: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Every dataset the CI environment built, diffed against what the base has current."""
    from ..metadata.diff import dataset_diff, declared_key

    own = project.ledger.versions.pointers(env)
    mine = project.current_versions(env)
    theirs = project.current_versions(base)
    results, errors = [], {}
    for dataset in sorted(own):
        try:
            results.append(dataset_diff(project, dataset, theirs.get(dataset), mine.get(dataset),
                                        key=declared_key(project.spec, dataset)))
        except DataOpsError as exc:
            errors[dataset] = str(exc)
    for item in results:
        item.pop("sample", None)  # the summary travels (a pull request's page): no rows in it
    return {"a": base, "b": env, "differs": any(r["differs"] for r in results), "datasets": results}, errors


def _notebooks(project: Project, base: str, ran: list[StepChange]) -> list[dict[str, Any]]:
    """The changed code cells of every step whose code changed, or that the base never built."""
    from .cells import changed_cells

    chain = project.spec.environment_chain(base)
    last = project.ledger.runs.last_step_runs(chain, default=project.spec.default_environment) \
        if project.has_ledger() else {}
    found = []
    for change in ran:
        if "code" not in change.parts and not (change.step not in last and "base" in change.parts):
            continue
        row = last.get(change.step)
        run_row = project.ledger.run(row["run_id"]) if row is not None else None
        notebook = project.notebook_path(project.spec.step(change.step))
        found.append(changed_cells(project, change.step, notebook, row, run_row).as_dict())
    return found


def _record(project: Project, result: dict[str, Any]) -> None:
    """What was tested, for a merge to find: the commit and tree, the run, and each step's notebook."""
    ledger = project.writable_ledger()
    audit.record(ledger, audit.CI_TESTED, target=result["environment"], details={
        "base": result["base"], "branch": result["branch"], "commit": result["commit"], "dirty": result["dirty"],
        "tree": result["tree"], "run_id": result["run_id"], "failed": bool(result["problems"]),
        "ran": [i["step"] for i in result["ran"]], "deferred": result["deferred"], "reset": result["reset"],
    })


def _append(path: Path, text: str, *, fresh: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w" if fresh else "a", encoding="utf-8") as out:
        out.write(text if fresh else "\n" + text)

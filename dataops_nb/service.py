"""The one facade every interface calls: the CLI, the widgets, the server handlers.

Functions take a `Project` (or a directory) and return plain data (dicts and lists
that serialize to JSON as they are), or this module's own request and result models
(`RunOptions`, `RunResult`), so no interface imports the engine. Nothing here prints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataOpsError, NotFoundError
from .project import Project
from .runner.live import LiveState  # a running step's cell and output tail, as live_run gives it
from .scope import RunOptions

if TYPE_CHECKING:
    from .runner.run import Reporter, RunRequest


def open_project(directory: Path | str | None = None) -> Project:
    if directory is None:
        return Project.find()
    from .spec import find_project

    return Project(find_project(Path(directory)))


def init_project(directory: Path, *, name: str | None = None) -> list[str]:
    """A new project in `directory` that runs at once; the files written."""
    from .scaffold import init_project as scaffold

    return scaffold(directory, name=name)


# --- running -------------------------------------------------------------------------


@dataclass(frozen=True)
class StepProblem:
    step: str
    status: str
    notebook: str | None  # the executed notebook, relative to the project
    error: str | None


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str
    failures: list[StepProblem] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # step -> why
    warnings: dict[str, list[str]] = field(default_factory=dict)  # step -> warnings of its checks
    unchanged: dict[str, list[str]] = field(default_factory=dict)  # step -> datasets re-published as they were


def _request(project: Project, options: RunOptions | None) -> RunRequest:
    from .runner.params import parse_overrides
    from .runner.run import RunRequest, resume_request

    options = options or RunOptions()
    jobs = options.jobs or os.cpu_count() or 1
    if not options.resume:
        return RunRequest(overrides=parse_overrides(options.params), jobs=jobs, **options.scope())
    if options.params or options.only or options.start:
        raise DataOpsError("--resume takes the steps and parameters of the run it resumes; drop -p/--only/--from.")
    request = resume_request(project, options.resume, jobs=jobs)  # its own steps, environment and force
    return replace(request, executor=options.executor, dask_address=options.dask_address)


def run(project: Project, options: RunOptions | None = None, report: Reporter | None = None, *,
        wait: bool = True) -> RunResult:
    """Run the pipeline; `report` is told each step's progress."""
    from .runner.run import Runner

    summary = Runner(project, _request(project, options), report).run(wait_for_lock=wait)
    if project.spec.notify.rules and not project.spec.notify.report_url:
        _report_for_alerts(project, summary.run_id)
    from .metadata.pii import step_error

    failures = [  # printed where the run was started (a terminal, a CI log): PII for who may see it
        StepProblem(name, outcome.status, project.relative(outcome.output_notebook) if outcome.output_notebook else None,
                    step_error(project, None, summary.run_id, name, outcome.error))
        for name, outcome in summary.failures.items()
    ]
    return RunResult(summary.run_id, summary.status, failures, dict(summary.skipped), dict(summary.warnings),
                     dict(summary.unchanged))


def _report_for_alerts(project: Project, run_id: str) -> None:
    """The report file a run's notifications link to (when no `notify.report_url` serves reports)."""
    try:
        report(project, run_id)
    except DataOpsError:
        pass  # the run's outcome stands; the link then names a report to write with `dataops-nb report`


def plan_steps(project: Project, options: RunOptions | None = None) -> list[dict[str, Any]]:
    """Validate a run without executing anything."""
    from .runner.run import plan

    return [
        {"step": p.step.name, "notebook": project.relative(p.notebook), "parameters": p.parameters}
        for p in plan(project, _request(project, options))
    ]


# --- history -------------------------------------------------------------------------


def _step_dict(project: Project, row: Any, user: str | None,
               warnings: dict[tuple[str, str], int] | None = None) -> dict[str, Any]:
    from .metadata.pii import step_error

    return {
        "name": row["step"],
        "status": row["status"],
        "attempt": row["attempt"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "duration_s": row["duration_s"],
        "output_notebook": row["output_notebook"],
        "error": step_error(project, user, row["run_id"], row["step"], row["error"]),  # PII for who may see it
        "warnings": (warnings or {}).get((row["run_id"], row["step"]), 0),  # checks that ended `warn`
    }


def _run_dict(project: Project, row: Any, resumed_by: list[str] | None = None,
              user: str | None = None) -> dict[str, Any]:
    if resumed_by is None:
        resumed_by = project.ledger.runs.resumed_by(row["run_id"])
    unfinished = row["status"] in ("failed", "interrupted") and not resumed_by
    warnings = project.ledger.checks.warnings([row["run_id"]])
    steps = [_step_dict(project, step, user, warnings) for step in project.ledger.step_runs(row["run_id"])]
    return {
        "run_id": row["run_id"],
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "user": row["user"],
        "environment": row["environment"],
        "git_commit": row["git_commit"],
        "git_dirty": None if row["git_dirty"] is None else bool(row["git_dirty"]),
        "message": row["message"],
        "resumed_from": row["resumed_from"],
        "resumed_by": resumed_by,  # the link both ways: a resumed run stays failed
        "resume": f"dataops-nb run --resume {row['run_id']}" if unfinished else None,
        "selection": list(row["selection"] or []),
        "warnings": sum(step["warnings"] for step in steps),
        "steps": steps,
    }


def runs(project: Project, limit: int | None = None, *, user: str | None = None,
         env: str | None = None) -> list[dict[str, Any]]:
    """Run history, newest first (of environment `env` only, when given); step errors as `user`
    (default: the current one) may see them."""
    if not project.has_ledger():
        return []
    environment = project.environment(env) if env else None
    rows = project.ledger.runs.recent(limit, environment=environment, default=project.spec.default_environment)
    later: dict[str, list[str]] = {}  # a resuming run is newer than the one it resumes: listed too
    for row in reversed(rows):
        if row["resumed_from"]:
            later.setdefault(row["resumed_from"], []).append(row["run_id"])
    return [_run_dict(project, row, later.get(row["run_id"], []), user) for row in rows]


def show_run(project: Project, run_id: str, *, user: str | None = None) -> dict[str, Any]:
    if not project.has_ledger():
        raise NotFoundError("run", run_id)
    row = project.ledger.run(run_id)
    if row is None:
        known = [r["run_id"] for r in project.ledger.runs.recent(50)]
        raise NotFoundError("run", run_id, known)
    result = _run_dict(project, row, user=user)
    result["params"] = row.params
    result["packages"] = row.packages  # the kernel's package versions (what a replay compares)
    result["replay_of"] = row.replay_of
    result["datasets"] = [
        {"dataset": v.dataset, "version": v.version_id, "step": v.step, "rows": v.rows, "status": v.status}
        for v in project.ledger.versions_of_run(run_id)
    ]
    result["log"] = project.relative(project.store.run_dir(run_id) / "run.log")
    return result


def live_run(project: Project, run_id: str | None = None, *, user: str | None = None) -> dict[str, Any]:
    """A run as it goes (default: the latest): each step's status and, for a running step, the cell
    it is executing, since when, and the tail of its output, read from the notebook the step saves
    cell by cell. The tail is shown as the step's error is: PII values masked unless `user` may see
    them, withheld from a user who may not read what the step used."""
    from .access import may_read_step
    from .metadata.pii import WITHHELD, step_error
    from .runner.live import live_state

    run = show_run(project, run_id or latest_run_id(project), user=user)
    steps = []
    for step in run["steps"]:
        state = None
        if step["status"] == "running" and step["output_notebook"]:
            found = live_state(project.root / step["output_notebook"])
            if found is not None:
                state = found.as_dict()
                tail = state["output_tail"]
                if tail and not may_read_step(project, user, run["run_id"], step["name"]):
                    tail = WITHHELD
                state["output_tail"] = step_error(project, user, run["run_id"], step["name"], tail) or ""
        steps.append({"step": step["name"], "status": step["status"], "attempt": step["attempt"],
                      "started_at": step["started_at"], "duration_s": step["duration_s"],
                      "notebook": step["output_notebook"], "error": step["error"], "live": state})
    return {"run_id": run["run_id"], "status": run["status"], "started_at": run["started_at"],
            "ended_at": run["ended_at"], "environment": run["environment"], "steps": steps}


def report(project: Project, run_id: str | None = None, output: Path | None = None,
           user: str | None = None) -> dict[str, Any]:
    """One run as a single HTML file (default: .dataops/reports/RUN_ID.html): rows only of what
    `user` may read. A report travels (a CI artifact, an email; by default a file in the store):
    the PII values in it are masked whoever writes it."""
    from .generated import write_text
    from .metadata.pages import quality
    from .metadata.pii import NOBODY, hidden, mask_rows, step_error
    from .report import failures, render

    run = show_run(project, run_id or latest_run_id(project), user=user)
    for step in run["steps"]:
        step["error"] = step_error(project, NOBODY, run["run_id"], step["name"], step["error"])
    versions = [d["version"] for d in run["datasets"]]
    failed = failures(project.ledger, versions)
    for failure in failed:
        failure["sample"] = mask_rows(
            _sample_for(project, failure["dataset"], failure["version"], failure["sample"], user),
            hidden(project.spec, project.ledger, failure["dataset"], failure["version"], user=NOBODY))
        failure["message"] = _message_for(project, failure["dataset"], failure["version"], failure["message"], NOBODY)
    path = (output or project.store.root / "reports" / f"{run['run_id']}.html").resolve()
    checks = {version: quality(project.ledger, version) for version in versions}
    write_text(path, render(project, run, checks, failed, path, _report_notebooks(project, run, user)))
    _record_export(project, "report", project.relative(path), user=user, run_id=run["run_id"])
    return {"run_id": run["run_id"], "status": run["status"], "path": project.relative(path),
            "failures": len(failed)}


def _report_notebooks(project: Project, run: dict[str, Any], user: str | None) -> dict[str, tuple[str, str]]:
    """Each step's executed notebook as HTML for the report, or why it is not shown to `user`."""
    from .access import step_datasets, unreadable_for
    from .metadata.pii import hidden, step_texts
    from .report import notebook_html
    from .security import current_user

    shown: dict[str, tuple[str, str]] = {}
    reader = user or current_user()
    for step in run["steps"]:
        if not step["output_notebook"]:
            continue
        path = project.root / step["output_notebook"]
        denied = unreadable_for(project, reader, run["run_id"], step["name"])
        used = step_datasets(project, run["run_id"], step["name"])
        # a notebook shows its data unmasked (its source and outputs): embedded only for a reader
        # who would see every dataset it used unmasked; the link stays for the others
        masked = {name: sorted(hidden(project.spec, project.ledger, name, user=reader)) for name in used.datasets}
        masked = {name: columns for name, columns in sorted(masked.items()) if columns}
        if denied is not None:
            shown[step["name"]] = ("notice", f"not shown: {reader} may not read {denied}, which this step used.")
        elif masked or not used.complete:
            what = "; ".join(f"{name} ({', '.join(columns)})" for name, columns in masked.items())
            shown[step["name"]] = ("notice", f"not embedded for {reader}: it may show columns masked for them"
                                             + (f": {what}" if what else "") + ".")
        elif not path.is_file():
            shown[step["name"]] = ("notice", f"not shown: {step['output_notebook']} is missing.")
        else:
            # a report travels (a CI artifact, an email): PII values are masked even for who may see them
            body = notebook_html(path, lambda texts, step=step["name"]: step_texts(project, run["run_id"], step, texts))
            shown[step["name"]] = ("html", body) if body is not None else \
                ("notice", "not embedded: it may show personal data that could not be masked.")
    return shown


def _record_export(project: Project, kind: str, path: str, *, user: str | None = None, **details: Any) -> None:
    from . import audit

    audit.record(project.writable_ledger(), audit.EXPORT, user=user, target=kind, details={"path": path, **details})


def latest_run_id(project: Project) -> str:
    rows = project.ledger.runs.recent(1) if project.has_ledger() else []
    if not rows:
        from .errors import DataOpsError

        raise DataOpsError("No runs yet: start one with 'dataops-nb run'.")
    return str(rows[0]["run_id"])


def plan_freshness(project: Project, options: RunOptions | None = None) -> list[dict[str, Any]]:
    """For each selected step: fresh or stale, and why."""
    from .runner.run import plan, staleness

    request = _request(project, options)
    plans = plan(project, request)
    reasons = staleness(project, plans, request.env)
    env = project.environment(request.env)
    return [
        {"step": p.step.name, "state": "stale" if reasons[p.step.name] else "fresh", "reasons": reasons[p.step.name],
         "environment": env}
        for p in plans
    ]


def status(project: Project, options: RunOptions | None = None) -> list[dict[str, Any]]:
    """Each step: fresh or stale and why, with how its last executed run went."""
    env = options.env if options else None
    chain = project.spec.environment_chain(env)
    last = project.ledger.runs.last_step_runs(chain, default=project.spec.default_environment) \
        if project.has_ledger() else {}
    result = []
    for item in plan_freshness(project, options):
        row = last.get(item["step"])
        step = project.spec.step(item["step"])
        result.append(
            {
                **item,
                "notebook": step.notebook,
                "needs": list(step.needs),
                "last_status": row["status"] if row else None,
                "last_run": row["run_id"] if row else None,
                "last_ended_at": row["ended_at"] if row else None,
                "last_environment": (row["run_environment"] if row else None),
            }
        )
    return result


def datasets(project: Project, env: str | None = None) -> list[dict[str, Any]]:
    """Datasets current in `env` (its own, else its base's) with their version, rows and producing step."""
    current = project.current_versions(env)
    own = project.ledger.versions.pointers(project.environment(env)) if project.has_ledger() else {}
    names = sorted(set(project.spec.datasets) | set(current))
    result = []
    for name in names:
        meta = project.spec.datasets.get(name)
        version = current.get(name)
        result.append(
            {
                "name": name,
                "description": meta.description if meta else "",
                "owner": meta.owner if meta else None,
                "version": version.version_id if version else None,
                "rows": version.rows if version else None,
                "step": version.step if version else None,
                "environment": project.environment(env),
                "deferred": bool(version) and own.get(name) != version.version_id,
            }
        )
    return result


def schema() -> dict[str, Any]:
    """The JSON Schema of dataops.yaml, check items typed by the installed check kinds."""
    from .quality.registry import check_schema
    from .spec import json_schema

    return json_schema(check_schema())


# --- quality and review ------------------------------------------------------------------


def _recorded_checks(project: Project, version: Any) -> list[dict[str, Any]]:
    """The checks a notebook declared when it published `version` (from its manifest)."""
    if not version.run_id or not version.step:
        return []
    manifest = project.store.run_dir(version.run_id) / f"{version.step}.json"
    if not manifest.is_file():
        return []
    return list(json.loads(manifest.read_text()).get("checks", []))


def check(project: Project, dataset: str | None = None, *, explain: bool = False,
          env: str | None = None) -> list[dict[str, Any]]:
    """Re-check the versions `env` (default: the default environment) reads, without running steps
    (results are kept in the ledger)."""
    from .quality.decisions import labelled, of_ledger, open_status
    from .quality.engine import explain as explain_sql
    from .quality.engine import run_checks
    from .quality.gate import checks_for, result_rows, target_for
    from .spec import validate_dataset_name

    current = project.current_versions(env)
    if dataset is not None:
        validate_dataset_name(dataset)
        if dataset not in current:
            raise NotFoundError("dataset with a current version", dataset, current)
    chosen = [current[dataset]] if dataset else list(current.values())
    report = []
    for version in chosen:
        checks = checks_for(project.spec, version.dataset, _recorded_checks(project, version))
        target = target_for(project.spec, project.ledger, version, {})
        if explain:
            report.append({"dataset": version.dataset, "version": version.version_id,
                           "checks": [c.name for c in checks], "sql": explain_sql(checks, target)})
            continue
        results = run_checks(checks, target)
        rows = result_rows(version, results, run_id=None, step=None)
        ledger = project.writable_ledger()
        ledger.checks.record(rows)
        decisions = of_ledger(ledger, [version.dataset])
        listed = [
            labelled({"dataset": version.dataset, "version": version.version_id, "origin": r.check.origin,
                      "check": r.check.name,
                      "status": r.status, "failing": r.failing, "fraction": r.fraction, "rows": r.rows,
                      "message": _message_for(project, version.dataset, version.version_id, r.message, None)},
                     decisions)
            for r in results
        ]
        for entry, r in zip(listed, results):
            entry["sample"] = _sample_for(project, version.dataset, version.version_id, r.sample, None)
        # a version with no checks to run passes its re-check (open_status's None means "no results"
        # on the catalog page, not a failed or missing check)
        closed = open_status(listed)
        report.append({"dataset": version.dataset, "version": version.version_id,
                       **closed, "status": closed["status"] or "pass", "results": listed})
    return report


def review_items(project: Project, dataset: str | None = None, user: str | None = None,
                 env: str | None = None) -> dict[str, Any]:
    """Open failures on the versions `env` (default: the default environment) reads, the versions
    quarantined there, and decisions; samples masked for `user` (default: current)."""
    from .quality.review import open_items
    from .spec import validate_dataset_name

    if dataset is not None:
        validate_dataset_name(dataset)
        known = set(project.spec.datasets)  # declared but never published: nothing to review yet
        if project.has_ledger():
            known.update(project.ledger.dataset_names())
        if dataset not in known:
            raise NotFoundError("dataset", dataset, known)
    name = project.environment(env)
    if not project.has_ledger():
        return {"environment": name, "failures": [], "quarantined": [], "standing": [], "closed": [], "decisions": []}
    items = open_items(project.ledger, dataset)
    reads = {v.version_id for v in project.current_versions(name).values()}
    built_here = {v.version_id for v in project.ledger.versions.get_many(
        [f["version"] for f in items["failures"] + items["closed"]] + [q["version"] for q in items["quarantined"]])
        if v.environment == name}
    for key in ("failures", "closed"):
        items[key] = [f for f in items[key] if f["version"] in reads or f["version"] in built_here]
    items["quarantined"] = [q for q in items["quarantined"] if q["version"] in built_here]
    items = {"environment": name, **items}
    for failure in items["failures"] + items["closed"]:
        failure["sample"] = _sample_for(project, failure["dataset"], failure["version"], failure["sample"], user)
        failure["message"] = _message_for(project, failure["dataset"], failure["version"], failure["message"], user)
    return items


def _sample_for(project: Project, dataset: str, version: str, rows: list[dict[str, Any]],
                user: str | None) -> list[dict[str, Any]]:
    """Failing rows as `user` (default: the current one) may see them: PII masked, none without read access."""
    from .metadata.pii import hidden, mask_rows
    from .security import current_user, may

    if not rows or not may(project.spec, user or current_user(), dataset, "read"):
        return []
    return mask_rows(rows, hidden(project.spec, project.ledger, dataset, version, user=user))


def _message_for(project: Project, dataset: str, version: str, message: str | None, user: str | None) -> str | None:
    """A check's message as `user` may see it: PII values masked unless they may unmask."""
    from .metadata.pii import message_for

    return message_for(project, user, dataset, version, message)


def review_decide(project: Project, target: str, decision: str, reason: str, user: str | None = None,
                  origin: str | None = None, *, check: str | None = None, until: str | None = None,
                  for_runs: int | None = None, condition: str | None = None) -> dict[str, Any]:
    """Record a decision; with `until`, `for_runs` or `condition` it stands for that check on later runs."""
    from .quality.review import decide
    from .security import current_user

    if not project.has_ledger():
        raise NotFoundError("review target", target)
    return decide(project.writable_ledger(), project.spec, target=target, decision=decision, reason=reason,
                  user=user or current_user(), origin=origin, check=check, until=until, for_runs=for_runs,
                  condition=condition)


# --- catalog ------------------------------------------------------------------------------


def catalog_search(project: Project, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Datasets matching `query` (free text, tag:, owner:, pii:yes|no), best first."""
    from .metadata.model import sync_spec
    from .metadata.search import search

    sync_spec(project)
    found = search(project.ledger, query, limit=limit)
    publishers = _publishers(project)
    return [{**hit, "published_by": publishers.get(hit["name"])} for hit in found]


def catalog_show(project: Project, dataset: str, *, user: str | None = None, rows: int = 10,
                 env: str | None = None) -> dict[str, Any]:
    """The dataset page as `env` (default: the default environment) reads it; PII in the preview
    and profile masked unless `user` may unmask."""
    from .metadata.pages import dataset_page

    page = dataset_page(project, dataset, user=user, rows=rows, env=env)
    return {**page, "published_by": _publishers(project).get(page["name"])}


def catalog_forget(project: Project, dataset: str, *, user: str | None = None,
                   origin: str | None = None) -> dict[str, Any]:
    """Take a dataset no step publishes any more out of the catalog (its history stays in the audit)."""
    from .metadata.forget import forget

    return forget(project, dataset, publishers=_publishers(project), user=user, origin=origin)


def _publishers(project: Project) -> dict[str, str]:
    """dataset -> the step of the spec that publishes it: visibly in its notebook, or (a name no
    reading sees) by having published its current version. A dataset missing here is left over."""
    steps = set(project.spec.step_names)
    found = {dataset: step for dataset, step in project.ledger.publishing_steps().items() if step in steps}
    found.update(_visible_publishers(project))
    return found


_RACY_NS = 2_000_000_000  # a file written twice within the clock's granularity may keep its mtime


def _visible_publishers(project: Project) -> dict[str, str]:
    """dataset -> the first step whose notebook visibly publishes it, read again only when the spec
    or a notebook changed (a server answers every catalog search with it)."""
    import time

    from .runner.dataflow import spec_publishers

    stamps = []
    for step in project.spec.steps:
        try:
            stat = project.notebook_path(step).stat()
            stamps.append((stat.st_mtime_ns, stat.st_size))
        except (OSError, DataOpsError):
            stamps.append((-1, -1))
    kept = project.__dict__.get("_visible_publishers")
    if kept is not None and kept[0] is project.spec and kept[1] == stamps:
        return dict(kept[2])
    found = {dataset: publishers[0][0] for dataset, publishers in spec_publishers(project).items()}
    if all(time.time_ns() - mtime > _RACY_NS for mtime, _ in stamps):
        project.__dict__["_visible_publishers"] = (project.spec, stamps, found)
    return dict(found)


# --- the JupyterLab extension's needs ------------------------------------------------------


def versions() -> dict[str, str]:
    """The kit's version and the installed extension's (for the frontend's handshake)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    package = Path(__file__).parent / "labextension" / "package.json"
    extension = json.loads(package.read_text())["version"] if package.is_file() else "not built"
    try:
        kit = version("dataops-nb")
    except PackageNotFoundError:
        kit = __version__
    return {"kit_version": kit, "extension_version": extension}


def pipeline(project: Project, env: str | None = None, user: str | None = None) -> dict[str, Any]:
    """Steps with their needs, freshness in `env` (fresh/stale and why) and last outcome; the edges; the run going on.

    Freshness and outcome are two things: a step can be fresh after a `warn`, or stale after a
    success. The outcome is the step's latest run or skip in `env`, with how many checks ended
    `warn` (its error masked for `user` as in the runs API); a step `env` has not run (nor got by
    promotion) shows its base's outcome, with `deferred_to` naming the base it reads from.
    """
    chain = project.spec.environment_chain(env)
    outcomes = project.ledger.runs.last_outcomes_in(chain, default=project.spec.default_environment) \
        if project.has_ledger() else {}
    warnings = project.ledger.checks.warnings(r.run_id for _e, r in outcomes.values()) if outcomes else {}
    durations = project.ledger.runs.durations() if project.has_ledger() else {}
    steps = []
    for item in status(project, RunOptions(env=env)):
        step = project.spec.step(item["step"])
        where, row = outcomes.get(step.name, (None, None))
        steps.append({
            "name": step.name, "notebook": step.notebook, "needs": list(step.needs),
            "description": step.description or "", "state": item["state"], "reasons": item["reasons"],
            "last_status": item["last_status"], "last_run": item["last_run"],
            "outcome": {**_step_dict(project, row, user, warnings), "run_id": row["run_id"], "environment": where}
            if row else None,
            # a step this environment never ran (nor got by promotion) is read from its base
            "deferred_to": where if where is not None and where != chain[0] else
            (chain[1] if row is None and len(chain) > 1 else None),
            "durations": [{"run_id": d["run_id"], "status": d["status"], "duration_s": d["duration_s"]}
                          for d in durations.get(step.name, [])],
        })
    running = None
    if project.has_ledger():
        in_flight = project.ledger.runs.in_flight()
        running = in_flight[0]["run_id"] if in_flight else None
    edges = [(need, step["name"]) for step in steps for need in step["needs"]]
    return {"name": project.spec.name, "environment": project.environment(env), "steps": steps, "edges": edges,
            "running": running}


def dataflow(project: Project, env: str | None = None) -> dict[str, Any]:
    """Each step's datasets: what its notebook visibly reads and publishes (read from its source,
    nothing run), and the datasets whose versions current in `env` it published."""
    from .errors import DataOpsError
    from .runner.dataflow import dataset_name, read_dataflow

    built: dict[str, set[str]] = {}
    for version in project.current_versions(env).values():
        if version.step:
            built.setdefault(version.step, set()).add(version.dataset)
    steps = []
    for step in project.spec.steps:
        try:
            flow = read_dataflow(project.notebook_path(step), step.plain_params())
        except DataOpsError:  # a notebook that cannot be read: lint and the run say so
            flow = None
        publishes = set(flow.publishes if flow else ()) | built.get(step.name, set())
        reads = {name for name in (dataset_name(text) for text in (flow.reads if flow else ())) if name}
        steps.append({"step": step.name, "reads": sorted(reads - publishes), "publishes": sorted(publishes)})
    return {"environment": project.environment(env), "steps": steps}


def start_run(project: Project, *, only: list[str] = (),  # type: ignore[assignment]
              from_step: str | None = None, force: bool = False, env: str | None = None,
              params: list[str] = (),  # type: ignore[assignment]
              user: str | None = None, origin: str = "cli") -> str:
    """Start a run in a process of its own (it outlives the caller); returns its run id.

    `params` are `-p KEY=VALUE` texts as the CLI takes them (checked here for their form; the run
    checks them against the notebooks' parameters and refuses a bad one before any step runs).

    `user` (default: the current one) must be allowed to run every step the run selects
    (`access.roles.<role>.run`); the run records `user` and `origin` as who started it.
    """
    from .errors import AccessDeniedError, DataOpsError
    from .runner import dag
    from .runner.background import start_run as start
    from .security import current_user, may_run

    user = user or current_user()
    needs = {step.name: step.needs for step in project.spec.steps}
    try:
        selected = dag.select(needs, only=list(only), start=[from_step] if from_step else [])
    except NotFoundError as exc:  # a step named in a request is bad input, not a missing resource
        raise DataOpsError(str(exc)) from exc
    refused = may_run(project.spec, user, selected)
    if refused is not None:
        raise AccessDeniedError(
            f"User '{user}' may not run step {refused} (see access.roles.<role>.run in dataops.yaml)."
        )
    parse_params(list(params))
    options = RunOptions(only=tuple(only), start=(from_step,) if from_step else (), force=force, env=env,
                         params=tuple(params), jobs=os.cpu_count() or 1)
    return start(project, options, user=user, origin=origin)


def templates(project: Project | None = None) -> list[dict[str, Any]]:
    """Each template with its parameters (name, default, whether it names a published dataset)."""
    from .templates import list_templates, template_parameters

    return [
        {"name": t.name, "description": t.description, "source": t.source, "parameters": template_parameters(t)}
        for t in list_templates(project.root if project else None)
    ]


def new_step(project: Project, step: str, template: str, *, needs: list[str], publishes: str | None = None,
             params: dict[str, Any] | None = None) -> Path:
    """notebooks/STEP.ipynb from a template, and the step appended to dataops.yaml."""
    from .templates import new_step as create

    return create(project, step, template, needs=needs, publishes=publishes, params=params)


def parse_duration(text: str) -> float:
    """Seconds of a duration as the spec writes them (`30m`, `2h`, `90s`, `1d`)."""
    from .spec import parse_duration as parse

    return float(parse(text))


def parse_params(texts: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`KEY=VALUE` texts as typed on a command line, as values (YAML scalars)."""
    from .runner.params import parse_overrides

    return dict(parse_overrides(tuple(texts)))


def published_by(notebook: Path) -> list[str]:
    """The datasets a step notebook visibly publishes with its own defaults."""
    from .runner.dataflow import published_datasets

    return sorted(published_datasets(notebook, {}))


# --- notebooks ------------------------------------------------------------------------------


def test_notebooks(project: Project, *, env: str = "test", extra: list[str] | None = None) -> int:
    """nbval on the step notebooks with `env`'s parameters; pytest's exit code."""
    from .nbtest import test_notebooks as nbval

    return nbval(project, env=env, extra=list(extra or []))


def record_golden(project: Project, *, env: str = "test") -> list[str]:
    """Execute the notebooks and store their golden outputs; the notebooks that changed."""
    from .nbtest import record_golden as record

    return list(record(project, env=env))


def strip_notebooks(project: Project | None, notebooks: list[Path]) -> list[str]:
    """Strip outputs (keeping golden ones) of `notebooks`, default: the project's; those that changed."""
    from .notebooks import strip_outputs

    if not notebooks and project is not None:
        notebooks = sorted((project.root / "notebooks").glob("*.ipynb"))
    return [str(path) for path in notebooks if strip_outputs(path)]


# --- lineage, versions, retention, export ---------------------------------------------------


def lineage(project: Project, dataset: str, *, direction: str = "both", depth: int | None = None,
            fmt: str = "json", env: str | None = None) -> Any:
    """Upstream and downstream of a dataset (and its columns where SQL tells) through the versions
    current in `env` (default: the default environment): a dict, or text."""
    from .metadata.lineage import lineage as build
    from .metadata.lineage import render

    graph = build(project, dataset, direction=direction, depth=depth, env=env)
    return {**graph.to_dict(), "environment": project.environment(env)} if fmt == "json" else render(graph, fmt)


def dataset_versions(project: Project, dataset: str) -> list[dict[str, Any]]:
    from .metadata.retention import versions

    return versions(project, dataset)


# --- environments ---------------------------------------------------------------------------


def environment_of(project: Project, env: str | None = None) -> dict[str, Any]:
    """The environment `env` names (default: the default one) and the base it reads the rest from."""
    name = project.environment(env)
    return {"environment": name, "base": project.spec.base_of(name)}


def env_list(project: Project) -> list[dict[str, Any]]:
    from .environments import list_environments

    return list_environments(project)


def env_show(project: Project, name: str) -> dict[str, Any]:
    from .environments import show_environment

    return show_environment(project, name)


def env_drop(project: Project, name: str, *, user: str | None = None, origin: str | None = None) -> dict[str, Any]:
    from .environments import drop_environment

    return drop_environment(project, name, user=user, origin=origin)


def promotion_plan(project: Project, source: str, target: str | None = None, *,
                   user: str | None = None) -> dict[str, Any]:
    """What promoting `source` to `target` would change; with `user`, whether they may apply it."""
    from .environments import promotion_plan as plan_of

    target = target or project.spec.default_environment
    moves = [m.as_dict() for m in plan_of(project, source, target)]
    denied = _promotion_denied(project, user, target) if user is not None else None
    return {"from": source, "to": target, "applied": False, "moves": moves,
            "may_promote": denied is None, "denied": denied}


def _promotion_denied(project: Project, user: str, target: str) -> str | None:
    from .security import may_promote

    if may_promote(project.spec, user, target):
        return None
    return f"User '{user}' may not promote to {target} (see access.roles.<role>.promote in dataops.yaml)."


def promote(project: Project, source: str, target: str | None = None, *, force: bool = False,
            user: str | None = None, origin: str | None = None) -> dict[str, Any]:
    """Make `source`'s versions current in `target` (see environments.promote).

    A `user` given (the server's authenticated one) must hold `access.roles.<role>.promote` for
    the target; the CLI passes none and acts as whoever may write the ledger."""
    from .environments import promote as promote_env

    if user is not None:
        denied = _promotion_denied(project, user, project.environment(target))
        if denied is not None:
            from .errors import AccessDeniedError

            raise AccessDeniedError(denied)
    result = promote_env(project, source, target, force=force, user=user, origin=origin)
    if result["moves"]:  # the `promotion` event of notify.rules
        from .notify.alert import Alert

        moved = tuple(m["dataset"] for m in result["moves"])
        notify(project, Alert("promotion", project.spec.name, environment=result["to"], datasets=moved,
                              detail=f"{len(moved)} dataset(s) from {source}: {', '.join(moved)}"))
    return result


def rollback(project: Project, dataset: str | None = None, *, to: str | None = None, env: str | None = None,
             run_id: str | None = None, user: str | None = None, origin: str | None = None) -> dict[str, Any]:
    """Earlier versions current again: of `dataset` in `env`, or everything run `run_id` made current."""
    from .environments import rollback as rollback_dataset
    from .environments import rollback_run

    if run_id is not None:
        return rollback_run(project, run_id, user=user, origin=origin)
    if dataset is None:
        from .errors import DataOpsError

        raise DataOpsError("Name a dataset to roll back, or a run with --run.")
    return rollback_dataset(project, dataset, to=to, env=env, user=user, origin=origin)


def promote_merged(project: Project, source: str, target: str | None = None, *, merged: str,
                   report: Reporter | None = None) -> dict[str, Any]:
    """On a merge of commit `merged`: promote `source` when ci built it from that commit's files,
    else build `target` with a normal run (`action` says which, `why` why)."""
    from .ci.merge import decide

    target = target or project.spec.default_environment
    decision = decide(project, source, target, merged)
    if decision["action"] == "promote":
        return {**decision, **promote(project, source, target), "from": source}
    result = run(project, RunOptions(env=target), report)
    return {**decision, "run_id": result.run_id, "status": result.status,
            "failures": [{"step": f.step, "status": f.status, "notebook": f.notebook, "error": f.error}
                         for f in result.failures], "skipped": result.skipped}


# --- slim CI --------------------------------------------------------------------------------


def ci(project: Project, *, base: str | None = None, env: str | None = None, summary: Path | None = None,
       jobs: int | None = None, report: Reporter | None = None) -> dict[str, Any]:
    """Slim CI: the steps whose fingerprint differs from `base`'s, and their dependents, run into the CI
    environment `env` (default ci-<branch>); the rest is read from `base`. A Markdown summary under
    "summary" (also written to `summary` and appended to $GITHUB_STEP_SUMMARY); "failed" and "problems"."""
    from .ci.slim import run_ci

    return run_ci(project, base=base, env=env, jobs=jobs, summary_file=summary, report=report)


def diff(project: Project, a: str, b: str, datasets: list[str] | None = None, *, key: list[str] | None = None,
         user: str | None = None) -> dict[str, Any]:
    """How A and B (environments, runs or dataset@versions) differ, per dataset; samples masked for `user`."""
    from .metadata.diff import diff as compute
    from .spec import validate_dataset_name

    for name in datasets or []:
        validate_dataset_name(name)
    return compute(project, a, b, datasets, key=key, user=user)


def replay(project: Project, run_id: str, *, keep: bool = False, jobs: int = 1, report: Reporter | None = None,
           user: str | None = None) -> dict[str, Any]:
    """Re-execute run `run_id` from its commit with its inputs pinned; compare what it published."""
    from .runner.replay import replay as replay_run

    return replay_run(project, run_id, keep=keep, jobs=jobs, report=report, user=user)


def dataset_diff(project: Project, dataset: str, env: str | None = None, against: str | None = None, *,
                 user: str | None = None) -> dict[str, Any]:
    """How `dataset` as `env` (default: the default environment) reads it differs from `against`
    (default: `env`'s base): schema, counts, and keyed changes with PII masked for `user`."""
    from .errors import AccessDeniedError, DataOpsError
    from .security import current_user, may
    from .spec import validate_dataset_name

    validate_dataset_name(dataset)
    name = project.environment(env)
    other = project.environment(against) if against else project.spec.base_of(name)
    if other is None:
        raise DataOpsError(f"{name} is the default environment and has no base: name another environment to compare with.")
    if other == name:
        raise DataOpsError(f"Cannot compare {name} with itself: name another environment to compare with.")
    user = user or current_user()
    if not may(project.spec, user, dataset, "read"):
        raise AccessDeniedError(f"User '{user}' may not read {dataset} (see access.roles in dataops.yaml).")
    result = diff(project, other, name, [dataset], user=user)
    return {"dataset": dataset, "environment": name, "against": other, **result["datasets"][0]}


def run_diff(project: Project, a: str, b: str, *, user: str | None = None) -> dict[str, Any]:
    """The data diff of every dataset both runs published (samples masked for `user`), and the
    datasets only one of them published."""
    from .metadata.diff import side

    published_a, published_b = set(side(project, a).versions), set(side(project, b).versions)
    both = sorted(published_a & published_b)
    result = diff(project, a, b, both, user=user) if both else {"a": f"run {a}", "b": f"run {b}", "differs": False,
                                                                 "datasets": []}
    only_a, only_b = sorted(published_a - published_b), sorted(published_b - published_a)
    return {**result, "differs": bool(result["differs"] or only_a or only_b), "only_in_a": only_a, "only_in_b": only_b}


def diff_markdown(result: dict[str, Any]) -> str:
    from .metadata.diff import markdown

    return markdown(result)


def gc(project: Project, *, dry_run: bool = False) -> dict[str, Any]:
    """Delete superseded versions beyond each dataset's keep_versions."""
    from .metadata import retention

    return retention.gc(project, dry_run=dry_run).to_dict()


def export_openlineage(project: Project, run_id: str | None, output: Path | None = None) -> dict[str, Any]:
    """A run's OpenLineage events as JSON lines (default: the latest run)."""
    from .openlineage import export_run

    run_id = run_id or latest_run_id(project)
    path = export_run(project, run_id, output)
    events = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line)
    _record_export(project, "openlineage", project.relative(path), run_id=run_id, events=events)
    return {"run_id": run_id, "path": project.relative(path), "events": events}


def export_airflow(project: Project, output: Path | None = None, *, force: bool = False, dag_id: str | None = None,
                   schedule: str | None = None, env: str | None = None, command: str | None = None) -> dict[str, Any]:
    """The pipeline as an Airflow DAG file: one task per step, each running that step."""
    from .airflow_dag import dag_id_of, export_dag

    dag_id = dag_id_of(project, dag_id)
    schedule = schedule or project.spec.schedule  # the spec's `schedule:` unless --schedule says otherwise
    path = export_dag(project, output, force=force, dag_id=dag_id, schedule=schedule, env=env, command=command)
    tasks = {step.name: list(step.needs) for step in project.spec.steps}
    _record_export(project, "airflow", project.relative(path), dag_id=dag_id)
    return {"dag_id": dag_id, "path": project.relative(path), "schedule": schedule, "tasks": tasks}


def export_docker(project: Project, *, force: bool = False, env: str | None = None) -> dict[str, Any]:
    """A Dockerfile, .dockerignore and pinned requirements that run the pipeline in a container."""
    from .container import export_image

    result = export_image(project, force=force, env=env)
    _record_export(project, "docker", ", ".join(result.get("files", [])))
    return result


def lint(project: Project) -> list[dict[str, Any]]:
    """Findings on the step notebooks and the pipeline, from the files alone (nothing runs)."""
    from .lint import as_dicts
    from .lint import lint as run_lint

    return as_dicts(run_lint(project))


def freshness(project: Project) -> list[dict[str, Any]]:
    """Each dataset's age against its freshness SLA (status ok, warn, error, no SLA, no data)."""
    from .metadata.pages import freshness_report

    return freshness_report(project) if project.has_ledger() else []


def executed_notebook(project: Project, run_id: str, step: str, user: str | None = None,
                      within: Path | None = None) -> dict[str, Any]:
    """The notebook a step left in a run, read from the store (never a file outside it).

    It is read only from the path the ledger recorded for that step (`runs/RUN_ID/STEP.ipynb`),
    never through a symbolic link, and, with `within` (the server's root), only when the file
    really lies inside it.

    The fields are those of a Jupyter contents model; the path is `RUN_ID/STEP.ipynb`. It is a
    record of what ran: its cells are marked neither editable nor deletable, and never trusted.
    Its outputs may show data: `user` (default: the current one) must be allowed to read
    every dataset the step read or published (`access.may_read_step`).
    """
    from datetime import datetime, timezone

    from .errors import DataOpsError

    for name in (run_id, step):
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            message = f"'{name}' is not a plain run id or step name: paths out of the run store are refused."
            raise DataOpsError(message)
    if not project.has_ledger() or project.ledger.run(run_id) is None:
        known = [r["run_id"] for r in project.ledger.runs.recent(50)] if project.has_ledger() else []
        raise NotFoundError("run", run_id, known)
    steps = project.ledger.step_runs(run_id)
    executed = {s["step"]: s["output_notebook"] for s in steps if s["output_notebook"]}
    if step not in executed:
        raise NotFoundError(f"step with an executed notebook in run {run_id}", step, list(executed))
    from .access import check_step_access

    check_step_access(project, user, run_id, step)
    path = _recorded_notebook(project, run_id, step, executed[step], within)
    content = _as_reader_sees(project, run_id, step, json.loads(path.read_text(encoding="utf-8")), user)
    for cell in content.get("cells", []):
        cell.setdefault("metadata", {}).update(editable=False, deletable=False, trusted=False)
    stat = path.stat()
    return {
        "name": f"{step}.ipynb",
        "path": f"{run_id}/{step}.ipynb",
        "content": content,
        "size": stat.st_size,
        "created": datetime.fromtimestamp(stat.st_ctime, timezone.utc),
        "last_modified": datetime.fromtimestamp(stat.st_mtime, timezone.utc),
    }


def _as_reader_sees(project: Project, run_id: str, step: str, content: dict[str, Any],
                    user: str | None) -> dict[str, Any]:
    """An executed notebook's JSON with the PII values of every dataset its step used masked,
    unless `user` may see them (`metadata.pii.may_see_pii`): reading rows is not unmasking them."""
    from .errors import AccessDeniedError
    from .metadata.pii import may_see_pii, step_texts
    from .report import notebook_texts

    if may_see_pii(project, user, run_id, step):
        return content
    places = list(notebook_texts(content))
    masked = step_texts(project, run_id, step, [holder[key] for holder, key in places])
    if masked is None:
        raise AccessDeniedError(f"The executed notebook of step {step} in run {run_id} may show personal data "
                                "that could not be masked; it is not shown.")
    for (holder, key), text in zip(places, masked):
        holder[key] = text
    return content


def _recorded_notebook(project: Project, run_id: str, step: str, recorded: str, within: Path | None) -> Path:
    """The file of a step's executed notebook, refused unless it is exactly where the ledger says."""
    import os

    from .errors import AccessDeniedError

    expected = project.store.runs_dir / run_id / f"{step}.ipynb"
    missing = NotFoundError(f"executed notebook in the store of run {run_id}", recorded)
    # the ledger's record is the store's layout, and the file there is no link to another one
    if os.path.normpath(project.root / recorded) != os.path.normpath(expected) or expected.is_symlink():
        raise missing
    resolved = expected.resolve()
    if within is not None and not resolved.is_relative_to(within):
        raise AccessDeniedError(f"The executed notebook of step {step} in run {run_id} lies outside the "
                                "server's root directory; the server does not serve it.")
    if not resolved.is_file():
        raise missing
    return resolved


def confine(project: Project, root: Path) -> None:
    """Refuse a project whose store or ledger resolves outside `root` (the server's root directory).

    Executed notebooks are checked one by one when served (`executed_notebook(within=root)`)."""
    from .errors import AccessDeniedError

    for what, path in (("store", project.store.root), ("ledger", project.store.ledger_path)):
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise AccessDeniedError(
                f"The project's {what} {project.relative(path)} resolves to {resolved}, outside the server's "
                "root directory; the server does not serve it."
            )


def record_denial(project: Project, message: str, *, user: str | None = None, origin: str | None = None,
                  target: str | None = None) -> None:
    """An access denial in the audit log (the interfaces call this when they refuse a request)."""
    from . import audit

    if project.has_ledger():
        audit.record(project.writable_ledger(), audit.ACCESS_DENIED, user=user, origin=origin, target=target,
                     details={"message": message})


# --- audit ----------------------------------------------------------------------------------


def audit_log(project: Project, *, since: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
    """Audit entries, oldest first (`since`: ISO date or time, or an age like 12h; `user`: one actor)."""
    from . import audit

    if not project.has_ledger():
        return []
    return [entry.to_dict() for entry in audit.entries(project.ledger, since=since, user=user)]


def audit_verify(project: Project) -> dict[str, Any]:
    """Walk the audit log's hash chain; raises AuditChainError (exit 1) at the first broken entry."""
    from . import audit

    if not project.has_ledger():
        return {"entries": 0, "head": None, "ok": True}
    verified = audit.verify(project.ledger)
    return {"entries": verified.entries, "head": verified.head, "ok": True}


# --- the ledger itself ---------------------------------------------------------------------


def _inspect_ledger(project: Project) -> Any:
    """The project's ledger opened read-only as it is, whatever its schema (or an empty stand-in)."""
    from .ledger import Ledger

    return Ledger.open(project.ledger_url, readonly=True, store_root=project.store.root,
                       source=project.ledger_source, any_schema=True)


def ledger_info(project: Project) -> dict[str, Any]:
    """The ledger's backend, URL (never its password), schema version and what it holds. Writes nothing."""
    from .ledger import contents
    from .ledger.migrations import latest

    ledger = _inspect_ledger(project)
    try:
        db = ledger.db
        version = ledger.schema_version if ledger.exists else 0
        return {
            "backend": "postgresql" if project.shared_ledger else "sqlite",
            "url": db.url if ledger.exists or project.shared_ledger else f"sqlite:///{project.store.ledger_path}",
            "from": project.ledger_source,
            "exists": ledger.exists and version > 0,
            "schema_version": version,
            "latest_schema": latest(db.dialect),
            "counts": contents.counts(db) if ledger.exists else dict.fromkeys(contents.COUNTED, 0),
        }
    finally:
        ledger.close()


def ledger_migrate(project: Project) -> dict[str, Any]:
    """Apply the ledger's pending migrations (creating the ledger if there is none); what was applied."""
    before = ledger_info(project)
    after = project.writable_ledger()
    version = after.schema_version
    return {"backend": before["backend"], "url": before["url"], "from_schema": before["schema_version"],
            "to_schema": version, "applied": list(range(before["schema_version"] + 1, version + 1))}


def ledger_copy(project: Project, to: str) -> dict[str, Any]:
    """Copy every row of the project's ledger into the empty ledger at `to` (SQLite or PostgreSQL),
    verified by counts and content hash. Refuses a target that holds anything; the source is only read."""
    from .errors import LedgerError
    from .ledger import Ledger, contents

    if not project.has_ledger():
        raise LedgerError("The project has no ledger yet: there is nothing to copy.")
    source = project.ledger
    target = Ledger.open(to, store_root=project.store.root, source="--to")
    try:
        if target.db.url == source.db.url:
            raise LedgerError(f"--to names the project's own ledger ({target.db.url}): copy to another one.",
                              url=target.db.url)
        held = contents.nonempty(target.db)
        if held:
            shown = ", ".join(f"{n} {table}" for table, n in held.items())
            message = f"The ledger {target.db.url} (from --to) is not empty ({shown}): copy into an empty ledger."
            raise LedgerError(message, url=target.db.url)
        target.migrate()
        result = contents.copy(source.db, target.db)
    finally:
        target.close()
    return {"from": source.db.url, "to": target.db.url, "copied": result.counts,
            "content_hash": result.content_hash, "verified": True}


# --- monitoring ----------------------------------------------------------------------


def notify_test(project: Project, channel: str, *, env: str | None = None) -> dict[str, Any]:
    """Send a test message to one channel of `notify.channels`; raises when it did not go out."""
    from .notify.notifier import send_test

    return send_test(project, channel, environment=env, ledger=project.writable_ledger).as_dict()


def notify(project: Project, alert: Any) -> list[dict[str, Any]]:
    """Send an `Alert` (such as a promotion) to the channels the rules pick; never raises."""
    from .notify.notifier import Notifier

    notifier = Notifier(project, environment=alert.environment, ledger=project.writable_ledger)
    return [d.as_dict() for d in notifier.deliver(alert)]


def monitor(project: Project, *, env: str | None = None, grace: float = 1800.0) -> dict[str, Any]:
    """One monitoring sweep: freshness, volume anomalies, an overdue schedule; recorded and notified."""
    from .monitor import sweep

    if env is not None and env != project.spec.default_environment:
        project.spec.environment(env)  # a declared one (or the default): an unknown name is a typo
    return sweep(project, environment=env, grace=grace)


def metrics(project: Project, *, env: str | None = None) -> tuple[bytes, str]:
    """The project's Prometheus metrics (text format) and their content type: every environment's,
    or only `env`'s (one the spec declares, or the default)."""
    from .metrics import exposition

    if env is not None and env != project.spec.default_environment:
        project.spec.environment(env)
    return exposition(project, env)


def cancel_run(project: Project, run_id: str | None = None, *, user: str | None = None, grace: float = 10.0,
               wait: bool = True) -> dict[str, Any]:
    """Stop a run (default: the one in progress): its running steps are interrupted, then killed after
    `grace` seconds; it ends `cancelled` and can be resumed."""
    from .runner.cancel import cancel
    from .security import current_user

    return cancel(project, run_id, user=user or current_user(), grace=grace, wait=wait)

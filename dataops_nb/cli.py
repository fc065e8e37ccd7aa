"""The `dataops-nb` command line: thin commands over `service`, one error boundary.

Heavy modules (papermill, nbclient, nbval) are imported only by commands that execute
notebooks, so `--help`, `status` and `runs` start fast.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .errors import DataOpsError, MonitorError, NotebookTestsFailedError


@dataclass
class Settings:
    project: Path | None = None
    env: str | None = None
    json: bool = False
    debug: bool = False
    printed: bool = False  # a JSON document is on stdout already (an error then goes to stderr only)
    opened: Any = None  # the project a command opened


def _settings(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = Settings()
    return root.obj


def _store(field: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(_settings(ctx), field, value)

    return callback


def common(func: Callable[..., Any]) -> Callable[..., Any]:
    """The global options, accepted before or after the command's name."""
    options = [
        click.option("-C", "--project", type=click.Path(path_type=Path, file_okay=False), expose_value=False,
                     callback=_store("project"), is_eager=True, help="Project directory (default: search upward)."),
        click.option("--env", expose_value=False, callback=_store("env"), is_eager=True,
                     help="Environment (default: the spec's default_environment, prod): its current versions, "
                          "and its parameter overlay from dataops.yaml."),
        click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_store("json"),
                     is_eager=True, help="Machine-readable output on stdout."),
        click.option("--debug", is_flag=True, expose_value=False, callback=_store("debug"),
                     is_eager=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _project(ctx: click.Context) -> Any:
    from . import service

    project = service.open_project(_settings(ctx).project)
    _settings(ctx).opened = project  # the error boundary records access denials in its audit log
    gc.enable()  # start-up is over (see main): what the command allocates is collected as usual
    return project


def _echo_json(ctx: click.Context, data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
    _settings(ctx).printed = True


def _emit(ctx: click.Context, data: Any, human: Callable[[Any], None]) -> None:
    if _settings(ctx).json:
        _echo_json(ctx, data)
    else:
        human(data)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.table import Table

    from .console import STYLES, cell, stdout

    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(cell(column))
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            text = "" if value is None else str(value)
            cells.append(cell(text, STYLES.get(text)))  # data and errors: never markup
        table.add_row(*cells)
    stdout().print(table)


def _say(text: str) -> None:
    """A line of human output made of values from data, notebooks, errors or the spec."""
    from .console import plain

    click.echo(plain(text))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common
@click.version_option(package_name="dataops-nb")
def cli() -> None:
    """Notebook-first DataOps: parameterized notebooks as pipeline steps over DuckDB."""


# --- project ---------------------------------------------------------------------


@cli.command()
@common
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", help="Pipeline name (default: the directory's name).")
@click.pass_context
def init(ctx: click.Context, directory: Path, name: str | None) -> None:
    """Create a new project in DIRECTORY that runs at once."""
    from . import service

    created = service.init_project(directory, name=name)
    _emit(ctx, {"project": str(directory.resolve()), "files": created},
          lambda d: click.echo(f"Created project in {d['project']}:\n  " + "\n  ".join(d["files"])
                               + f"\nNext: cd {directory} && dataops-nb run"))


@cli.command()
@common
@click.pass_context
def schema(ctx: click.Context) -> None:
    """Print the JSON Schema of dataops.yaml (for editors): check items typed by every installed kind."""
    from . import service

    click.echo(json.dumps(service.schema(), indent=2))


@cli.command()
@common
@click.pass_context
def templates(ctx: click.Context) -> None:
    """List the step templates (built-in and the project's own)."""
    from . import service

    project = None
    try:
        project = _project(ctx)
    except DataOpsError:
        pass  # outside a project: the built-ins only
    data = service.templates(project)
    _emit(ctx, data, lambda rows: _table(rows, ["name", "description", "source"]))


@cli.command()
@common
@click.argument("step")
@click.option("-t", "--template", required=True, help="Template name (see 'dataops-nb templates').")
@click.option("--needs", multiple=True, help="A step this one needs (repeatable).")
@click.option("--publishes", metavar="SCHEMA.TABLE", help="The dataset it publishes (default: named after the step).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Set a template parameter.")
@click.pass_context
def new(ctx: click.Context, step: str, template: str, needs: tuple[str, ...], publishes: str | None,
        params: tuple[str, ...]) -> None:
    """Add a step from a template: writes notebooks/STEP.ipynb and registers it."""
    from . import service

    project = _project(ctx)
    path = service.new_step(project, step, template, needs=list(needs), publishes=publishes,
                            params=service.parse_params(params))
    data = {"step": step, "notebook": project.relative(path), "template": template,
            "publishes": service.published_by(path)}
    _emit(ctx, data, lambda d: click.echo(
        f"Added step '{d['step']}' from template '{template}': {d['notebook']}"
        + (f" (publishes {', '.join(d['publishes'])})" if d["publishes"] else "")))


# --- running ---------------------------------------------------------------------


def _options(ctx: click.Context, params: tuple[str, ...] = (), only: tuple[str, ...] = (),
             start: tuple[str, ...] = (), **more: Any) -> Any:
    from .service import RunOptions

    return RunOptions(params=params, only=only, start=start, env=_settings(ctx).env, **more)


def selection(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose steps and parameters: shared by run, plan and status."""
    options = [
        click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
                     help="Override a parameter (STEP.KEY=VALUE for one step)."),
        click.option("--only", multiple=True, metavar="STEP", help="Only this step (repeatable)."),
        click.option("--from", "start", multiple=True, metavar="STEP", help="This step and everything downstream."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@common
@selection
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Steps at once (default: cores).")
@click.option("--force", is_flag=True, help="Run every selected step, fresh or not.")
@click.option("--resume", metavar="RUN_ID", help="Redo the failed, timed-out and skipped steps of a run.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where steps execute.")
@click.option("--dask-address", metavar="ADDR", help="A dask.distributed scheduler (default: a LocalCluster).")
@click.option("-q", "--quiet", is_flag=True, help="No progress table (for CI logs).")
@click.option("--no-wait", is_flag=True, help="Fail at once if another run holds the project.")
@click.pass_context
def run(ctx: click.Context, params: tuple[str, ...], only: tuple[str, ...], start: tuple[str, ...],
        jobs: int | None, force: bool, resume: str | None, executor: str, dask_address: str | None,
        quiet: bool, no_wait: bool) -> None:
    """Run the pipeline (all steps, or a selection); fresh steps are skipped."""
    from . import service
    from .console import RunDisplay
    from .errors import StepFailedError

    settings = _settings(ctx)
    project = _project(ctx)
    options = _options(ctx, params, only, start, jobs=jobs, force=force, resume=resume, executor=executor,
                       dask_address=dask_address)
    display = RunDisplay(quiet=quiet or settings.json)
    summary = service.run(project, options, display, wait=not no_wait)
    details = service.show_run(project, summary.run_id)
    if settings.json:
        _echo_json(ctx, details)
    else:
        click.echo(f"run {summary.run_id}: {summary.status}")
        for step, found in summary.warnings.items():
            for warning in found:
                _say(f"  warning in step '{step}': {warning}" if step else f"  warning: {warning}")
        for step, found in summary.unchanged.items():
            _say(f"  step '{step}' published the same content again, so no new version of: {', '.join(found)}")
    if summary.status != "success":
        lines = [f"step '{f.step}' {f.status} ({f.notebook or 'no notebook'}): {f.error}" for f in summary.failures]
        for name, reason in summary.skipped.items():
            lines.append(f"step '{name}' skipped: {reason}")
        raise StepFailedError("\n".join(lines), run_id=summary.run_id)


def _reasons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "why": "; ".join(r["reasons"])} for r in rows]


@cli.command()
@common
@selection
@click.pass_context
def status(ctx: click.Context, params: tuple[str, ...], only: tuple[str, ...], start: tuple[str, ...]) -> None:
    """Each step: fresh or stale and why, and how its last run went."""
    from . import service

    project = _project(ctx)
    data = service.status(project, _options(ctx, params, only, start))
    _emit(ctx, data, lambda rows: (_in_environment(project, ctx),
                                   _table(_reasons(rows), ["step", "state", "why", "last_status", "last_run"])))


def _in_environment(project: Any, ctx: click.Context) -> None:
    """The line that says which environment a command shows."""
    from . import service

    shown = service.environment_of(project, _settings(ctx).env)
    _say(f"environment {shown['environment']}"
         + (f" (reads {shown['base']} for what it does not build)" if shown["base"] else ""))


@cli.command()
@common
@selection
@click.pass_context
def plan(ctx: click.Context, params: tuple[str, ...], only: tuple[str, ...], start: tuple[str, ...]) -> None:
    """What a run would execute: each step fresh or stale, and why."""
    from . import service

    project = _project(ctx)
    data = service.plan_freshness(project, _options(ctx, params, only, start))
    _emit(ctx, data, lambda rows: (_in_environment(project, ctx), _table(_reasons(rows), ["step", "state", "why"])))


@cli.command()
@common
@click.option("-n", "--limit", type=int, default=None, help="Show at most N runs.")
@click.pass_context
def runs(ctx: click.Context, limit: int | None) -> None:
    """Run history, newest first."""
    from . import service

    data = service.runs(_project(ctx), limit)

    def human(rows: list[dict[str, Any]]) -> None:
        _table(
            [{**r, "steps": ", ".join(f"{s['name']}:{s['status']}" for s in r["steps"]), "resume": _resume_link(r)}
             for r in rows],
            ["run_id", "status", "started_at", "user", "environment", "steps", "resume"],
        )

    _emit(ctx, data, human)


@cli.command()
@common
@click.argument("run_id", required=False)
@click.option("--notebook", "step", metavar="STEP", help="Print the executed notebook of STEP (nbformat JSON).")
@click.option("--follow", is_flag=True,
              help="While the run goes on: each running step's current cell, elapsed time and output tail, "
                   "refreshed until the run ends (with --json: one JSON object a line).")
@click.pass_context
def show(ctx: click.Context, run_id: str | None, step: str | None, follow: bool) -> None:
    """One run: its steps, notebooks, datasets and errors (default: the latest)."""
    from . import service

    project = _project(ctx)
    if follow:
        _follow(ctx, project, run_id or service.latest_run_id(project))
        return
    if step is not None:
        model = service.executed_notebook(project, run_id or service.latest_run_id(project), step)
        click.echo(json.dumps(model if _settings(ctx).json else model["content"], indent=1, default=str))
        return
    data = service.show_run(project, run_id or service.latest_run_id(project))

    def human(d: dict[str, Any]) -> None:
        _say(f"run {d['run_id']}  {d['status']}  by {d['user']}  env {d['environment'] or '-'}  "
                   f"git {(d['git_commit'] or '-')[:10]}{' (dirty)' if d['git_dirty'] else ''}")
        _say(f"started {d['started_at']}  ended {d['ended_at'] or '-'}  log {d['log']}")
        if d["resumed_from"]:
            _say(f"resumes run {d['resumed_from']} (dataops-nb show {d['resumed_from']})")
        for later in d["resumed_by"]:
            _say(f"resumed by run {later} (dataops-nb show {later})")
        if d["resume"]:
            _say(f"to redo its unfinished steps: {d['resume']}")
        _table(d["steps"], ["name", "status", "attempt", "duration_s", "output_notebook", "error"])
        if d["datasets"]:
            _table(d["datasets"], ["dataset", "version", "step", "rows", "status"])

    _emit(ctx, data, human)


FOLLOW_EVERY_S = 1.0


def _follow(ctx: click.Context, project: Any, run_id: str) -> None:
    """Refresh `service.live_run` until the run is no longer running."""
    import time

    from . import service
    from .console import RunFollower, live_lines

    follower, last = RunFollower(), None
    try:
        while True:
            data = service.live_run(project, run_id)
            if _settings(ctx).json:
                line = json.dumps(data, default=str)
                if line != last:
                    click.echo(line)
                    last = line
            else:
                follower.show(live_lines(data), live_lines(data, times=False))
            if data["status"] != "running":
                break
            time.sleep(FOLLOW_EVERY_S)
    finally:
        follower.close()
    _settings(ctx).printed = True


def _resume_link(run: dict[str, Any]) -> str:
    """Where a resumed run went on, where a resuming one came from, or how to resume."""
    links = [f"from {run['resumed_from']}"] if run["resumed_from"] else []
    links += [f"by {later}" for later in run["resumed_by"]]
    return "; ".join(links) or (f"--resume {run['run_id']}" if run["resume"] else "")


def run_to_file(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A RUN_ID argument (default: the latest run) and `-o FILE` (default: `default`)."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
                            help=f"File to write (default: {default}).")(func)
        return click.argument("run_id", required=False)(func)

    return decorate


@cli.command("report")
@common
@run_to_file(".dataops/reports/RUN_ID.html")
@click.pass_context
def report_command(ctx: click.Context, run_id: str | None, output: Path | None) -> None:
    """One run as a single HTML file: steps, what they published, checks and failures (default: the latest run)."""
    from . import service

    data = service.report(_project(ctx), run_id, output)
    _emit(ctx, data, lambda d: click.echo(f"report of run {d['run_id']} ({d['status']}) in {d['path']}"))


@cli.command("check")
@common
@click.argument("dataset", required=False)
@click.option("--explain", is_flag=True, help="Print the SQL of the fused scan instead of running it.")
@click.pass_context
def check_command(ctx: click.Context, dataset: str | None, explain: bool) -> None:
    """Re-check current dataset versions without running steps."""
    from . import service
    from .errors import QualityGateError

    data = service.check(_project(ctx), dataset, explain=explain, env=_settings(ctx).env)

    def human(reports: list[dict[str, Any]]) -> None:
        for report in reports:
            if explain:
                click.echo(f"-- {report['dataset']} ({report['version']}): {', '.join(report['checks'])}")
                click.echo("\n;\n".join(report["sql"]) + ";")
                continue
            closed = ", ".join(f"{report[k]} {k}" for k in ("accepted", "waived") if report[k])
            click.echo(f"{report['dataset']} ({report['version']}): {report['status']}"
                       + (f" ({closed})" if closed else ""))
            _table([{**r, "check": r["label"], "decision": (r["decided"] or {}).get("text")} for r in report["results"]],
                   ["check", "status", "failing", "rows", "decision", "message"])

    _emit(ctx, data, human)
    failed = [r["dataset"] for r in data if r.get("status") == "error"]
    if failed:
        raise QualityGateError(f"Error-severity checks failed on: {', '.join(failed)}.")


@cli.group(invoke_without_command=True)
@common
@click.option("--dataset", help="Only this dataset.")
@click.pass_context
def review(ctx: click.Context, dataset: str | None) -> None:
    """Open failures and quarantined versions; record decisions with a subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    from . import service

    data = service.review_items(_project(ctx), dataset, env=_settings(ctx).env)

    def human(d: dict[str, Any]) -> None:
        _say(f"environment {d['environment']}")
        if not d["failures"] and not d["quarantined"]:
            click.echo("Nothing to review.")
        if d["quarantined"]:
            click.echo("Quarantined versions:")
            _table(d["quarantined"], ["version", "step", "rows", "created_at"])
        if d["failures"]:
            click.echo("Open failures:")
            _table([{**f, "id": f"#{f['id']}", "check": f["label"]} for f in d["failures"]],
                   ["id", "check", "status", "failing", "version", "version_status", "message"])
        if d["closed"]:
            click.echo("Closed by a decision:")
            _table([{**f, "id": f"#{f['id']}", "check": f["label"], "decision": f["decided"]["text"]}
                    for f in d["closed"]],
                   ["id", "check", "status", "failing", "version", "decision"])
        if d["standing"]:
            click.echo("Known issues (standing decisions):")
            _table([{**s, "id": f"#{s['id']}", "check": s["label"], "state": "expired" if s["expired"] else "active"
                     + (f", {s['runs_left']} run(s) left" if s["runs_left"] is not None else "")}
                    for s in d["standing"]], ["id", "dataset", "check", "decision", "terms", "state", "user", "reason"])

    _emit(ctx, data, human)


def _decision(name: str, help_text: str) -> None:
    standing = name in ("accept", "waive")

    @click.pass_context
    def command(ctx: click.Context, target: str, reason: str, check: str | None = None, until: str | None = None,
                for_runs: int | None = None, condition: str | None = None) -> None:
        from . import service

        data = service.review_decide(_project(ctx), target, name, reason, check=check, until=until,
                                     for_runs=for_runs, condition=condition)
        _emit(ctx, data, lambda d: _say(f"{d['decision']} {d['version']}"
                                        + (f" check {d['label']}" if d["check"] else "")
                                        + f" by {d['user']}: {d['effect']}"))

    if standing:
        command = click.option("--while", "condition", metavar="CONDITION",
                               help='Keep it closed while the failing rows stay within this, e.g. "failing <= 5%".')(command)
        command = click.option("--for-runs", type=click.IntRange(min=1), metavar="N",
                               help="Keep it closed for the next N versions runs publish.")(command)
        command = click.option("--until", metavar="DATE",
                               help="Keep this check's warnings closed on later runs through DATE (known issue).")(command)
    if name != "quarantine":
        command = click.option("--check", metavar="NAME",
                               help="Only this check of the version (as `review` or `check` names it).")(command)
    command = click.option("--reason", "-m", required=True, help="Why (kept in the ledger with who and when).")(command)
    command = click.argument("target")(command)
    review.command(name, help=help_text)(common(command))


for _name, _help in (
    ("accept", ("Accept a version, one check of it, or a check result (a quarantined version becomes current "
                "once no error is left open); with --until/--for-runs/--while, a known issue.")),
    ("waive", ("Waive a check failure or a version's failures (they no longer show as open); "
               "with --until/--for-runs/--while, a known issue.")),
    ("quarantine", "Keep a version in quarantine, or quarantine a current one (the previous returns)."),
    ("comment", "Comment on a version or a check failure."),
):
    _decision(_name, _help)


@cli.group()
@common
def catalog() -> None:
    """Find datasets and read their pages: description, columns, versions, lineage, quality."""


@catalog.command("search")
@common
@click.argument("query", nargs=-1)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most N results.")
@click.pass_context
def catalog_search(ctx: click.Context, query: tuple[str, ...], limit: int) -> None:
    """Search datasets: free text plus filters tag:NAME, owner:NAME, pii:yes|no."""
    from . import service

    data = service.catalog_search(_project(ctx), " ".join(query), limit=limit)

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("No datasets match.")
            return
        _table([{**r, "tags": ", ".join(r["tags"]), "published by": r["published_by"] or "no step (left over)"}
                for r in rows], ["name", "owner", "tags", "published by", "description"])

    _emit(ctx, data, human)


@catalog.command("show")
@common
@click.argument("dataset")
@click.option("--rows", type=click.IntRange(min=0), default=10, show_default=True, help="Preview rows.")
@click.pass_context
def catalog_show(ctx: click.Context, dataset: str, rows: int) -> None:
    """One dataset's page: columns, profile, versions, freshness, quality, lineage, preview."""
    from . import service

    data = service.catalog_show(_project(ctx), dataset, rows=rows, env=_settings(ctx).env)
    _emit(ctx, data, _show_page)


def _show_page(d: dict[str, Any]) -> None:
    def fmt(value: Any) -> str:
        return "" if value is None else str(value)

    _say(f"{d['name']}  owner {d['owner'] or '-'}  tags {', '.join(d['tags']) or '-'}  "
         f"environment {d.get('environment') or '-'}")
    if d.get("published_by") is None:
        _say(f"no step of the spec publishes {d['name']} any more: `dataops-nb catalog forget {d['name']}` "
             "removes it from the catalog")
    if d["description"]:
        _say(d["description"])
    current = d["current_version"]
    if current:
        _say(f"current {current['version']}  {current['rows']} rows  {current['bytes']} bytes  "
                   f"step {current['step']}  run {current['run_id']}")
    else:
        _say("no current version")
    fresh = d["freshness"]
    if fresh["newest"]:
        _say(f"freshness {fresh['status']}: newest {fresh['newest']} ({fresh['age_s'] / 86400:.1f} days, "
                   f"by {fresh.get('measured_by')})")
    _say(f"quality {d['quality']['status'] or '-'}"
               + "".join(f"\n  {c['label']}: {c['status']}" + (f", {c['decided']['text']}" if c["decided"] else "")
                         for c in d["quality"]["checks"] if c["status"] != "pass"))
    if d["notebook"]:
        _say(f"notebook {d['notebook']['path']}")
    _say("upstream " + (", ".join(u["dataset"] for u in d["upstream"]) or "-")
               + "   downstream " + (", ".join(u["dataset"] for u in d["downstream"]) or "-"))
    _table([
        {
            "column": c["name"], "type": c["type"],
            "tags": ", ".join(t["tag"] + (f" (auto {t['kind']} {t['confidence']})" if t["source"] == "auto" else
                                          f" (inherited from {', '.join(t['from']) or '?'})"
                                          if t["source"] == "inherited" else "")
                              for t in c["tags"]),
            "nulls": fmt((c["profile"] or {}).get("null_count")),
            "distinct~": fmt((c["profile"] or {}).get("approx_distinct")),
            "min": fmt((c["profile"] or {}).get("min")), "max": fmt((c["profile"] or {}).get("max")),
            "description": c["description"],
        }
        for c in d["columns"]
    ], ["column", "type", "tags", "nulls", "distinct~", "min", "max", "description"])
    if len(d["versions"]) > 1:
        _say("versions:")
        _table(d["versions"], ["version", "status", "rows", "step", "created_at"])
    preview = d["preview"]["rows"]
    if d["preview"]["notice"]:
        _say(d["preview"]["notice"])
    if preview:
        _say("preview" + (f" (masked for {d['preview']['user']}: {', '.join(d['preview']['masked_columns'])})"
                                if d["preview"]["masked_columns"] else "") + ":")
        _table(preview, list(preview[0]))


def _on_dataset(name: str) -> Callable[[Callable[..., Any]], Any]:
    """`catalog NAME DATASET`: a catalog command about one dataset."""
    def decorate(func: Callable[..., Any]) -> Any:
        return catalog.command(name)(common(click.argument("dataset")(click.pass_context(func))))

    return decorate


@_on_dataset("forget")
def catalog_forget(ctx: click.Context, dataset: str) -> None:
    """Take a dataset that no step publishes any more out of the catalog (its history stays in the audit)."""
    from . import service

    data = service.catalog_forget(_project(ctx), dataset)
    _emit(ctx, data, lambda d: _say(
        f"Forgot {d['dataset']}: {len(d['versions'])} version(s) deleted, {d['bytes_freed']} bytes freed; "
        "what it held is in the audit log (dataops-nb audit)."))


@_on_dataset("versions")
def catalog_versions(ctx: click.Context, dataset: str) -> None:
    """Every version of a dataset, newest first (and which the next gc deletes)."""
    from . import service

    data = service.dataset_versions(_project(ctx), dataset)
    _emit(ctx, data, lambda rows: _table(
        [{**r, "gc": "expires" if r.get("expires") else "", "current in": ", ".join(r.get("current_in") or [])}
         for r in rows],
        ["version", "status", "environment", "current in", "rows", "created_at", "notebook", "gc"]))


@cli.command("lineage")
@common
@click.argument("dataset")
@click.option("--upstream", "direction", flag_value="upstream", help="Only where it came from.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only where it goes.")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="At most N datasets away.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "mermaid", "dot"]), default="text",
              show_default=True)
@click.pass_context
def lineage_command(ctx: click.Context, dataset: str, direction: str | None, depth: int | None, fmt: str) -> None:
    """Where a dataset came from and where it goes (columns too, where the SQL tells)."""
    from . import service

    project, direction = _project(ctx), direction or "both"
    env = _settings(ctx).env
    if _settings(ctx).json or fmt == "json":
        _echo_json(ctx, service.lineage(project, dataset, direction=direction, depth=depth, env=env))
    else:
        if fmt == "text":
            _in_environment(project, ctx)
        click.echo(service.lineage(project, dataset, direction=direction, depth=depth, fmt=fmt, env=env), nl=False)


@cli.command("gc")
@common
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.pass_context
def gc_command(ctx: click.Context, dry_run: bool) -> None:
    """Delete superseded versions beyond each dataset's keep_versions (never current or quarantined)."""
    from . import service

    data = service.gc(_project(ctx), dry_run=dry_run)

    def human(d: dict[str, Any]) -> None:
        verb = "would delete" if d["dry_run"] else "deleted"
        for item in d["deleted"]:
            click.echo(f"{verb} {item['version']} ({item['reason']})")
        click.echo(f"{len(d['deleted'])} version(s), {d['bytes_freed']} bytes {'to free' if d['dry_run'] else 'freed'}.")
        for run in d["blocked_by"]:
            click.echo(f"note: run {run} is in flight; gc would refuse now.")

    _emit(ctx, data, human)


# --- environments ------------------------------------------------------------------


@cli.group("env")
@common
def env_group() -> None:
    """Environments: namespaces of current versions on one store (list, show, drop)."""


@env_group.command("list")
@common
@click.pass_context
def env_list(ctx: click.Context) -> None:
    """Every environment with how many datasets it points at and how many differ from its base."""
    from . import service

    data = service.env_list(_project(ctx))
    _emit(ctx, data, lambda rows: _table(
        [{**r, "environment": r["environment"] + (" (default)" if r["default"] else "")} for r in rows],
        ["environment", "base", "datasets", "differs", "updated_at"]))


@env_group.command("show")
@common
@click.argument("name")
@click.pass_context
def env_show(ctx: click.Context, name: str) -> None:
    """The datasets environment NAME reads: its own versions, and its base's for the rest."""
    from . import service

    data = service.env_show(_project(ctx), name)

    def human(d: dict[str, Any]) -> None:
        _say(f"environment {d['environment']}" + (f" (base {d['base']})" if d["base"] else " (default)"))
        _table([{**r, "differs": "yes" if r["differs"] else ""} for r in d["datasets"]],
               ["dataset", "version", "from", "rows", "differs", "base_version"])

    _emit(ctx, data, human)


@env_group.command("drop")
@common
@click.argument("name")
@click.pass_context
def env_drop(ctx: click.Context, name: str) -> None:
    """Remove environment NAME's pointers (never the default's); its versions become collectable."""
    from . import service

    data = service.env_drop(_project(ctx), name)
    _emit(ctx, data, lambda d: _say(
        f"dropped {d['environment']}: {len(d['dropped'])} pointer(s); "
        f"{len(d['released'])} version(s) current nowhere now (gc may collect them)."))


def _moves(moves: list[dict[str, Any]]) -> None:
    rows = [{"dataset": m["dataset"], "from": m.get("from") or "-", "to": m.get("to") or "-",
             "checks": ", ".join(f"{n} {k}" for k, n in (m.get("checks") or {}).items() if n),
             "refused": m.get("problem") or ""} for m in moves]
    _table(rows, ["dataset", "from", "to", "checks", "refused"])


@cli.command("promote")
@common
@click.argument("source", metavar="ENV")
@click.option("--to", "target", metavar="ENV", help="The environment to promote to (default: the default one).")
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--force", is_flag=True, help="Promote versions built from inputs the target has since replaced.")
@click.option("--merged", metavar="REV", help="On a merge of commit REV (CI): promote when `ci` built ENV from "
              "REV's files, else build the target with a normal run.")
@click.pass_context
def promote_command(ctx: click.Context, source: str, target: str | None, yes: bool, force: bool,
                    merged: str | None) -> None:
    """Make ENV's versions current in another environment: one ledger transaction, nothing recomputed or copied."""
    from . import service

    project = _project(ctx)
    if merged is not None:
        _promote_merged(ctx, project, source, target, merged)
        return
    plan = service.promotion_plan(project, source, target)
    if not plan["moves"]:
        _emit(ctx, plan, lambda d: _say(f"Nothing to promote: {d['to']} already has every version of {d['from']}."))
        return
    if not yes:
        if _settings(ctx).json or not sys.stdin.isatty():
            _emit(ctx, plan, lambda d: (_moves(d["moves"]), click.echo("Not applied: pass --yes to promote.")))
            return
        _say(f"Promote {plan['from']} to {plan['to']}:")
        _moves(plan["moves"])
        if not click.confirm("Apply?", default=False):
            click.echo("Not applied.")
            return
    data = service.promote(project, source, target, force=force)
    _emit(ctx, data, lambda d: (_moves(d["moves"]), _say(
        f"promoted {d['from']} to {d['to']}: {len(d['moves'])} dataset(s) current there now.")))


def _promote_merged(ctx: click.Context, project: Any, source: str, target: str | None, merged: str) -> None:
    from . import service
    from .console import RunDisplay
    from .errors import StepFailedError

    data = service.promote_merged(project, source, target, merged=merged,
                                  report=RunDisplay(quiet=True))

    def human(d: dict[str, Any]) -> None:
        if d["action"] == "promote":
            _moves(d["moves"])
            _say(f"promoted {d['from']} to {d['to']} ({d['why']}): {len(d['moves'])} dataset(s), nothing recomputed.")
        else:
            _say(f"ran the pipeline in {d['to']} instead of promoting {d['from']} ({d['why']}): "
                 f"run {d['run_id']} {d['status']}.")

    _emit(ctx, data, human)
    if data["action"] == "run" and data["status"] != "success":
        lines = [f"step '{f['step']}' {f['status']}: {f['error']}" for f in data["failures"]]
        raise StepFailedError("\n".join(lines) or f"run {data['run_id']} {data['status']}", run_id=data["run_id"])


@cli.command("ci")
@common
@click.option("--base", metavar="ENV", help="The environment to compare with and read from (default: the --env's "
              "base: in dataops.yaml, else the default environment).")
@click.option("--summary", "summary_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the Markdown summary to FILE (it is also appended to $GITHUB_STEP_SUMMARY when set).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Steps at once (default: cores).")
@click.option("-q", "--quiet", is_flag=True, help="No progress table.")
@click.pass_context
def ci_command(ctx: click.Context, base: str | None, summary_file: Path | None, jobs: int | None, quiet: bool) -> None:
    """Slim CI: run only the steps that differ from --base (and their dependents) into --env (default
    ci-<branch>), reading the rest from the base; checks, notebook tests, data diffs, a Markdown summary."""
    from . import service
    from .console import RunDisplay
    from .errors import CiFailedError

    settings = _settings(ctx)
    project = _project(ctx)
    data = service.ci(project, base=base, env=settings.env, summary=summary_file, jobs=jobs,
                      report=RunDisplay(quiet=quiet or settings.json))
    _emit(ctx, data, lambda d: click.echo(d["summary"], nl=False))
    if data["failed"]:
        raise CiFailedError(data["environment"], data["problems"])


@cli.command("rollback")
@common
@click.argument("dataset", required=False)
@click.option("--to", "to", metavar="VERSION", help="The version to make current (default: the one before).")
@click.option("--run", "run_id", metavar="RUN", help="Undo what run RUN made current.")
@click.pass_context
def rollback_command(ctx: click.Context, dataset: str | None, to: str | None, run_id: str | None) -> None:
    """Make an earlier version of DATASET current again in --env (default: the default environment)."""
    from . import service

    data = service.rollback(_project(ctx), dataset, to=to, env=_settings(ctx).env, run_id=run_id)

    def human(d: dict[str, Any]) -> None:
        for move in d["moves"]:
            _say(f"{move['dataset']} in {move.get('environment', d.get('environment'))}: "
                 f"{move['from']} -> {move['to'] or 'none (not current there any more)'}")
        for item in d["skipped"]:
            _say(f"kept {item['dataset']} in {item['environment']}: {item['why']}")
        if not d["moves"] and not d["skipped"]:
            click.echo("Nothing to roll back.")

    _emit(ctx, data, human)


@cli.command("diff")
@common
@click.argument("a")
@click.argument("b")
@click.argument("datasets", nargs=-1)
@click.option("--key", metavar="COLS", help="Columns that identify a row, comma-separated (default: the dataset's key: "
              "or its unique check).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--fail-on-diff", is_flag=True, help="Exit 1 when anything differs.")
@click.pass_context
def diff_command(ctx: click.Context, a: str, b: str, datasets: tuple[str, ...], key: str | None, fmt: str,
                 fail_on_diff: bool) -> None:
    """How A and B differ (environments, run ids or dataset@versions): schema, rows, keyed changes, statistics."""
    from . import service

    keys = [k.strip() for k in key.split(",") if k.strip()] if key else None
    data = service.diff(_project(ctx), a, b, list(datasets) or None, key=keys)
    if fmt == "markdown" and not _settings(ctx).json:
        click.echo(service.diff_markdown(data), nl=False)
    elif fmt == "json" or _settings(ctx).json:
        _echo_json(ctx, data)
    else:
        _say(f"{data['a']} -> {data['b']}")
        rows = []
        for d in data["datasets"]:
            schema = d.get("schema") or {}
            rows.append({"dataset": d["dataset"], "rows a": (d.get("rows") or {}).get("a"),
                         "rows b": (d.get("rows") or {}).get("b"), "only in a": d.get("only_in_a"),
                         "only in b": d.get("only_in_b"), "changed": d.get("changed"),
                         "schema": ", ".join(f"{k} {len(v)}" for k, v in schema.items() if v) or "",
                         "differs": "yes" if d["differs"] else ""})
        _table(rows, ["dataset", "rows a", "rows b", "only in a", "only in b", "changed", "schema", "differs"])
    if fail_on_diff and data["differs"]:
        from .errors import DifferencesFoundError

        raise DifferencesFoundError(data["a"], data["b"], [d["dataset"] for d in data["datasets"] if d["differs"]])


@cli.command("replay")
@common
@click.argument("run_id", metavar="RUN")
@click.option("--verify", is_flag=True, help="Exit 1 unless the replay reproduces every dataset.")
@click.option("--keep", is_flag=True, help="Keep the scratch environment replay-RUN (default: dropped).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Steps at once.")
@click.option("-q", "--quiet", is_flag=True, help="No progress table.")
@click.pass_context
def replay_command(ctx: click.Context, run_id: str, verify: bool, keep: bool, jobs: int, quiet: bool) -> None:
    """Re-execute run RUN from its git commit with its parameters and inputs pinned, and compare its datasets."""
    from . import service
    from .console import RunDisplay

    settings = _settings(ctx)
    data = service.replay(_project(ctx), run_id, keep=keep, jobs=jobs,
                          report=RunDisplay(quiet=quiet or settings.json))

    def human(d: dict[str, Any]) -> None:
        _say(f"replay of run {d['run_id']} (commit {d['commit'][:12]}) as run {d['replay_run_id']}: "
             + ("reproduced" if d["reproduced"] else "NOT reproduced"))
        _table([{"dataset": x["dataset"], "original": x["original"], "replayed": x["replayed"],
                 "result": x["status"], "why": x.get("why", "")} for x in d["datasets"]],
               ["dataset", "original", "replayed", "result", "why"])
        for reason in d["reasons"]:
            _say(f"  not exact: {reason}")
        if d["kept"]:
            _say(f"  kept environment {d['environment']} (drop it with: dataops-nb env drop {d['environment']})")

    _emit(ctx, data, human)
    if verify and not data["reproduced"]:
        from .errors import NotReproducedError

        raise NotReproducedError(data["run_id"], [x["dataset"] for x in data["datasets"]
                                                  if x["status"] not in ("identical", "same_rows")], data["reasons"])


@cli.command("freshness")
@common
@click.pass_context
def freshness_command(ctx: click.Context) -> None:
    """Each dataset's age against its SLA; exit 1 when any is past error_after (for cron)."""
    from . import service
    from .errors import FreshnessError

    data = service.freshness(_project(ctx))

    def human(rows: list[dict[str, Any]]) -> None:
        _table([{**r, "age": _age(r["age_s"]), "sla": _sla(r["sla"])} for r in rows],
               ["dataset", "status", "age", "sla", "measured_by"])

    _emit(ctx, data, human)
    late = [r["dataset"] for r in data if r["status"] == "error"]
    if late:
        raise FreshnessError(f"{len(late)} dataset(s) past their error_after: {', '.join(late)}.")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"


def _sla(sla: dict[str, Any] | None) -> str:
    if not sla:
        return ""
    parts = [f"{key.split('_')[0]} {_age(sla[key])}" for key in ("warn_after", "error_after") if sla.get(key)]
    return ", ".join(parts)


@cli.group()
@common
def export() -> None:
    """Hand the pipeline (Airflow, Docker) or a run's record (OpenLineage) to other systems."""


@export.command("openlineage")
@common
@run_to_file(".dataops/openlineage/RUN_ID.jsonl")
@click.pass_context
def export_openlineage(ctx: click.Context, run_id: str | None, output: Path | None) -> None:
    """A run's OpenLineage events as JSON lines (default: the latest run)."""
    from . import service

    data = service.export_openlineage(_project(ctx), run_id, output)
    _emit(ctx, data, lambda d: click.echo(f"{d['events']} OpenLineage event(s) of run {d['run_id']} in {d['path']}"))


@export.command("airflow")
@common
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="File to write (default: airflow/DAG_ID.py in the project).")
@click.option("--dag-id", help="The DAG's id (default: the pipeline's name).")
@click.option("--schedule", help="Cron expression or preset such as @daily (default: triggered by hand).")
@click.option("--command", "command", help="How the task machines call the kit (default: this Python with -m dataops_nb.cli).")
@click.option("--force", is_flag=True, help="Replace a file that `export airflow` did not write.")
@click.pass_context
def export_airflow(ctx: click.Context, output: Path | None, dag_id: str | None, schedule: str | None,
                   command: str | None, force: bool) -> None:
    """An Airflow DAG of the pipeline: one task per step, each running `run --only STEP`."""
    from . import service

    data = service.export_airflow(_project(ctx), output, force=force, dag_id=dag_id, schedule=schedule,
                                  env=_settings(ctx).env, command=command)
    _emit(ctx, data, lambda d: click.echo(f"Airflow DAG '{d['dag_id']}' ({len(d['tasks'])} tasks) in {d['path']}"))


@export.command("docker")
@common
@click.option("--force", is_flag=True, help="Replace files that `export docker` did not write.")
@click.pass_context
def export_docker(ctx: click.Context, force: bool) -> None:
    """A Dockerfile (with .dockerignore and pinned requirements) whose image runs the pipeline."""
    from . import service

    data = service.export_docker(_project(ctx), force=force, env=_settings(ctx).env)
    _emit(ctx, data, lambda d: click.echo(
        f"wrote {', '.join(d['files'])} ({len(d['requirements'])} pinned packages); build with `docker build .`"))


@cli.command()
@common
@click.option("--record", is_flag=True, help="Execute the notebooks and store their golden outputs.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def test(ctx: click.Context, record: bool, pytest_args: tuple[str, ...]) -> None:
    """Run nbval on the step notebooks with the test environment's parameters."""
    from . import service

    project = _project(ctx)
    env = _settings(ctx).env or "test"
    if record:
        changed = service.record_golden(project, env=env)
        _emit(ctx, {"recorded": changed}, lambda d: click.echo("\n".join(f"recorded {p}" for p in d["recorded"]) or "golden outputs unchanged"))
        return
    code = service.test_notebooks(project, env=env, extra=list(pytest_args))
    if code != 0:
        raise NotebookTestsFailedError(f"Notebook tests failed (pytest exit code {code}).")


@cli.command("lint")
@common
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.pass_context
def lint_command(ctx: click.Context, strict: bool) -> None:
    """Notebook hygiene and pipeline consistency, from the files alone (nothing runs)."""
    from . import service
    from .errors import LintError

    findings = service.lint(_project(ctx))

    def human(rows: list[dict[str, Any]]) -> None:
        for f in rows:
            where = f["path"] + (f":cell {f['cell']}" if f["cell"] else "") + (f":{f['line']}" if f["line"] else "")
            click.echo(f"{where}: {f['code']} {f['severity']}: {f['message']}")
        click.echo(f"{len(rows)} finding(s)" if rows else "No findings.")

    _emit(ctx, findings, human)
    failing = [f for f in findings if f["severity"] == "error" or strict]
    if failing:
        raise LintError(f"lint: {len(failing)} {'finding' if strict else 'error'}(s) to fix.")


@cli.command()
@common
@click.argument("notebooks", nargs=-1, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def strip(ctx: click.Context, notebooks: tuple[Path, ...]) -> None:
    """Strip outputs for git, keeping golden outputs (# NBVAL_CHECK_OUTPUT cells)."""
    from . import service

    changed = service.strip_notebooks(None if notebooks else _project(ctx), list(notebooks))
    _emit(ctx, {"changed": changed}, lambda d: click.echo("\n".join(f"stripped {p}" for p in d["changed"])))


@cli.command("audit")
@common
@click.option("--since", metavar="T", help="Entries at or after T: a date, a time (UTC) or an age (30m, 12h, 7d).")
@click.option("--user", "user", metavar="U", help="Only entries of user U.")
@click.option("--verify", is_flag=True, help="Check the hash chain; exit 1 naming the first altered entry.")
@click.pass_context
def audit_command(ctx: click.Context, since: str | None, user: str | None, verify: bool) -> None:
    """Who did what, when and from where (cli or server): runs, reviews, status changes, gc, denials, exports."""
    from . import service

    project = _project(ctx)
    if verify:
        result = service.audit_verify(project)
        _emit(ctx, result, lambda d: click.echo(
            f"audit log intact: {d['entries']} entries" + (f", newest hash {d['head']}" if d["head"] else "")))
        return
    entries = service.audit_log(project, since=since, user=user)

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("No audit entries.")
            return
        _table([{**row, "details": json.dumps(row["details"], sort_keys=True, default=str)[:120]} for row in rows],
               ["id", "at", "user", "origin", "action", "target", "details"])

    _emit(ctx, entries, human)


# --- the ledger ----------------------------------------------------------------------


@cli.group("ledger")
@common
def ledger_group() -> None:
    """The ledger itself: where it is, its schema, moving it between SQLite and PostgreSQL."""


@ledger_group.command("info")
@common
@click.pass_context
def ledger_info(ctx: click.Context) -> None:
    """Backend, URL (without password), schema version and what the ledger holds; writes nothing."""
    from . import service

    info = service.ledger_info(_project(ctx))

    def human(d: dict[str, Any]) -> None:
        pending = d["latest_schema"] - d["schema_version"]
        schema = (f"{d['schema_version']} (latest)" if d["exists"] and not pending else
                  f"{d['schema_version']} of {d['latest_schema']}: `dataops-nb ledger migrate` applies "
                  f"{pending} pending" if d["exists"] else "none yet (the first command that writes creates it)")
        _say(f"backend: {d['backend']}\nurl: {d['url']}" + (f" (from {d['from']})" if d["from"] else "")
             + f"\nschema: {schema}")
        _table([{"records": k, "count": v} for k, v in d["counts"].items()], ["records", "count"])

    _emit(ctx, info, human)


@ledger_group.command("migrate")
@common
@click.pass_context
def ledger_migrate(ctx: click.Context) -> None:
    """Apply the ledger's pending schema migrations."""
    from . import service

    done = service.ledger_migrate(_project(ctx))
    _emit(ctx, done, lambda d: _say(
        f"Migrated the ledger {d['url']} from schema {d['from_schema']} to {d['to_schema']} "
        f"(applied {', '.join(map(str, d['applied']))})." if d["applied"] else
        f"The ledger {d['url']} is at schema {d['to_schema']}, the latest: nothing to migrate."))


@ledger_group.command("copy")
@common
@click.option("--to", "to", required=True, metavar="URL",
              help="An empty ledger: sqlite:///path/ledger.db or postgresql://user@host/db (password from PGPASSWORD "
                   "or ~/.pgpass keeps it out of the shell history).")
@click.pass_context
def ledger_copy(ctx: click.Context, to: str) -> None:
    """Copy every run, version, check result, review, lineage edge and audit entry to another ledger."""
    from . import service

    done = service.ledger_copy(_project(ctx), to)

    def human(d: dict[str, Any]) -> None:
        _say(f"Copied the ledger {d['from']} to {d['to']}, verified (content hash {d['content_hash'][:16]}).")
        _table([{"table": k, "rows": v} for k, v in d["copied"].items()], ["table", "rows"])

    _emit(ctx, done, human)


# --- monitoring ------------------------------------------------------------------


@cli.command("monitor")
@common
@click.option("--grace", default="30m", show_default=True, metavar="DURATION",
              help="How late a scheduled run may start before the pipeline counts as overdue.")
@click.pass_context
def monitor_command(ctx: click.Context, grace: str) -> None:
    """Sweep freshness, row-count anomalies and the schedule; notify on changes; exit 1 on an error (for cron)."""
    from . import service

    try:
        seconds = service.parse_duration(grace)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--grace") from exc
    data = service.monitor(_project(ctx), env=_settings(ctx).env, grace=seconds)

    def human(d: dict[str, Any]) -> None:
        _say(f"monitor {d['environment'] or '-'}: {d['status']}, {d['checked']} judged, {d['warn']} warn, "
             f"{d['error']} error, {d['changed']} changed")
        if d["findings"]:
            _table(d["findings"], ["status", "kind", "subject", "change", "message"])
        for sent in d["notifications"]:
            _say(f"  notified {sent['channel']} of {sent['alert']}: {sent['status']}"
                 + (f" ({sent['error']})" if sent["error"] else ""))
        for warning in d["warnings"]:
            _say(f"  warning: {warning}")

    _emit(ctx, data, human)
    if data["errors"]:
        raise MonitorError(data["errors"])


@cli.command("metrics")
@common
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to FILE (atomically: for node_exporter's textfile collector) instead of stdout.")
@click.pass_context
def metrics_command(ctx: click.Context, output: Path | None) -> None:
    """The project's Prometheus metrics in the text exposition format (every environment's, or --env's)."""
    from . import service

    text, _ = service.metrics(_project(ctx), env=_settings(ctx).env)
    if output is None:
        click.echo(text.decode(), nl=False)
        return
    from .generated import write_text

    write_text(output.resolve(), text.decode())
    _emit(ctx, {"path": str(output)}, lambda d: click.echo(f"metrics written to {d['path']}", err=True))


@cli.command("cancel")
@common
@click.argument("run_id", required=False)
@click.option("--grace", default="10s", show_default=True, metavar="DURATION",
              help="How long interrupted steps have to stop before their kernels are killed.")
@click.option("--no-wait", is_flag=True, help="Return once the request is made, not when the run has ended.")
@click.pass_context
def cancel_command(ctx: click.Context, run_id: str | None, grace: str, no_wait: bool) -> None:
    """Stop a run (default: the one in progress); it ends cancelled and `run --resume RUN` redoes the rest."""
    from . import service

    try:
        seconds = service.parse_duration(grace)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--grace") from exc
    data = service.cancel_run(_project(ctx), run_id, grace=seconds, wait=not no_wait)
    _emit(ctx, data, lambda d: click.echo(f"run {d['run_id']}: {d['status']}"
                                          + ("" if d["status"] != "cancelled" else
                                             f" (resume with `dataops-nb run --resume {d['run_id']}`)")))


@cli.group("notify")
@common
def notify_group() -> None:
    """Notifications to the spec's channels (apprise URLs from the environment)."""


@notify_group.command("test")
@common
@click.argument("channel")
@click.pass_context
def notify_test(ctx: click.Context, channel: str) -> None:
    """Send a test message to CHANNEL (a name of notify.channels)."""
    from . import service

    data = service.notify_test(_project(ctx), channel, env=_settings(ctx).env)
    _emit(ctx, data, lambda d: click.echo(f"test message sent to channel '{d['channel']}'"
                                          + (f" ({d['attempts']} attempts)" if d["attempts"] > 1 else "")))


# --- the error boundary ------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    settings = Settings()
    if argv is None:
        # Importing the spec's models makes many objects and frees almost none, and the collector
        # would walk them again and again: about 70 ms of a no-op run. Collection resumes once the
        # project is loaded.
        gc.disable()
    try:
        cli.main(args=args, prog_name="dataops-nb", standalone_mode=False, obj=settings)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        code = 2 if isinstance(exc, click.UsageError) else exc.exit_code
        _json_error(settings, args, exc, exc.format_message())
        exc.show()
        sys.exit(code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except DataOpsError as exc:
        _record_denial(settings, exc)
        if debug:
            raise
        from .console import plain

        _json_error(settings, args, exc, str(exc))
        click.echo(f"Error: {plain(exc)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        _json_error(settings, args, exc, f"{type(exc).__name__}: {exc}")
        click.echo(f"Error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)
    finally:
        if argv is None:  # the process ends next
            _before_exit()


def _json_error(settings: Settings, args: list[str], exc: BaseException, message: str) -> None:
    """With --json, the error as one JSON object on stdout too (unless the command printed its result,
    which already describes the failure: a run's steps, check results, lint findings)."""
    if not (settings.json or "--json" in args) or settings.printed:
        return
    line = getattr(exc, "line", None)
    file = getattr(exc, "file", None)
    error = {"type": type(exc).__name__, "message": message, "file": None if file is None else str(file),
             "line": line if isinstance(line, int) else None}
    click.echo(json.dumps({"error": error}, indent=2, default=str))


def _record_denial(settings: Settings, exc: DataOpsError) -> None:
    """A command refused by the access rules leaves an entry in the audit log."""
    from .errors import AccessDeniedError

    if isinstance(exc, AccessDeniedError) and settings.opened is not None:
        from . import service

        try:
            service.record_denial(settings.opened, str(exc))
        except DataOpsError:
            pass  # the denial itself is what the user must see


def _before_exit() -> None:
    """The process ends next: its objects need no final garbage collection.

    Python's shutdown collects every object the imports created (pydantic's schemas,
    typing's caches): about 0.1 s of a 0.5 s command. Frozen objects are skipped, and
    everything that holds a resource is closed before a command returns.
    """
    gc.freeze()


if __name__ == "__main__":
    main()

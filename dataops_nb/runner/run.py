"""A run: plan, open it in the ledger, execute ready steps, commit each outcome, end it.

Workers execute steps (threads here, Dask tasks elsewhere); only this module's loop,
in one thread, writes the ledger, so its rows stay consistent under parallelism.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import audit as audit_log
from ..errors import DataOpsError, PublishError, QualityGateError
from ..inputs import MISSING, FileVersions, InputError, expand, is_pattern, is_url
from ..ledger import Ledger, VersionRecord, now
from ..ledger.leases import this_host
from ..openlineage import LineageEmitter
from ..project import Project
from ..runlog import RunLog
from ..scope import RunScope
from ..secrets import Redactor, hidden_envs, secret_envs
from ..security import current_user
from ..spec import DATASET_NAME, Step
from . import dag
from .cancel import POLL_S as CANCEL_POLL_S
from .cancel import RunCancelled, requested
from .execute import StepOutcome, StepTask
from .executors import Executor, make_executor
from .fingerprint import Fingerprint, fingerprint, stale_reasons
from .lease import RunLease
from .params import inspect_notebook, resolve

if TYPE_CHECKING:
    from ..ledger.ancestry import Ancestry

Reporter = Callable[[dict[str, Any]], None]
FAILED = ("failed", "timed_out", "skipped")
DONE = ("success", "fresh")


def new_run_id() -> str:
    """Time-sortable and unique: 20261125-093012-123 plus four random hex digits."""
    stamp = datetime.now(timezone.utc)
    return f"{stamp:%Y%m%d-%H%M%S}-{stamp.microsecond // 1000:03d}{os.urandom(2).hex()}"


@dataclass(frozen=True)
class RunRequest(RunScope):
    overrides: dict[str, Any] = field(default_factory=dict)
    jobs: int = 1
    resumed_from: str | None = None
    # a replay: the run it re-executes, the spec environment whose parameters it overlays (the
    # replayed run's, while `env` is the scratch one it publishes into) and, per step, the
    # versions each dataset it reads is pinned to (dataset -> version id)
    replay_of: str | None = None
    overlay: str | None = None
    pins: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepPlan:
    step: Step
    notebook: Path
    parameters: dict[str, Any]
    fingerprint: Fingerprint


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    steps: dict[str, StepOutcome | None]
    skipped: dict[str, str]
    warnings: dict[str, list[str]] = field(default_factory=dict)
    unchanged: dict[str, list[str]] = field(default_factory=dict)  # step -> datasets it re-published as they were

    @property
    def failures(self) -> dict[str, StepOutcome]:
        return {
            name: outcome
            for name, outcome in self.steps.items()
            if outcome is not None and outcome.status != "success"
        }


def plan(project: Project, request: RunRequest, *, versions: FileVersions | None = None) -> list[StepPlan]:
    """Everything checkable before anything runs: selection, notebooks, parameters, secrets."""
    spec = project.spec
    needs = {step.name: step.needs for step in spec.steps}
    names = dag.select(needs, only=request.only, start=request.start)
    steps = [spec.step(name) for name in names]
    notebooks = {}
    for step in spec.steps:  # every notebook: env overlays may name any step's parameters
        path = project.notebook_path(step)
        notebooks[step.name] = inspect_notebook(path, shown=Path(project.relative(path)))
    overlay = overlay_of(project, request.overlay if request.overlay is not None else request.env)
    values = resolve(spec, steps, notebooks, env=overlay, overrides=request.overrides, where=project.where)
    versions = versions or file_versions(project)
    plans = []
    for step in steps:
        path = project.notebook_path(step)
        files = {key: versions.version(key) for key in expand(step.inputs, project.root)}
        plans.append(StepPlan(
            step, path, values[step.name],
            fingerprint(project.root, path, values[step.name], step.secrets(), environment=overlay, files=files),
        ))
    versions.save()
    return plans


def overlay_of(project: Project, env: str | None) -> str | None:
    """The spec environment whose parameters a run in `env` (default: the default one) overlays, if any:
    an environment the spec does not declare (`--env pr-123`) has none."""
    name = project.environment(env)
    return name if name in project.spec.environments else None


def file_versions(project: Project) -> FileVersions:
    """File hashes, cached in the store (by size and mtime) across commands."""
    return FileVersions(project.root, project.store.root / "cache")


LedgerState = tuple[dict[str, Any], dict[str, str]]


def ledger_state(project: Project, env: str | None = None) -> LedgerState:
    """What freshness is judged against: each step's last executed run and each dataset's current
    version id (two reads of the ledger)."""
    chain = project.spec.environment_chain(env)
    last = project.ledger.runs.last_step_runs(chain, default=project.spec.default_environment) \
        if project.has_ledger() else {}
    current = {name: v.version_id for name, v in project.current_versions(env).items()} if last else {}
    return last, current


def staleness(project: Project, plans: list[StepPlan], env: str | None = None, *,
              state: LedgerState | None = None) -> dict[str, list[str]]:
    """For each planned step, why it must run ([] when fresh), upstream staleness included.

    In an environment, a step's last run is its own, else its base's (what it reads when it defers).
    `state`: the ledger's, when the caller has just read it (`ledger_state`)."""
    last, current = state if state is not None else ledger_state(project, env)
    result: dict[str, list[str]] = {}
    versions = file_versions(project)
    for item in plans:
        row = last.get(item.step.name)
        before = Fingerprint.from_json(row["fingerprint"]) if row else None
        now = item.fingerprint
        if before is not None:  # what the step opened itself (step.input) is compared too
            opened = {key: versions.version(key) for key in before.files if key not in now.files}
            now = replace(now, files={**opened, **now.files})
        reasons = stale_reasons(
            now,
            before,
            last_status=row["status"] if row else None,
            current_versions=current,
        )
        reasons += [f"upstream '{need}' is stale" for need in item.step.needs if result.get(need)]
        result[item.step.name] = reasons
    versions.save()
    return result


RESUMABLE = ("failed", "timed_out", "skipped", "interrupted", "running", "pending")


def resume_request(project: Project, run_id: str, *, jobs: int) -> RunRequest:
    """Redo a run's unfinished steps with the parameters and environment it had."""

    from ..errors import NotFoundError

    row = project.ledger.run(run_id) if project.has_ledger() else None
    if row is None:
        known = [r["run_id"] for r in project.ledger.runs.recent(20)] if project.has_ledger() else []
        raise NotFoundError("run", run_id, known)
    if row["status"] == "running":
        raise DataOpsError(f"Run {run_id} is still running (pid {row['pid']} on {row['host']}).")
    todo = tuple(s["step"] for s in project.ledger.step_runs(run_id) if s["status"] in RESUMABLE)
    if not todo:
        raise DataOpsError(f"Run {run_id} has nothing to resume: every step succeeded or was fresh.")
    params = row.params
    overrides = {
        f"{step}.{key}": value
        for step, values in params.items()
        if step in todo
        for key, value in values.items()
        if not (isinstance(value, dict) and "secret" in value)
    }
    return RunRequest(
        overrides=overrides, only=todo, jobs=jobs, env=row["environment"], force=True, resumed_from=run_id
    )


def require_inputs(project: Project, plans: list[StepPlan]) -> None:
    """Every file a planned step declares by name exists (checked before anything runs)."""
    for item in plans:
        for index, declared in enumerate(item.step.inputs):
            if is_url(declared) or is_pattern(declared):
                continue
            key = expand([declared], project.root)[0]
            if item.fingerprint.files.get(key) == MISSING:
                where = project.where("steps", project.spec.steps.index(item.step), "inputs", index)
                raise InputError(
                    f"{where} step '{item.step.name}' declares input {declared}, which does not exist.",
                    step=item.step.name, path=declared,
                )


def refuse_shared_publishes(project: Project, plans: list[StepPlan]) -> None:
    """Two steps that visibly publish one dataset: refused before anything runs (lint's NB107)."""
    from ..errors import ConflictError
    from .dataflow import spec_publishers

    for dataset, steps in spec_publishers(project, {item.step.name: item.parameters for item in plans}).items():
        if len(steps) > 1:
            (first, first_cell), (second, cell) = steps[:2]
            raise ConflictError(
                f"Steps '{first}' (cell {first_cell}) and '{second}' (cell {cell}) both publish {dataset}: "
                "a dataset has one publishing step."
            )


def require_secrets(plans: list[StepPlan]) -> None:
    """Every secret a planned step needs is set, and can be masked (checked before anything runs)."""
    from ..secrets import require_strong

    for item in plans:
        for name, env in item.step.secrets().items():
            if not os.environ.get(env):
                raise DataOpsError(
                    f"Step '{item.step.name}' needs secret parameter '{name}': "
                    f"set the environment variable {env}."
                )
    require_strong(sorted({env for item in plans for env in item.step.secrets().values()}))


class _Batch(ExitStack):
    """A ledger transaction opened by the first write that asks for it; `close()` commits it."""

    def __init__(self, runner: Runner) -> None:
        super().__init__()
        self.runner = runner
        self.opened = False

    def open(self) -> None:
        if not self.opened:
            self.enter_context(self.runner.ledger.transaction())
            self.opened = True

    def close(self) -> None:
        super().close()
        self.opened = False


class Runner:
    def __init__(self, project: Project, request: RunRequest, report: Reporter | None = None) -> None:
        self.project = project
        self.request = request
        self.report: Reporter = report or (lambda event: None)
        self.store = project.store
        from ..notify.run import RunAlerts

        self.alerts = RunAlerts(project, request.env)
        self.listeners: list[Reporter] = [LineageEmitter(project), self.alerts]
        # every secret of the spec, masked in every error, event and log line of the run
        self.secret_envs = tuple(secret_envs(project.spec))
        self.hidden_envs = tuple(sorted(hidden_envs(project.spec)))
        self.redactor = Redactor.from_env(self.secret_envs)
        self.env = project.environment(request.env)  # the environment whose "current" the run moves

    @property
    def ledger(self) -> Ledger:
        # opened once the run is known to be valid: bad input leaves a new project untouched
        return self.project.writable_ledger()

    def run(self, *, wait_for_lock: bool = True) -> RunSummary:
        versions = file_versions(self.project)
        plans = plan(self.project, self.request, versions=versions)
        require_secrets(plans)
        require_inputs(self.project, plans)
        refuse_shared_publishes(self.project, plans)
        # a ledger that cannot be opened (URL, server, credentials) refuses the run before anything is written
        self.project.writable_ledger()
        with RunLease(self.project, wait=wait_for_lock, report=self.report) as lease:
            self.lease = lease
            versions.save()  # the store exists now: the next plan need not hash the files again
            executor = make_executor(
                self.request.executor, jobs=max(1, self.request.jobs), steps=len(plans),
                address=self.request.dask_address, notebooks=[p.notebook for p in plans],
                project=self.project.root,
                hidden_env=frozenset(self.hidden_envs),
            )
            # started before the run is opened: a cluster that cannot be reached leaves no run behind
            executor.start()
            try:
                summary = self._run(plans, executor)
            except BaseException:
                executor.close()
                raise
        # the run has ended and nothing writes to the store any more: the next run may start
        # while this one's kernels shut down
        executor.close()
        return summary

    # --- the loop ---------------------------------------------------------------

    def _run(self, plans: list[StepPlan], executor: Executor) -> RunSummary:
        run_id = new_run_id()
        run_dir = self.store.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.log = RunLog(run_dir / "run.log")
        by_name = {p.step.name: p for p in plans}
        self._fingerprints = {p.step.name: p.fingerprint for p in plans}
        self._state: LedgerState | None = None
        self.warnings: dict[str, list[str]] = {}
        self.unchanged: dict[str, list[str]] = {}
        self._staged: dict[str, str] = {}  # version id -> the step of this run that staged it
        git = self.project.git_state()
        from .packages import kernel_packages
        params = {p.step.name: {**p.parameters, **_secret_refs(p.step)} for p in plans}
        with self.ledger.transaction():  # a run is never `running` without the lease that covers it
            self.ledger.open_run(
                run_id,
                **git,
                user=current_user(),
                environment=self.env,
                params=params,
                selection=list(by_name),
                pid=os.getpid(),
                host=this_host(),
                resumed_from=self.request.resumed_from,
                packages=kernel_packages(),
                replay_of=self.request.replay_of,
            )
            self.lease.attach(run_id)
        audit_log.record(self.ledger, audit_log.RUN_STARTED, target=run_id, secrets=_secret_values(plans), details={
            "environment": self.env, "steps": list(by_name), "params": params,
            "git_commit": git.get("git_commit"), "resumed_from": self.request.resumed_from,
        })
        with self.ledger.transaction():  # one round trip to a server for every step's row
            for name in by_name:
                self.ledger.set_step(run_id, name, status="pending")
        if self.request.replay_of is None:  # a replay runs an older spec: the catalog keeps today's
            from ..metadata.model import sync_spec

            sync_spec(self.project)  # the catalog knows the spec: reads after a run write nothing
        self._emit("run_started", run_id=run_id, steps=list(by_name))

        outcomes: dict[str, StepOutcome | None] = {name: None for name in by_name}
        skipped: dict[str, str] = {}
        state: dict[str, str] = {}
        pending = list(by_name)
        running: dict[Future[StepOutcome], str] = {}
        jobs = max(1, self.request.jobs)
        started_any = False
        try:
            while pending or running:
                self._check_cancelled(run_id)
                # the rows of steps found fresh or skipped one after another are written in one
                # transaction (one round trip to a server), committed before a step is started
                with _Batch(self) as batch:
                    for name in list(pending):
                        deps = [d for d in by_name[name].step.needs if d in by_name]
                        blocked = [d for d in deps if state.get(d) in FAILED]
                        if blocked:
                            pending.remove(name)
                            state[name] = "skipped"
                            skipped[name] = f"upstream step '{blocked[0]}' did not succeed"
                            batch.open()
                            self._skip(run_id, name, skipped[name])
                        elif all(state.get(d) in DONE for d in deps) and self._is_fresh(by_name[name]):
                            pending.remove(name)
                            state[name] = "fresh"
                            batch.open()
                            self._fresh(run_id, name)
                        elif all(state.get(d) in DONE for d in deps) and len(running) < jobs:
                            pending.remove(name)
                            state[name] = "running"
                            batch.close()
                            if not started_any:
                                started_any = _open_checks_engine()
                            running[executor.submit(self._task(run_id, by_name[name], 1))] = name
                if not running:
                    continue
                done, _ = wait(list(running), timeout=CANCEL_POLL_S, return_when=FIRST_COMPLETED)
                if not done:
                    continue
                self.lease.check()  # a runner that lost its lease commits nothing more
                for future in done:
                    name = running.pop(future)
                    outcome = _outcome(future, by_name[name].step.name)
                    plan_ = by_name[name]
                    if outcome.status != "success" and outcome.attempt <= plan_.step.retries:
                        self._retry(run_id, outcome)
                        task = self._task(run_id, plan_, outcome.attempt + 1, delay=_backoff(outcome.attempt))
                        running[executor.submit(task)] = name
                        continue
                    outcome = self._commit(run_id, outcome)
                    outcomes[name] = outcome
                    state[name] = outcome.status
        except RunCancelled as cancelled:
            return self._cancelled(run_id, cancelled, executor, running, pending, outcomes, skipped)
        except BaseException:
            for name in [*running.values(), *pending]:  # Ctrl-C: no step row is left running
                self.ledger.set_step(run_id, name, status="interrupted")
            self.ledger.end_run(run_id, "interrupted", "the runner was stopped")
            audit_log.record(self.ledger, audit_log.RUN_ENDED, target=run_id,
                         details={"status": "interrupted", "message": "the runner was stopped"})
            self._emit("run_finished", run_id=run_id, status="interrupted")
            raise
        failed = [name for name, s in state.items() if s in ("failed", "timed_out")]
        status = "failed" if failed else "success"
        message = None
        if failed:
            first = outcomes[failed[0]]
            message = f"step '{failed[0]}' {first.status if first else 'failed'}"
        self.ledger.end_run(run_id, status, message)
        audit_log.record(self.ledger, audit_log.RUN_ENDED, target=run_id, details={"status": status, "message": message})
        self._emit("run_finished", run_id=run_id, status=status)
        self.warnings[""] = self.alerts.warnings  # the run's own: a notification that could not go out
        warnings = {step: found for step, found in self.warnings.items() if found}
        return RunSummary(run_id=run_id, status=status, steps=outcomes, skipped=skipped, warnings=warnings,
                          unchanged={step: found for step, found in self.unchanged.items() if found})

    def _check_cancelled(self, run_id: str) -> None:
        request = requested(self.store.root, run_id)
        if request is not None:
            raise RunCancelled(request)

    def _cancelled(self, run_id: str, cancelled: RunCancelled, executor: Executor,
                   running: dict[Future[StepOutcome], str], pending: list[str],
                   outcomes: dict[str, StepOutcome | None], skipped: dict[str, str]) -> RunSummary:
        """Stop the running steps (interrupt, then kill after the grace period); commit nothing they
        staged; they and the steps not started become `interrupted`; the run ends `cancelled`."""
        self._emit("run_cancelling", run_id=run_id, by=cancelled.request.get("by"), grace_s=cancelled.grace,
                   steps=list(running.values()))
        executor.cancel(cancelled.grace)
        wait(list(running), timeout=cancelled.grace + 30)
        for name in [*running.values(), *pending]:
            self.ledger.set_step(run_id, name, status="interrupted", error=str(cancelled))
        message = f"{cancelled} ({len(running)} running step(s) stopped)"
        self.ledger.end_run(run_id, "cancelled", message)
        audit_log.record(self.ledger, audit_log.RUN_ENDED, target=run_id,
                         details={"status": "cancelled", "message": message, "by": cancelled.request.get("by")})
        self._emit("run_finished", run_id=run_id, status="cancelled")
        for name in running.values():
            skipped[name] = str(cancelled)
        return RunSummary(run_id=run_id, status="cancelled", steps=outcomes, skipped=skipped)

    def _emit(self, event: str, **fields: Any) -> None:
        record = self.log.event(event, **self.redactor.data(fields))
        for listener in self.listeners:
            listener(record)
        self.report(record)

    def _logged_error(self, run_id: str, step: str, error: str | None) -> str | None:
        """A step's error as run.log, the listeners (alerts, lineage) and the live report carry it:
        with the PII values of the datasets the step used masked, as for a reader who may not
        unmask them (whoever can read the run's directory reads its log). The ledger keeps the
        whole message for the readers who may see it (`metadata.pii.step_error`)."""
        from ..metadata.pii import NOBODY, step_error

        return step_error(self.project, NOBODY, run_id, step, error)

    def _task(self, run_id: str, plan_: StepPlan, attempt: int, *, delay: float = 0.0) -> StepTask:
        run_dir = self.store.run_dir(run_id)
        name = plan_.step.name
        context = {
            "project": str(self.project.root),
            "store": str(self.store.root),
            "run_id": run_id,
            "step": name,
            "attempt": attempt,
            "version_id": run_id,
            "manifest": str(run_dir / f"{name}.json"),
            "environment": self.env,
            "datasets": self._datasets(name),
            "secrets": plan_.step.secrets(),
            # the spec's PII tags: the kernel leaves their extremes out of the manifest it writes
            "pii": {ds: sorted(meta.pii_columns) for ds, meta in self.project.spec.datasets.items()
                    if meta.pii_columns},
        }
        # the notebook is saved cell by cell while the step runs: open it (and follow it) mid-run
        self.ledger.set_step(run_id, name, status="running", attempt=attempt, started_at=now(),
                             output_notebook=self.project.relative(run_dir / f"{name}.ipynb"))
        self._emit("step_started", step=name, attempt=attempt)
        return StepTask(
            run_id=run_id,
            step=name,
            notebook=str(plan_.notebook),
            output=str(run_dir / f"{name}.ipynb"),
            context=context,
            context_path=str(run_dir / ".context" / f"{name}.json"),
            manifest_path=context["manifest"],
            parameters=plan_.parameters,
            secret_envs=tuple(plan_.step.secrets().values()),
            run_secret_envs=self.secret_envs,
            hidden_envs=self.hidden_envs,
            timeout=plan_.step.timeout,
            attempt=attempt,
            delay=delay,
        )

    def _datasets(self, step: str) -> dict[str, dict[str, str]]:
        """What the step reads: the versions current in the run's environment, those pinned for it above them."""
        seen = {ds: {"version": v.version_id, "path": v.path} for ds, v in self.project.current_versions(self.env).items()}
        pinned = self.request.pins.get(step)
        if pinned:
            for v in self.ledger.versions.get_many(pinned.values()):
                seen[v.dataset] = {"version": v.version_id, "path": v.path}
        return seen

    def _retry(self, run_id: str, outcome: StepOutcome) -> None:
        """Keep the failed attempt's notebook beside the next one."""
        self._scrubbed(run_id, outcome, self._ancestry(outcome))
        if outcome.output_notebook:
            kept = Path(outcome.output_notebook).with_suffix(f".attempt-{outcome.attempt}.ipynb")
            os.replace(outcome.output_notebook, kept)
        manifest = self.store.run_dir(run_id) / f"{outcome.step}.json"
        if manifest.is_file():  # what the attempt read still decides who may see its notebook
            os.replace(manifest, manifest.with_suffix(f".attempt-{outcome.attempt}.json"))
        self._emit(
            "step_retry", step=outcome.step, attempt=outcome.attempt,
            error=self._logged_error(run_id, outcome.step, outcome.error),
            delay_s=_backoff(outcome.attempt),
        )

    def _is_fresh(self, plan_: StepPlan) -> bool:
        if self.request.force:
            return False
        if self._state is None:  # read once until a step commits (a no-op run of 50 steps reads it once)
            self._state = ledger_state(self.project, self.env)
        return not staleness(self.project, [plan_], self.env, state=self._state)[plan_.step.name]

    def _fresh(self, run_id: str, name: str) -> None:
        self.ledger.set_step(run_id, name, status="fresh", duration_s=0.0)
        self._emit("step_skipped", step=name, status="fresh", reason="fresh: nothing it depends on changed")

    def _skip(self, run_id: str, name: str, reason: str) -> None:
        self.ledger.set_step(run_id, name, status="skipped", error=reason)
        self._emit("step_skipped", step=name, reason=reason)

    def _commit(self, run_id: str, outcome: StepOutcome) -> StepOutcome:
        """Record the step; on success stage and promote its versions in one transaction."""
        self._state = None  # its run and versions change what the next steps' freshness is judged against
        ancestry = self._ancestry(outcome)
        outcome = self._scrubbed(run_id, outcome, ancestry)
        published = outcome.manifest.get("published", []) if outcome.status == "success" else []
        quarantined = False
        if outcome.status == "success":
            read = {r["dataset"]: r["version"] for r in outcome.manifest.get("read", []) if r.get("version")}
            planned = self._fingerprints[outcome.step]
            opened = {f["path"]: f["version"] for f in outcome.manifest.get("files", []) if f.get("path")}
            self._fingerprints[outcome.step] = replace(planned, inputs=read, files={**opened, **planned.files})
            try:
                self._promote(run_id, outcome, published, ancestry)
            except DataOpsError as exc:
                quarantined = isinstance(exc, QualityGateError) and exc.quarantined
                outcome = _failed(outcome, str(exc))
                published = []
        if outcome.error:  # a worker's own message, or a check's: masked here for every secret of the run
            outcome = replace(outcome, error=self.redactor.text(outcome.error))
        rel = self.project.relative(outcome.output_notebook) if outcome.output_notebook else None
        self.ledger.set_step(
            run_id,
            outcome.step,
            status=outcome.status,
            attempt=outcome.attempt,
            started_at=outcome.started_at,
            ended_at=outcome.ended_at,
            duration_s=outcome.duration_s,
            output_notebook=rel,
            error=outcome.error,
            # kept for quarantined versions too: once review accepts them the step is fresh
            fingerprint=self._fingerprints[outcome.step].to_json() if outcome.status == "success" or quarantined else None,
        )
        self._emit(
            "step_finished" if outcome.status == "success" else "step_error",
            step=outcome.step,
            status=outcome.status,
            attempt=outcome.attempt,
            duration_s=outcome.duration_s,
            output_notebook=rel,
            error=self._logged_error(run_id, outcome.step, outcome.error),
            rows=sum(int(p.get("rows") or 0) for p in published),
            published=[p["dataset"] for p in published],
            unchanged=self.unchanged.get(outcome.step, []),
            warnings=self.warnings.get(outcome.step, []),
        )
        return outcome

    def _ancestry(self, outcome: StepOutcome) -> Ancestry | None:
        """What the inputs of a step that published something were made from, read once for its
        commit (None: nothing published, or a lineage that cannot be read)."""
        if not outcome.manifest.get("published"):
            return None
        try:
            return self.ledger.ancestry(_inputs(outcome.manifest))
        except Exception:  # noqa: BLE001 - the publish reads it again and says why it cannot
            return None

    def _scrubbed(self, run_id: str, outcome: StepOutcome, ancestry: Ancestry | None) -> StepOutcome:
        """The outcome, and the manifest file beside its notebook, with no min or max of any PII
        column of what the step published (the kernel knew only the spec's tags and what it found)."""
        import json

        from ..metadata.pii import scrubbed_manifest, without_extremes

        if not outcome.manifest.get("published"):
            return outcome
        try:  # PII along column lineage, from one read of what the inputs were made from
            if ancestry is None:
                raise LookupError("the lineage of the inputs could not be read")
            manifest = scrubbed_manifest(self.project.spec, ancestry, outcome.manifest)
        except Exception:  # noqa: BLE001 - lineage that cannot be followed: no extremes at all
            manifest = {**outcome.manifest, "published": [
                {**item, "profile": without_extremes(item.get("profile"), [c.get("name") for c in item["profile"]])}
                if isinstance(item, dict) and isinstance(item.get("profile"), list) else item
                for item in outcome.manifest["published"]]}
        if manifest == outcome.manifest:
            return outcome
        path = self.store.run_dir(run_id) / f"{outcome.step}.json"
        if path.is_file():
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(manifest, indent=2))
            os.replace(tmp, path)
        return replace(outcome, manifest=manifest)

    def _promote(self, run_id: str, outcome: StepOutcome, published: list[dict[str, Any]],
                 ancestry: Ancestry | None) -> None:
        """Stage the step's versions, audit them, then promote them or quarantine them."""
        from ..metadata.model import dataset_meta
        from ..metadata.pii import described, pii_columns, with_inherited, without_extremes

        spec = self.project.spec
        inputs = _inputs(outcome.manifest)
        records = []
        current = self.project.current_versions(self.env) if published else {}
        twins: dict[str, VersionRecord] = {}  # staged version -> the current one with the same bytes
        if published and ancestry is None:  # what the inputs were made from (read once for the commit)
            ancestry = self.ledger.ancestry(inputs)
        for item in published:
            name = item["dataset"]
            if not DATASET_NAME.match(name) or item.get("version") != run_id:
                raise PublishError(f"The manifest of step '{outcome.step}' names an invalid version of {name}.")
            path = (self.store.root / item["path"]).resolve()  # the manifest's path is relative to the store
            if not path.is_file() or not path.is_relative_to(self.store.data_dir.resolve()):
                raise PublishError(f"Step '{outcome.step}' published {name}, but its file is missing.")
            taken = self._staged.get(f"{name}@{run_id}")  # the run's versions are this runner's
            if taken is not None:
                raise PublishError(
                    f"Step '{outcome.step}' published {name}, which step '{taken}' already published in this run."
                )
            _refuse_other_publisher(self.project, current, outcome.step, name)
            if not self.request.force and _same_content(path, current.get(name)):
                twins[f"{name}@{run_id}"] = current[name]
            profile, pii = described(item, path)
            pii = with_inherited(spec, ancestry, pii, item, inputs)  # PII follows column lineage
            profile = without_extremes(profile, pii_columns(spec, name, pii))
            records.append(
                VersionRecord(
                    version_id=f"{name}@{run_id}",
                    dataset=name,
                    run_id=run_id,
                    step=outcome.step,
                    path=str(path),
                    rows=item.get("rows"),
                    bytes=item.get("bytes"),
                    schema=item.get("schema", []),
                    status="staged",
                    created_at=outcome.ended_at,
                    environment=self.env,
                    profile=profile,
                    pii=pii,
                )
            )
        from ..quality.gate import audit, result_rows  # a run that executes nothing checks nothing

        try:
            results = audit(spec, self.ledger, records, outcome.manifest.get("checks", []), current)
        except DataOpsError:
            raise
        except Exception as exc:  # a check the data cannot answer (types, SQL): the step fails
            raise QualityGateError(f"quality checks could not run: {str(exc).splitlines()[0]}") from exc
        # re-published as it was, and it passes this run's checks: no new version, downstream stays
        # fresh (a check it fails now makes the version anyway, to quarantine; --force always does)
        for record in [r for r in records if r.version_id in twins]:
            if not any(result.status == "error" for result in results[record.version_id]):
                records.remove(record)
                results.pop(record.version_id)
                Path(record.path).unlink()
                self.unchanged.setdefault(outcome.step, []).append(
                    f"{record.dataset} (as {twins[record.version_id].version_id})")
        errors = [r for rs in results.values() for r in rs if r.status == "error"]
        made_by = {f"{item['dataset']}@{run_id}": item.get("sql") for item in published}  # column lineage
        kept = [twins[v].version_id for v in twins if v not in results]
        with self.ledger.transaction() as con:
            for version_id in kept:  # kept as it was, but read from these inputs in this run
                if self.ledger.lineage.inputs_of(version_id) != sorted(set(inputs)):
                    self.ledger.lineage.rederived(version_id, inputs, run_id)
            for record in records:
                self.ledger.stage_version(con, record, inputs, **dataset_meta(spec, record.dataset),
                                          sql=made_by.get(record.version_id))
                self.ledger.record_checks(
                    con, result_rows(record, results[record.version_id], run_id=run_id, step=outcome.step)
                )
            versions = [record.version_id for record in records]
            if errors:
                self.ledger.set_version_status(con, versions, "quarantined")
            else:
                self.ledger.promote(con, versions, environment=self.env, run_id=run_id)
            if versions:
                audit_log.record(self.ledger, audit_log.STATUS_CHANGED, target=run_id, con=con, details={
                    "step": outcome.step, "versions": versions, "status": "quarantined" if errors else "current",
                    "why": "error-severity checks failed" if errors else "checks passed",
                })
        self._staged.update((version_id, outcome.step) for version_id in versions)  # committed
        from ..quality.decisions import warning_lines

        self.warnings[outcome.step] = warning_lines(self.ledger, results)
        if errors:
            raise QualityGateError(
                "quality checks failed, versions quarantined: " + "; ".join(r.summary() for r in errors),
                quarantined=True,
            )


def _inputs(manifest: dict[str, Any]) -> list[str]:
    """The versions a step's manifest says it read."""
    return [r["version"] for r in manifest.get("read") or [] if isinstance(r, dict) and r.get("version")]


def _same_content(path: Path, current: VersionRecord | None) -> bool:
    """The staged file holds byte for byte what the current version holds (the parquet writer
    is deterministic: the same rows and schema give the same bytes)."""
    import hashlib

    if current is None or current.status != "current":
        return False
    previous = Path(current.path)
    if not previous.is_file() or previous.stat().st_size != path.stat().st_size:
        return False

    def digest(file: Path) -> bytes:
        with file.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()

    return digest(previous) == digest(path)


def _refuse_other_publisher(project: Project, current: dict[str, VersionRecord], step: str, dataset: str) -> None:
    """A dataset whose current version another step of the spec published (in an earlier
    run, under a name no static reading could see): the second publisher fails."""
    owner = current.get(dataset)
    if owner is None or owner.step == step or owner.step not in project.spec.step_names:
        return  # a new dataset, the same step, or a step that is gone: the dataset changes hands
    raise PublishError(
        f"Step '{step}' published {dataset}, whose current version step '{owner.step}' published "
        f"(run {owner.run_id}); a dataset has one publishing step, so nothing of '{step}' was promoted "
        f"(change one of the two names, or remove step '{owner.step}' from the spec)."
    )


def _open_checks_engine() -> bool:
    """Import and open DuckDB for the quality gate while the first step runs: its commit
    then starts at once (about 0.1 s on 2 cores)."""
    import threading

    from ..store import scratch

    threading.Thread(target=lambda: scratch().close(), name="checks-engine", daemon=True).start()
    return True


def _secret_values(plans: list[StepPlan]) -> list[str]:
    from ..security import secret_values

    return secret_values(env for p in plans for env in p.step.secrets().values())


def _secret_refs(step: Step) -> dict[str, Any]:
    return {name: {"secret": env} for name, env in step.secrets().items()}


def _backoff(attempt: int) -> float:
    return min(30.0, 0.5 * 2 ** (attempt - 1))


def _outcome(future: Future[StepOutcome], step: str) -> StepOutcome:
    """The step's outcome; a worker that died counts as the step failing."""
    try:
        return future.result()
    except Exception as exc:
        stamp = now()
        return StepOutcome(step, "failed", stamp, stamp, 0.0, "", 1, f"the worker failed: {exc}")


def _failed(outcome: StepOutcome, error: str) -> StepOutcome:
    return replace(outcome, status="failed", error=error)

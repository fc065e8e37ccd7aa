"""Environments: namespaces of "current", their promotion and their rollback.

An environment is a set of pointers in the ledger (dataset -> version), not a copy of the data.
A run in an environment moves its pointers only; what it does not build it reads from its base
(the default environment unless `environments.<name>.base` says otherwise). Promotion points
the target at the source's versions in one ledger transaction, rollback points back at earlier
versions; both go to the audit log. Nothing here copies or rewrites a data file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import audit
from .errors import ConflictError, DataOpsError, NotFoundError
from .ledger import VersionStatus
from .project import Project

KEPT = (VersionStatus.CURRENT, VersionStatus.SUPERSEDED)


class PromotionRefusedError(ConflictError):
    """A promotion whose versions the target must not get (named with why): a conflict with what
    the target has (409 from the server), exit 1 from the CLI."""

    exit_code = 1

    def __init__(self, source: str, target: str, refused: dict[str, str]) -> None:
        reasons = "; ".join(f"{dataset}: {why}" for dataset, why in refused.items())
        super().__init__(f"Promoting {source} to {target} is refused: {reasons}.")
        self.source, self.target, self.refused = source, target, refused


# --- which environments there are ----------------------------------------------------------


def known(project: Project) -> list[str]:
    """The default environment, the spec's and every one the ledger has pointers of."""
    names = {project.spec.default_environment, *project.spec.environments}
    if project.has_ledger():
        names.update(row["environment"] for row in project.ledger.versions.environments())
    return sorted(names)


def require_known(project: Project, name: str) -> str:
    """`name` if it is an environment that exists (bad input otherwise: one sentence, exit 2)."""
    project.environment(name)
    if name not in known(project):
        raise NotFoundError("environment", name, known(project))
    return name


def list_environments(project: Project) -> list[dict[str, Any]]:
    counts = {row["environment"]: row for row in project.ledger.versions.environments()} if project.has_ledger() else {}
    result = []
    for name in known(project):
        row = counts.get(name)
        result.append({
            "environment": name,
            "base": project.spec.base_of(name),
            "default": name == project.spec.default_environment,
            "declared": name in project.spec.environments,
            "datasets": row["datasets"] if row else 0,
            "updated_at": row["updated_at"] if row else None,
            "differs": len(_differences(project, name)) if project.has_ledger() else 0,
        })
    return result


def _differences(project: Project, name: str) -> dict[str, tuple[str, str | None]]:
    """Dataset -> (its version in `name`, its base's) where `name` points elsewhere than its base reads."""
    base = project.spec.base_of(name)
    if base is None or not project.has_ledger():
        return {}
    own = project.ledger.versions.pointers(name)
    reads = project.current_versions(base)
    return {dataset: (version, reads[dataset].version_id if dataset in reads else None)
            for dataset, version in own.items()
            if dataset not in reads or reads[dataset].version_id != version}


def show_environment(project: Project, name: str) -> dict[str, Any]:
    """Each dataset `name` reads: its version, whether it is its own or its base's, and what differs."""
    require_known(project, name)
    chain = project.spec.environment_chain(name)
    own = project.ledger.versions.pointers(name) if project.has_ledger() else {}
    differs = _differences(project, name)
    datasets = []
    for dataset, version in project.current_versions(name).items():
        datasets.append({
            "dataset": dataset, "version": version.version_id, "rows": version.rows, "step": version.step,
            "from": name if own.get(dataset) == version.version_id else _provider(project, chain, dataset),
            "base_version": differs[dataset][1] if dataset in differs else None,
            "differs": dataset in differs,
        })
    return {"environment": name, "base": project.spec.base_of(name), "chain": chain,
            "default": name == project.spec.default_environment, "datasets": datasets}


def _provider(project: Project, chain: list[str], dataset: str) -> str | None:
    for env in chain:
        if dataset in project.ledger.versions.pointers(env):
            return env
    return None


def drop_environment(project: Project, name: str, *, user: str | None = None,
                     origin: str | None = None) -> dict[str, Any]:
    """`name` points at nothing any more; its versions current nowhere else become collectable."""
    require_known(project, name)
    if name == project.spec.default_environment:
        raise DataOpsError(f"The default environment '{name}' cannot be dropped.")
    ledger = project.writable_ledger()
    with ledger.transaction():
        pointers = ledger.versions.pointers(name)
        changes = ledger.versions.drop_environment(name)
        released = [c.version_id for c in changes if c.after is VersionStatus.SUPERSEDED]
        audit.record(ledger, audit.ENV_DROPPED, user=user, origin=origin, target=name,
                     details={"pointers": pointers, "released": released})
    return {"environment": name, "dropped": pointers, "released": released}


# --- promotion ------------------------------------------------------------------------------


@dataclass
class Move:
    dataset: str
    version: str
    replaces: str | None
    checks: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why the target must not get it
    forcible: bool = False  # a problem --force overrides (inputs that moved on in the target)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "from": self.replaces, "to": self.version, "checks": self.checks,
                "problem": self.problem, "forcible": self.forcible}


def promotion_plan(project: Project, source: str, target: str | None = None) -> list[Move]:
    """What promoting `source` to `target` (default: the default environment) changes, and what it must not."""
    from .metadata.pages import quality
    from .quality.checks import check_label

    target = target or project.spec.default_environment
    require_known(project, source)
    project.environment(target)
    if source == target:
        raise DataOpsError(f"Cannot promote {source} to itself: name another target with --to.")
    if not project.has_ledger():
        return []
    versions = project.ledger.versions
    theirs = versions.pointers(target)
    moving = {d: v for d, v in versions.pointers(source).items() if theirs.get(d) != v}
    after = {name: v.version_id for name, v in project.current_versions(target).items()} | moving
    records = {v.version_id: v for v in versions.get_many(moving.values())}
    plan = []
    for dataset, version_id in moving.items():
        record = records[version_id]
        results = quality(project.ledger, version_id)["checks"]  # each with the decision closing it
        counts = {status: sum(1 for r in results if r["status"] == status) for status in ("pass", "warn", "error")}
        move = Move(dataset, version_id, theirs.get(dataset), counts)
        unwaived = [check_label(r["origin"], r["check"]) for r in results if r["status"] == "error" and not r["decision"]]
        if record.status is not VersionStatus.CURRENT:
            move.problem = "quarantined" if record.status is VersionStatus.QUARANTINED else f"{record.status}, unchecked"
        elif unwaived:
            move.problem = "failed error checks: " + ", ".join(unwaived)
        else:
            stale = [i for i in project.ledger.lineage.inputs_of(version_id)
                     if after.get(i.split("@")[0]) not in (None, i)]
            if stale:
                built = ", ".join(f"{i} (the target would have {after[i.split('@')[0]]})" for i in stale)
                move.problem, move.forcible = f"built from {built}", True
        plan.append(move)
    return plan


def promote(project: Project, source: str, target: str | None = None, *, force: bool = False,
            user: str | None = None, origin: str | None = None) -> dict[str, Any]:
    """Point `target` at `source`'s versions in one ledger transaction: nothing recomputed, no file copied."""
    target = target or project.spec.default_environment
    plan = promotion_plan(project, source, target)
    refused = {m.dataset: m.problem for m in plan if m.problem and not (force and m.forcible)}
    if refused:
        raise PromotionRefusedError(source, target, refused)  # type: ignore[arg-type]
    ledger = project.writable_ledger()
    with ledger.transaction():
        for move in plan:
            ledger.versions.transition([move.version], VersionStatus.CURRENT, environment=target, action="promote")
        if plan:
            audit.record(ledger, audit.PROMOTED, user=user, origin=origin, target=target, details={
                "from": source, "to": target, "force": force,
                "moves": [{"dataset": m.dataset, "from": m.replaces, "to": m.version} for m in plan],
            })
    return {"from": source, "to": target, "applied": True, "moves": [m.as_dict() for m in plan]}


# --- rollback -------------------------------------------------------------------------------


def rollback(project: Project, dataset: str, *, to: str | None = None, env: str | None = None,
             user: str | None = None, origin: str | None = None) -> dict[str, Any]:
    """Point `env` (default: the default environment) at an earlier version of `dataset`:
    `to`, else the one it had current before."""
    from .metadata.retention import parse_version
    from .spec import validate_dataset_name

    validate_dataset_name(dataset)
    name = require_known(project, project.environment(env))
    versions = project.ledger.versions
    current = versions.pointers(name).get(dataset) if project.has_ledger() else None
    if current is None:
        raise NotFoundError(f"dataset with a current version in {name}", dataset,
                            versions.pointers(name) if project.has_ledger() else ())
    if to is None:
        chosen = versions.previous_in(name, dataset, current)
        if chosen is None:
            raise DataOpsError(f"{dataset} has no earlier version in {name} to roll back to.")
    else:
        chosen, _run = parse_version(dataset, to)
        record = versions.get(chosen)
        if record is None:
            raise NotFoundError(f"version of {dataset}", to, [v.version_id for v in versions.of_dataset(dataset)])
        if record.status not in KEPT:
            raise DataOpsError(f"Version {chosen} is {record.status}: only a kept version can be current again.")
    ledger = project.writable_ledger()
    with ledger.transaction():
        ledger.versions.transition([chosen], VersionStatus.CURRENT, environment=name, action="rollback")
        audit.record(ledger, audit.ROLLED_BACK, user=user, origin=origin, target=dataset,
                     details={"environment": name, "from": current, "to": chosen})
    return {"environment": name, "moves": [{"dataset": dataset, "from": current, "to": chosen}], "skipped": []}


def rollback_run(project: Project, run_id: str, *, user: str | None = None,
                 origin: str | None = None) -> dict[str, Any]:
    """Undo what run `run_id` made current: each pointer it moved that still points at its version
    points again at the version it replaced (or at nothing, where it had none)."""
    from .ledger import validate_run_id

    validate_run_id(run_id)
    if not project.has_ledger() or project.ledger.run(run_id) is None:
        raise NotFoundError("run", run_id, [r["run_id"] for r in project.ledger.runs.recent(20)]
                            if project.has_ledger() else ())
    ledger = project.writable_ledger()
    moves, skipped = [], []
    with ledger.transaction():
        for row in ledger.versions.pointed_by_run(run_id):
            env, dataset, made, previous = row["environment"], row["dataset"], row["version_id"], row["previous_id"]
            if ledger.versions.pointers(env).get(dataset) != made:
                skipped.append({"dataset": dataset, "environment": env, "why": "made current again since"})
                continue
            record = ledger.versions.get(previous) if previous else None
            if previous and (record is None or record.status not in KEPT):
                skipped.append({"dataset": dataset, "environment": env,
                                "why": f"the version before, {previous}, is {record.status if record else 'gone'}"})
                continue
            if previous:
                ledger.versions.transition([previous], VersionStatus.CURRENT, environment=env, action="rollback")
            else:
                ledger.versions.transition([made], VersionStatus.SUPERSEDED, environment=env, action="rollback")
            moves.append({"dataset": dataset, "environment": env, "from": made, "to": previous})
        if moves:
            audit.record(ledger, audit.ROLLED_BACK, user=user, origin=origin, target=run_id,
                         details={"run": run_id, "moves": moves})
    return {"run_id": run_id, "moves": moves, "skipped": skipped}

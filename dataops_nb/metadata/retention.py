"""Old versions: listing them, reading the past (`as_of`), and deleting what retention allows.

Retention is per dataset: `keep_versions: N` in dataops.yaml keeps the N newest versions
that passed the quality gate (the current one among them). Without it, every version is
kept. `gc` deletes only superseded versions beyond N; it never touches a current,
quarantined or staged version, and never runs while a run is in flight (see `gc`).

A deleted version keeps its ledger row, with status `deleted` and its path, so lineage
history and check history stay intact; only the parquet file goes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConflictError, DataOpsError, NotFoundError
from ..ledger import Ledger, VersionRecord, VersionStatus, now, validate_run_id
from ..spec import validate_dataset_name

# --- listing ------------------------------------------------------------------------------


def keep_versions(project: Any, dataset: str) -> int | None:
    """The dataset's retention from the spec; None keeps every version."""
    meta = project.spec.datasets.get(dataset)
    return meta.keep_versions if meta else None


def versions(project: Any, dataset: str) -> list[dict[str, Any]]:
    """Every version of `dataset`, newest first, with whether the next gc would delete it."""
    validate_dataset_name(dataset)
    ledger = project.ledger
    found = ledger.versions.with_notebooks(dataset)
    if not found:
        raise NotFoundError("dataset", dataset, ledger.catalog.dataset_names())
    doomed = {e.version.version_id for e in _expired(project, dataset)}
    current_in = ledger.versions.current_in(version.version_id for version, _row in found)
    return [
        {
            "version": version.version_id,
            "status": version.status,
            "environment": version.environment,  # built in
            "current_in": current_in.get(version.version_id, []),
            "run_id": version.run_id,
            "step": version.step,
            "rows": version.rows,
            "bytes": version.bytes,
            "created_at": version.created_at,
            "promoted_at": row["promoted_at"],
            "notebook": row["output_notebook"],
            "path": project.relative(version.path),
            "readable": version.status != "deleted" and Path(version.path).is_file(),
            "expires": version.version_id in doomed,
        }
        for version, row in found
    ]


# --- time travel -----------------------------------------------------------------------------


def resolve_as_of(ledger: Any, dataset: str, run_id: str) -> VersionRecord:
    """The version of `dataset` that was current when run `run_id` ended.

    `ledger` is a `Ledger` or the path of `ledger.db` (opened read-only: what the runtime
    in a kernel passes). Promotion times decide: the
    version promoted last before the run's end (its start + now while it is running),
    minus versions a reviewer quarantined before then. The result may be `deleted` (its
    file removed by gc): `as_of_path` turns that into a clear error.
    """
    validate_dataset_name(dataset)
    validate_run_id(run_id, what="run id for as_of")
    opened = None
    if isinstance(ledger, (str, os.PathLike)):
        path = Path(ledger)
        if not path.is_file():
            raise DataOpsError(f"No ledger at {path}: nothing has run in this project yet.")
        ledger = opened = Ledger.open(path, readonly=True)
    try:
        run = ledger.runs.get(run_id)
        if run is None:
            raise NotFoundError("run", run_id, [r.run_id for r in ledger.runs.recent(20)])
        found = ledger.versions.current_at(dataset, run.ended_at or now())
    finally:
        if opened is not None:
            opened.close()
    if found is None:
        raise DataOpsError(f"{dataset} had no current version when run {run_id} ended.")
    return found


def as_of_path(ledger: Any, dataset: str, run_id: str) -> tuple[VersionRecord, Path]:
    """`resolve_as_of` plus the file to read, or a clear error when gc has deleted it."""
    version = resolve_as_of(ledger, dataset, run_id)
    path = Path(version.path)
    if version.status == "deleted" or not path.is_file():
        with _opened(ledger) as opened:
            raise collected(opened, version, f" (current when run {run_id} ended)")
    return version, path


def missing_version(ledger: Any, dataset: str, version_id: str, asked: str) -> DataOpsError:
    """Why version `version_id` has no file: gc collected it (when, by whom, under which
    policy), or no such version ever existed. The same sentence as `as_of` gives."""
    if isinstance(ledger, (str, os.PathLike)) and not Path(ledger).is_file():
        return NotFoundError(f"version of {dataset}", asked)
    with _opened(ledger) as opened:
        record = opened.versions.get(version_id)
        if record is None or record.status != "deleted":
            known = [v.version_id.partition("@")[2] for v in opened.versions.of_dataset(dataset)]
            return NotFoundError(f"version of {dataset}", asked, known)
        return collected(opened, record)


def collected(ledger: Ledger, version: VersionRecord, context: str = "") -> DataOpsError:
    """`VERSION was deleted by gc on WHEN by WHO (POLICY); it can no longer be read.`"""
    from .. import audit

    for entry in reversed(ledger.audit.entries(action=audit.GC_DELETED)):
        for item in entry.details.get("versions", []):
            if item.get("version") == version.version_id:
                return DataOpsError(
                    f"{version.version_id}{context} was deleted by gc on {entry.at[:19].replace('T', ' ')} UTC "
                    f"by {entry.user} ({item.get('reason') or 'keep_versions of ' + version.dataset}); "
                    "it can no longer be read."
                )
    return DataOpsError(
        f"{version.version_id}{context} was deleted by gc (keep_versions of {version.dataset}); "
        "it can no longer be read."
    )


@contextmanager
def _opened(ledger: Any) -> Iterator[Ledger]:
    """`ledger` itself, or the ledger at that path opened read-only for the block."""
    if not isinstance(ledger, (str, os.PathLike)):
        yield ledger
        return
    opened = Ledger.open(Path(ledger), readonly=True)
    try:
        yield opened
    finally:
        opened.close()


def parse_version(dataset: str, version: str) -> tuple[str, str]:
    """`staging.t@RUN` or a bare `RUN` -> (version id, run id), for `step.read(name, version=...)`."""
    if "@" in version:
        name, _, run_id = version.partition("@")
        if name != dataset:
            raise DataOpsError(f"Version {version} is not a version of {dataset}.")
    else:
        run_id = version
    validate_run_id(run_id, what="version (a run id, or dataset@run id)")
    return f"{dataset}@{run_id}", run_id


# --- garbage collection --------------------------------------------------------------------


@dataclass(frozen=True)
class Expired:
    """A version gc would delete, and why."""

    version: VersionRecord
    keep_versions: int
    reason: str


@dataclass(frozen=True)
class GcResult:
    dry_run: bool
    deleted: tuple[Expired, ...]
    bytes_freed: int
    missing_files: tuple[str, ...] = ()  # rows marked deleted whose file was already gone
    swept: tuple[str, ...] = ()  # files of earlier deleted rows removed now (an interrupted gc)
    blocked_by: tuple[str, ...] = field(default_factory=tuple)  # running runs (dry runs only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "deleted": [
                {"version": e.version.version_id, "dataset": e.version.dataset, "bytes": e.version.bytes,
                 "keep_versions": e.keep_versions, "reason": e.reason}
                for e in self.deleted
            ],
            "bytes_freed": self.bytes_freed,
            "missing_files": list(self.missing_files),
            "swept": list(self.swept),
            "blocked_by": list(self.blocked_by),
        }


def plan_gc(project: Any, datasets: Iterable[str] | None = None) -> list[Expired]:
    """The superseded versions beyond each dataset's `keep_versions`, oldest last."""
    if not project.has_ledger():
        return []
    names = list(datasets) if datasets is not None else project.ledger.catalog.dataset_names()
    return [item for name in names for item in _expired(project, name)]


def _expired(project: Any, dataset: str) -> list[Expired]:
    keep = keep_versions(project, dataset)
    if keep is None:
        return []
    expired = []
    for position, version in enumerate(project.ledger.versions.good(dataset)):
        if position < keep or version.status != "superseded":
            continue
        expired.append(Expired(version, keep, f"superseded; {dataset} keeps its {keep} newest good version(s)"))
    return expired


def running_runs(project: Any) -> list[str]:
    """Runs the ledger says are in flight (a runner on this host that died does not count)."""
    if not project.has_ledger():
        return []
    rows = sorted(project.ledger.runs.in_flight(), key=lambda r: r.run_id)
    return [f"{r['run_id']} (pid {r['pid']} on {r['host']})" for r in rows]


def gc(project: Any, *, dry_run: bool = False, datasets: Iterable[str] | None = None) -> GcResult:
    """Delete the superseded versions beyond `keep_versions`; keep their ledger rows as `deleted`.

    Reads are recorded in a step's manifest and reach the ledger only when the step is
    committed, so while a run is in flight gc cannot know every version it has read:
    gc holds the project's run lock (no run starts meanwhile) and refuses when a run
    holds it or the ledger has a run still `running`. A dry run never takes the lock; it
    reports what it would delete and which runs would block it.
    """
    if dry_run:
        plan = plan_gc(project, datasets)
        return GcResult(True, tuple(plan), sum(int(e.version.bytes or 0) for e in plan),
                        blocked_by=tuple(running_runs(project)))
    from ..runner.lease import RunLease

    if not project.has_ledger():
        return GcResult(False, (), 0)
    try:
        lock = RunLease(project, wait=False)
        lock.__enter__()
    except ConflictError as exc:
        raise ConflictError(f"{exc} gc deletes nothing while a run is in flight; try again when it ends.") from None
    try:
        running = running_runs(project)
        if running:
            raise ConflictError(
                f"Run {running[0]} is in flight; gc deletes nothing while a run may be reading old versions."
            )
        return _collect(project, plan_gc(project, datasets))
    finally:
        lock.__exit__(None, None, None)


def _collect(project: Any, plan: list[Expired]) -> GcResult:
    ledger = project.writable_ledger()
    data_dir = project.store.data_dir.resolve()
    # refuse before anything changes: a row whose file lies outside the store stays as it is
    for item in plan:
        if not _inside(Path(item.version.path), data_dir):
            raise DataOpsError(
                f"{item.version.version_id}: {item.version.path} is outside the store ({data_dir}); "
                "gc deleted nothing."
            )
    # the ledger first, then the files: a crash in between leaves files to sweep, never a
    # ledger row that promises a file that is gone
    with ledger.transaction():
        ledger.versions.transition([item.version.version_id for item in plan], VersionStatus.DELETED)
        if plan:
            from .. import audit

            audit.record(ledger, audit.GC_DELETED, details={"versions": [
                {"version": e.version.version_id, "bytes": e.version.bytes, "reason": e.reason} for e in plan
            ]})
    freed, missing = 0, []
    for item in plan:
        path = Path(item.version.path)
        try:
            size = path.stat().st_size
            path.unlink()
            freed += size
        except FileNotFoundError:
            missing.append(item.version.version_id)
    planned = {item.version.version_id for item in plan}
    swept = []
    for version in ledger.versions.with_status(VersionStatus.DELETED):
        path = Path(version.path)
        if version.version_id not in planned and _inside(path, data_dir) and path.is_file():
            path.unlink()
            swept.append(version.version_id)
    return GcResult(False, tuple(plan), freed, tuple(missing), tuple(swept))


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except OSError:
        return False


def expired_dicts(plan: Iterable[Expired]) -> list[dict[str, Any]]:
    return [{**asdict(e.version), "keep_versions": e.keep_versions, "reason": e.reason} for e in plan]

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
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConflictError, DataOpsError, NotFoundError
from ..ledger import VersionRecord, now, resolve_stored_path, validate_run_id, version_record
from ..spec import validate_dataset_name

# The ledger columns this feature adds (append to `ledger.MIGRATIONS` as one entry):
# `sql`, the SQL a version was published from (column lineage), and `deleted_at`.
# --- listing ------------------------------------------------------------------------------


def keep_versions(project: Any, dataset: str) -> int | None:
    """The dataset's retention from the spec; None keeps every version."""
    meta = project.spec.datasets.get(dataset)
    return meta.keep_versions if meta else None


def versions(project: Any, dataset: str) -> list[dict[str, Any]]:
    """Every version of `dataset`, newest first, with whether the next gc would delete it."""
    validate_dataset_name(dataset)
    ledger = project.ledger
    rows = ledger.query(
        "SELECT v.*, s.output_notebook FROM dataset_versions v "
        "LEFT JOIN step_runs s ON s.run_id = v.run_id AND s.step = v.step "
        "WHERE v.dataset = ? ORDER BY v.version_id DESC",
        (dataset,),
    )
    if not rows:
        known = [r[0] for r in ledger.query("SELECT name FROM datasets ORDER BY name")]
        raise NotFoundError("dataset", dataset, known)
    doomed = {e.version.version_id for e in _expired(project, dataset)}
    files = {row["version_id"]: Path(resolve_stored_path(row["path"], ledger.store_root)) for row in rows}
    return [
        {
            "version": row["version_id"],
            "status": row["status"],
            "run_id": row["run_id"],
            "step": row["step"],
            "rows": row["rows"],
            "bytes": row["bytes"],
            "created_at": row["created_at"],
            "promoted_at": row["promoted_at"],
            "notebook": row["output_notebook"],
            "path": project.relative(files[row["version_id"]]),
            "readable": row["status"] != "deleted" and files[row["version_id"]].is_file(),
            "expires": row["version_id"] in doomed,
        }
        for row in rows
    ]


# --- time travel -----------------------------------------------------------------------------


def resolve_as_of(ledger: Any, dataset: str, run_id: str) -> VersionRecord:
    """The version of `dataset` that was current when run `run_id` ended.

    `ledger` is a `Ledger`, a sqlite3 connection, or the path of `ledger.db` (opened
    read-only: what the runtime in a kernel should pass). Promotion times decide: the
    version promoted last before the run's end (its start + now while it is running),
    minus versions a reviewer quarantined before then. The result may be `deleted` (its
    file removed by gc): `as_of_path` turns that into a clear error.
    """
    validate_dataset_name(dataset)
    validate_run_id(run_id, what="run id for as_of")
    query, close, store_root = _querier(ledger)
    try:
        run = query("SELECT run_id, status, ended_at FROM runs WHERE run_id = ?", (run_id,))
        if not run:
            known = [r[0] for r in query("SELECT run_id FROM runs ORDER BY run_id DESC LIMIT 20", ())]
            raise NotFoundError("run", run_id, known)
        moment = run[0][2] or now()
        rows = query(
            "SELECT * FROM dataset_versions WHERE dataset = ? AND promoted_at IS NOT NULL AND promoted_at <= ? "
            "ORDER BY promoted_at DESC, version_id DESC",
            (dataset, moment),
        )
        quarantined = {
            r[0]: r[1]
            for r in query(
                "SELECT version_id, max(created_at) FROM reviews WHERE decision = 'quarantine' "
                "AND dataset = ? AND created_at <= ? GROUP BY version_id",
                (dataset, moment),
            )
        }
    finally:
        close()
    for row in rows:
        demoted = quarantined.get(row["version_id"])
        if demoted is not None and demoted >= row["promoted_at"]:
            continue
        return version_record(row, store_root)
    raise DataOpsError(f"{dataset} had no current version when run {run_id} ended.")


def as_of_path(ledger: Any, dataset: str, run_id: str) -> tuple[VersionRecord, Path]:
    """`resolve_as_of` plus the file to read, or a clear error when gc has deleted it."""
    version = resolve_as_of(ledger, dataset, run_id)
    path = Path(version.path)
    if version.status == "deleted" or not path.is_file():
        raise DataOpsError(
            f"{version.version_id} (current when run {run_id} ended) was deleted by gc "
            f"(keep_versions of {dataset}); it can no longer be read."
        )
    return version, path


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
    names = list(datasets) if datasets is not None else [
        r[0] for r in project.ledger.query("SELECT name FROM datasets ORDER BY name")
    ]
    return [item for name in names for item in _expired(project, name)]


def _expired(project: Any, dataset: str) -> list[Expired]:
    keep = keep_versions(project, dataset)
    if keep is None:
        return []
    rows = project.ledger.query(
        "SELECT * FROM dataset_versions WHERE dataset = ? AND status IN ('current', 'superseded') "
        "ORDER BY version_id DESC",
        (dataset,),
    )
    expired = []
    for position, row in enumerate(rows):
        if position < keep or row["status"] != "superseded":
            continue
        expired.append(
            Expired(version_record(row, project.ledger.store_root), keep,
                    f"superseded; {dataset} keeps its {keep} newest good version(s)")
        )
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
    from ..runner.run import RunLock

    if not project.has_ledger():
        return GcResult(False, (), 0)
    try:
        lock = RunLock(project.store.root / "run.lock", wait=False, report=lambda event: None)
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
    stamp = now()
    has_deleted_at = "deleted_at" in _columns(ledger)
    # the ledger first, then the files: a crash in between leaves files to sweep, never a
    # ledger row that promises a file that is gone
    with ledger.transaction() as con:
        for item in plan:
            if has_deleted_at:
                con.execute(
                    "UPDATE dataset_versions SET status = 'deleted', deleted_at = ? "
                    "WHERE version_id = ? AND status = 'superseded'",
                    (stamp, item.version.version_id),
                )
            else:
                con.execute(
                    "UPDATE dataset_versions SET status = 'deleted' WHERE version_id = ? AND status = 'superseded'",
                    (item.version.version_id,),
                )
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
    for row in ledger.query("SELECT version_id, path FROM dataset_versions WHERE status = 'deleted'"):
        path = Path(resolve_stored_path(row["path"], ledger.store_root))
        if row["version_id"] not in planned and _inside(path, data_dir) and path.is_file():
            path.unlink()
            swept.append(row["version_id"])
    return GcResult(False, tuple(plan), freed, tuple(missing), tuple(swept))


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except OSError:
        return False


# --- plumbing ------------------------------------------------------------------------------


def _columns(ledger: Any) -> list[str]:
    return [r[1] for r in ledger.query("PRAGMA table_info(dataset_versions)")]


def _querier(source: Any) -> tuple[Any, Any, Path]:
    """(query(sql, args) -> rows with names, close(), store root) over a Ledger, a connection or a path.

    The store root (the ledger's folder) is what version paths are relative to.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataOpsError(f"No ledger at {path}: nothing has run in this project yet.")
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        con.row_factory = sqlite3.Row
        return (lambda sql, args: con.execute(sql, tuple(args)).fetchall()), con.close, path.parent.resolve()
    if isinstance(source, sqlite3.Connection):
        main = next((row[2] for row in source.execute("PRAGMA database_list") if row[1] == "main"), "")
        root = Path(main).parent.resolve() if main else Path.cwd()

        def query(sql: str, args: Iterable[Any]) -> list[Any]:
            previous = source.row_factory
            source.row_factory = sqlite3.Row
            try:
                return source.execute(sql, tuple(args)).fetchall()
            finally:
                source.row_factory = previous

        return query, lambda: None, root
    return source.query, lambda: None, source.store_root


def expired_dicts(plan: Iterable[Expired]) -> list[dict[str, Any]]:
    return [{**asdict(e.version), "keep_versions": e.keep_versions, "reason": e.reason} for e in plan]

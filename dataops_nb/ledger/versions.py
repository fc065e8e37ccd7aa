"""Datasets' versions: staged by a step, then current, quarantined, superseded or deleted.

`transition` is the one place a version's status changes. It refuses a move the life
cycle does not allow (`IllegalTransitionError`) and makes the moves that follow from it in
the same transaction: a version that becomes current supersedes the dataset's current one;
a current version that is quarantined hands "current" back to the newest superseded one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IllegalTransitionError, NotFoundError
from .catalog import CatalogRepository
from .db import Database, Row, placeholders
from .paths import resolve_stored_path, stored_path
from .records import VersionRecord, VersionStatus, now

STAGED_COLUMNS = ("version_id", "dataset", "run_id", "step", "path", "rows", "bytes", "schema", "status",
                  "created_at", "sql")
S = VersionStatus
# what each status may become; staying where it is changes nothing and is always allowed
ALLOWED: dict[VersionStatus, frozenset[VersionStatus]] = {
    S.STAGED: frozenset({S.CURRENT, S.QUARANTINED}),
    S.QUARANTINED: frozenset({S.CURRENT}),
    S.CURRENT: frozenset({S.SUPERSEDED, S.QUARANTINED}),
    S.SUPERSEDED: frozenset({S.CURRENT, S.DELETED}),
    S.DELETED: frozenset(),
}


@dataclass(frozen=True)
class StatusChange:
    version_id: str
    dataset: str
    before: VersionStatus
    after: VersionStatus


class VersionRepository:
    def __init__(self, db: Database, store_root: Path, catalog: CatalogRepository) -> None:
        self.db = db
        self.store_root = store_root
        self.catalog = catalog

    # --- writes -----------------------------------------------------------------

    def stage(
        self,
        version: VersionRecord,
        inputs: Iterable[str],
        *,
        description: str = "",
        owner: str | None = None,
        tags: Iterable[str] = (),
        freshness: dict[str, Any] | None = None,
        columns: dict[str, dict[str, Any]] | None = None,
        in_spec: bool = False,
        sql: str | None = None,
    ) -> None:
        """Record a staged version; `sql` made it, when known.

        The dataset's spec metadata (description, owner, tags, freshness SLA, columns) is
        refreshed, and the version's column profile and auto-flagged PII are kept.
        """
        with self.db.transaction():
            self.catalog.write_dataset_meta(
                version.dataset, description=description, owner=owner, tags=tags,
                freshness=freshness, columns=columns or {}, in_spec=in_spec,
            )
            self.db.execute(
                f"INSERT INTO dataset_versions ({', '.join(STAGED_COLUMNS)}) VALUES ({placeholders(len(STAGED_COLUMNS))}) "
                "ON CONFLICT (version_id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in STAGED_COLUMNS[1:]),
                (
                    version.version_id, version.dataset, version.run_id, version.step,
                    stored_path(version.path, self.store_root), version.rows, version.bytes,
                    json.dumps(version.schema), str(version.status), version.created_at, sql,
                ),
            )
            self.db.executemany(
                "INSERT INTO lineage (version_id, input_version_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(version.version_id, source) for source in inputs],
            )
            if version.profile is not None:
                self.catalog.write_profile(version.version_id, version.profile, version.pii or {})
            self.catalog.reindex(version.dataset)

    def transition(self, version_ids: Iterable[str], to: VersionStatus | str) -> list[StatusChange]:
        """Move each version to status `to`, with the moves that follow; every change made.

        Refuses (changing nothing) a move the life cycle does not allow.
        """
        target = VersionStatus(to)
        changes: list[StatusChange] = []
        with self.db.transaction():
            for version_id in version_ids:
                row = self._status_row(version_id)
                before = VersionStatus(row["status"])
                if before == target:
                    continue
                if target not in ALLOWED[before]:
                    raise IllegalTransitionError(version_id, before, target)
                dataset = row["dataset"]
                if target is S.CURRENT:
                    for current in self._with_status(dataset, S.CURRENT):
                        changes.append(self._set(current, dataset, S.CURRENT, S.SUPERSEDED))
                changes.append(self._set(version_id, dataset, before, target))
                if target is S.CURRENT:
                    self.catalog.follow_current(dataset, version_id)
                elif before is S.CURRENT and target is S.QUARANTINED:
                    previous = self.db.query(
                        "SELECT version_id FROM dataset_versions WHERE dataset = ? AND status = 'superseded' "
                        "ORDER BY promoted_at DESC, version_id DESC LIMIT 1",
                        (dataset,),
                    )
                    if previous:
                        restored = previous[0]["version_id"]
                        changes.append(self._set(restored, dataset, S.SUPERSEDED, S.CURRENT, promote=False))
                        self.catalog.follow_current(dataset, restored)
        return changes

    def accept_quarantined(self, version_id: str) -> bool:
        """Promote an accepted quarantined version. When none of its step run's versions is left
        in quarantine, that step run becomes `accepted`: it counts as a success for freshness (its
        fingerprint was kept), so the next run does not redo it. Whether the step run became accepted."""
        with self.db.transaction():
            self.transition([version_id], S.CURRENT)
            rows = self.db.query("SELECT run_id, step FROM dataset_versions WHERE version_id = ?", (version_id,))
            if not rows or rows[0]["run_id"] is None or rows[0]["step"] is None:
                return False
            run_id, step = rows[0]["run_id"], rows[0]["step"]
            if self.db.query(
                "SELECT 1 FROM dataset_versions WHERE run_id = ? AND step = ? AND status IN ('quarantined', 'staged')",
                (run_id, step),
            ):
                return False
            changed = self.db.execute(
                "UPDATE step_runs SET status = 'accepted' WHERE run_id = ? AND step = ? AND status = 'failed' "
                "AND fingerprint IS NOT NULL",
                (run_id, step),
            )
            return bool(changed.rowcount)

    def _set(self, version_id: str, dataset: str, before: VersionStatus, after: VersionStatus,
             *, promote: bool = True) -> StatusChange:
        stamp = now()
        extra = ""
        args: tuple[Any, ...] = (after.value,)
        if after is S.CURRENT and promote:
            extra, args = ", promoted_at = ?", (after.value, stamp)
        elif after is S.DELETED:
            extra, args = ", deleted_at = ?", (after.value, stamp)
        self.db.execute(
            f"UPDATE dataset_versions SET status = ?{extra} WHERE version_id = ? AND status = ?",
            (*args, version_id, before.value),
        )
        return StatusChange(version_id, dataset, before, after)

    def _status_row(self, version_id: str) -> Row:
        rows = self.db.query("SELECT dataset, status FROM dataset_versions WHERE version_id = ?", (version_id,))
        if not rows:
            raise NotFoundError("version", version_id)
        return rows[0]

    def _with_status(self, dataset: str, status: VersionStatus) -> list[str]:
        rows = self.db.query(
            "SELECT version_id FROM dataset_versions WHERE dataset = ? AND status = ?", (dataset, status.value)
        )
        return [row["version_id"] for row in rows]

    # --- reads ------------------------------------------------------------------

    def current(self) -> dict[str, VersionRecord]:
        rows = self.db.query("SELECT * FROM dataset_versions WHERE status = 'current' ORDER BY dataset")
        return {row["dataset"]: version_record(row, self.store_root) for row in rows}

    def of_dataset(self, dataset: str) -> list[VersionRecord]:
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE dataset = ? ORDER BY created_at DESC, version_id DESC",
            (dataset,),
        )
        return [version_record(row, self.store_root) for row in rows]

    def of_run(self, run_id: str) -> list[VersionRecord]:
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE run_id = ? ORDER BY created_at, version_id", (run_id,)
        )
        return [version_record(row, self.store_root) for row in rows]

    def with_notebooks(self, dataset: str) -> list[tuple[VersionRecord, Row]]:
        """Every version of `dataset`, newest first, with its row (promoted_at, the step run's notebook)."""
        rows = self.db.query(
            "SELECT v.*, s.output_notebook FROM dataset_versions v "
            "LEFT JOIN step_runs s ON s.run_id = v.run_id AND s.step = v.step "
            "WHERE v.dataset = ? ORDER BY v.version_id DESC",
            (dataset,),
        )
        return [(version_record(row, self.store_root), row) for row in rows]

    def good(self, dataset: str) -> list[VersionRecord]:
        """Versions that passed the gate and are still kept (current, superseded), newest first."""
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE dataset = ? AND status IN ('current', 'superseded') "
            "ORDER BY version_id DESC",
            (dataset,),
        )
        return [version_record(row, self.store_root) for row in rows]

    def with_status(self, status: VersionStatus | str) -> list[VersionRecord]:
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE status = ? ORDER BY version_id", (VersionStatus(status).value,)
        )
        return [version_record(row, self.store_root) for row in rows]

    def current_at(self, dataset: str, moment: str) -> VersionRecord | None:
        """The version of `dataset` that was current at `moment`: promoted last before it, leaving
        out versions a reviewer quarantined after their promotion and before `moment`."""
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE dataset = ? AND promoted_at IS NOT NULL AND promoted_at <= ? "
            "ORDER BY promoted_at DESC, version_id DESC",
            (dataset, moment),
        )
        quarantined = {
            r["version_id"]: r["at"]
            for r in self.db.query(
                "SELECT version_id, max(created_at) AS at FROM reviews WHERE decision = 'quarantine' "
                "AND dataset = ? AND created_at <= ? GROUP BY version_id",
                (dataset, moment),
            )
        }
        for row in rows:
            demoted = quarantined.get(row["version_id"])
            if demoted is None or demoted < row["promoted_at"]:
                return version_record(row, self.store_root)
        return None

    def sql_of(self, version_id: str) -> str | None:
        """The SQL text the version was published from, when the runtime recorded it."""
        rows = self.db.query("SELECT sql FROM dataset_versions WHERE version_id = ?", (version_id,))
        return str(rows[0]["sql"]) if rows and rows[0]["sql"] else None

    def get(self, version_id: str) -> VersionRecord | None:
        rows = self.db.query("SELECT * FROM dataset_versions WHERE version_id = ?", (version_id,))
        return version_record(rows[0], self.store_root) if rows else None

    def every(self) -> list[VersionRecord]:
        """Every version of every dataset, whatever its status."""
        return [version_record(row, self.store_root) for row in self.db.query("SELECT * FROM dataset_versions")]

    def in_effect(self) -> dict[str, VersionRecord]:
        """Each dataset's version in effect: its current one, else its newest not staged nor deleted."""
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE status NOT IN ('staged', 'deleted') "
            "ORDER BY dataset, (status = 'current') DESC, version_id DESC"
        )
        effective: dict[str, VersionRecord] = {}
        for row in rows:
            effective.setdefault(row["dataset"], version_record(row, self.store_root))
        return effective

    def get_many(self, version_ids: Iterable[str]) -> list[VersionRecord]:
        """The versions of `version_ids` that exist, oldest first."""
        ids = list(dict.fromkeys(version_ids))
        if not ids:
            return []
        rows = self.db.query(
            f"SELECT * FROM dataset_versions WHERE version_id IN ({placeholders(len(ids))}) "
            "ORDER BY created_at, version_id",
            ids,
        )
        return [version_record(row, self.store_root) for row in rows]

    def promoted_at(self, version_id: str) -> str | None:
        """When the version last became current (None if it never did)."""
        rows = self.db.query("SELECT promoted_at FROM dataset_versions WHERE version_id = ?", (version_id,))
        return str(rows[0]["promoted_at"]) if rows and rows[0]["promoted_at"] else None


def version_record(row: Any, store_root: Path) -> VersionRecord:
    """A `dataset_versions` row, its path resolved against `store_root`."""
    return VersionRecord(
        version_id=row["version_id"],
        dataset=row["dataset"],
        run_id=row["run_id"],
        step=row["step"],
        path=resolve_stored_path(row["path"], store_root),
        rows=row["rows"],
        bytes=row["bytes"],
        schema=json.loads(row["schema"] or "[]"),
        status=VersionStatus(row["status"]),
        created_at=row["created_at"],
    )

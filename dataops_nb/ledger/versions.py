"""Datasets' versions: staged by a step, then current, quarantined, superseded or deleted.

`transition` is the one place a version's status changes. It refuses a move the life
cycle does not allow (`IllegalTransitionError`) and makes the moves that follow from it in
the same transaction: a version that becomes current supersedes the dataset's current one;
a current version that is quarantined hands "current" back to the newest superseded one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IllegalTransitionError, NotFoundError
from .catalog import CatalogRepository
from .db import Database, Row, placeholders
from .paths import resolve_stored_path, stored_path
from .records import VersionRecord, VersionStatus, now

STAGED_COLUMNS = ("version_id", "dataset", "run_id", "step", "path", "rows", "bytes", "schema", "status",
                  "created_at", "sql", "environment")
DEFAULT_ENVIRONMENT = "prod"
S = VersionStatus
# what each status may become; staying where it is changes nothing and is always allowed
ALLOWED: dict[VersionStatus, frozenset[VersionStatus]] = {
    S.STAGED: frozenset({S.CURRENT, S.QUARANTINED}),
    S.QUARANTINED: frozenset({S.CURRENT, S.DELETED}),  # accepted, or deleted with its forgotten dataset
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
    def __init__(self, db: Database, store_root: Path, catalog: CatalogRepository, *,
                 default_environment: str = DEFAULT_ENVIRONMENT) -> None:
        self.db = db
        self.default_environment = default_environment  # the catalog's columns follow its current versions
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
                    json.dumps(version.schema), str(version.status), version.created_at, sql, version.environment,
                ),
            )
            self.db.executemany(
                "INSERT INTO lineage (version_id, input_version_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(version.version_id, source) for source in inputs],
            )
            if version.profile is not None:
                self.catalog.write_profile(version.version_id, version.profile, version.pii or {})
            self.catalog.reindex(version.dataset)

    def transition(self, version_ids: Iterable[str], to: VersionStatus | str, *, environment: str | None = None,
                   action: str | None = None, run_id: str | None = None) -> list[StatusChange]:
        """Move each version to status `to`, with the moves that follow; every change made.

        A version is `current` while some environment points at it. To `current`: it becomes
        current in `environment` (default: the one it was built in), and the version it replaces
        there is superseded unless another environment still points at it; a version current
        elsewhere already is only pointed at. To `superseded`: `environment` (default: every
        one) stops pointing at it. To `quarantined`: every environment that pointed at it
        points again at the newest other kept version it had. Refuses (changing nothing) a move
        the life cycle does not allow.
        """
        target = VersionStatus(to)
        changes: list[StatusChange] = []
        with self.db.transaction():
            for version_id in version_ids:
                row = self._status_row(version_id)
                before = VersionStatus(row["status"])
                dataset = row["dataset"]
                if target is S.CURRENT:
                    env = environment or row["environment"]
                    if before is not S.CURRENT and target not in ALLOWED[before]:
                        raise IllegalTransitionError(version_id, before, target)
                    changes += self._point(env, dataset, version_id, before, action or "run", run_id)
                    continue
                if before == target:
                    continue
                if target not in ALLOWED[before]:
                    raise IllegalTransitionError(version_id, before, target)
                leaving = [env for env in self.environments_of(version_id) if environment in (None, env)]
                if target is S.SUPERSEDED and len(leaving) < len(self.environments_of(version_id)):
                    for env in leaving:  # still current elsewhere: only these environments let go of it
                        self._unpoint(env, dataset, version_id, action or "drop", run_id)
                    continue
                changes.append(self._set(version_id, dataset, before, target))
                for env in leaving:
                    restored = self._previous(env, dataset, version_id) if target is S.QUARANTINED else None
                    if restored is None:
                        self._unpoint(env, dataset, version_id, action or "drop", run_id)
                        continue
                    status = VersionStatus(self._status_row(restored)["status"])
                    changes += self._point(env, dataset, restored, status, action or "quarantine", run_id,
                                           promote=False, settle=False)
        return changes

    def _point(self, env: str, dataset: str, version_id: str, before: VersionStatus, action: str,
               run_id: str | None, *, promote: bool = True, settle: bool = True) -> list[StatusChange]:
        """Make `version_id` current in `env`; the changes of status that follow (`settle`: the
        version it replaces is superseded when no environment points at it any more)."""
        rows = self.db.query("SELECT version_id FROM current_versions WHERE environment = ? AND dataset = ?",
                             (env, dataset))
        replaced = rows[0]["version_id"] if rows else None
        if replaced == version_id:
            return []
        stamp = now()
        self.db.execute(
            "INSERT INTO current_versions (environment, dataset, version_id, since, run_id) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (environment, dataset) DO UPDATE SET version_id = excluded.version_id, "
            "since = excluded.since, run_id = excluded.run_id",
            (env, dataset, version_id, stamp, run_id),
        )
        self._history(env, dataset, version_id, replaced, action, run_id)
        changes = []
        if settle and replaced is not None and not self.environments_of(replaced):
            changes.append(self._set(replaced, dataset, S.CURRENT, S.SUPERSEDED))
        if before is not S.CURRENT:
            changes.append(self._set(version_id, dataset, before, S.CURRENT, promote=promote))
        if env == self.default_environment:
            self.catalog.follow_current(dataset, version_id)
        return changes

    def _unpoint(self, env: str, dataset: str, version_id: str, action: str, run_id: str | None) -> None:
        self.db.execute("DELETE FROM current_versions WHERE environment = ? AND dataset = ? AND version_id = ?",
                        (env, dataset, version_id))
        self._history(env, dataset, None, version_id, action, run_id)
        if env == self.default_environment:
            self.catalog.touch()  # what the catalog shows of the dataset's current version changed

    def _history(self, env: str, dataset: str, version_id: str | None, previous: str | None, action: str,
                 run_id: str | None) -> None:
        self.db.execute(
            "INSERT INTO current_history (at, environment, dataset, version_id, previous_id, action, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now(), env, dataset, version_id, previous, action, run_id),
        )

    def _previous(self, env: str, dataset: str, version_id: str) -> str | None:
        """The newest kept version (current or superseded) other than `version_id` that `env` had current."""
        rows = self.db.query(
            "SELECT v.version_id FROM dataset_versions v WHERE v.dataset = ? AND v.version_id <> ? "
            "AND v.status IN ('current', 'superseded') AND v.version_id IN "
            "(SELECT h.version_id FROM current_history h WHERE h.environment = ? AND h.dataset = ?) "
            "ORDER BY v.promoted_at DESC, v.version_id DESC LIMIT 1",
            (dataset, version_id, env, dataset),
        )
        return str(rows[0]["version_id"]) if rows else None

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
        rows = self.db.query("SELECT dataset, status, environment FROM dataset_versions WHERE version_id = ?",
                             (version_id,))
        if not rows:
            raise NotFoundError("version", version_id)
        return rows[0]

    # --- reads ------------------------------------------------------------------

    def current(self, environments: str | Sequence[str] | None = None) -> dict[str, VersionRecord]:
        """Each dataset's current version in the first of `environments` that has one (an
        environment, then its base, ...; default: the default environment)."""
        chain = [environments] if isinstance(environments, str) else list(environments or [self.default_environment])
        rows = self.db.query(
            f"SELECT p.environment AS current_in, v.* FROM current_versions p "
            f"JOIN dataset_versions v ON v.version_id = p.version_id "
            f"WHERE p.environment IN ({placeholders(len(chain))}) ORDER BY p.dataset",
            chain,
        )
        found: dict[str, VersionRecord] = {}
        for row in sorted(rows, key=lambda r: chain.index(r["current_in"]), reverse=True):
            found[row["dataset"]] = version_record(row, self.store_root)
        return dict(sorted(found.items()))

    def pointers(self, environment: str) -> dict[str, str]:
        """Dataset -> version id that `environment` itself points at (nothing of its base)."""
        rows = self.db.query("SELECT dataset, version_id FROM current_versions WHERE environment = ? ORDER BY dataset",
                             (environment,))
        return {row["dataset"]: row["version_id"] for row in rows}

    def environments(self) -> list[Row]:
        """Each environment that points at something: name, datasets, last change."""
        return self.db.query(
            "SELECT environment, count(*) AS datasets, max(since) AS updated_at FROM current_versions "
            "GROUP BY environment ORDER BY environment"
        )

    def environments_of(self, version_id: str) -> list[str]:
        """The environments in which `version_id` is current."""
        rows = self.db.query("SELECT environment FROM current_versions WHERE version_id = ? ORDER BY environment",
                             (version_id,))
        return [row["environment"] for row in rows]

    def current_in(self, version_ids: Iterable[str]) -> dict[str, list[str]]:
        """Version id -> the environments in which it is current (those current nowhere left out)."""
        ids = list(dict.fromkeys(version_ids))
        found: dict[str, list[str]] = {}
        if ids:
            for row in self.db.query(
                f"SELECT version_id, environment FROM current_versions WHERE version_id IN ({placeholders(len(ids))}) "
                "ORDER BY environment", ids,
            ):
                found.setdefault(row["version_id"], []).append(row["environment"])
        return found

    def history(self, environment: str, dataset: str | None = None, *, run_id: str | None = None) -> list[Row]:
        """How `environment`'s pointers moved, newest first (of one dataset, or made by one run)."""
        sql = "SELECT * FROM current_history WHERE environment = ?"
        args: list[Any] = [environment]
        if dataset is not None:
            sql, args = sql + " AND dataset = ?", [*args, dataset]
        if run_id is not None:
            sql, args = sql + " AND run_id = ?", [*args, run_id]
        return self.db.query(sql + " ORDER BY id DESC", args)

    def pointed_by_run(self, run_id: str) -> list[Row]:
        """The pointers run `run_id` set, with the version each replaced, oldest first."""
        return self.db.query(
            "SELECT * FROM current_history WHERE run_id = ? AND action = 'run' AND version_id IS NOT NULL ORDER BY id",
            (run_id,),
        )

    def previous_in(self, environment: str, dataset: str, version_id: str) -> str | None:
        """The kept version of `dataset` that `environment` had current before `version_id` (runs and
        promotions count, rollbacks do not: rolling back twice goes two versions back)."""
        rows = self.db.query(
            "SELECT h.version_id FROM current_history h WHERE h.environment = ? AND h.dataset = ? "
            "AND h.version_id IS NOT NULL AND h.action <> 'rollback' ORDER BY h.id DESC",
            (environment, dataset),
        )
        order = list(dict.fromkeys(row["version_id"] for row in rows))
        later = order[order.index(version_id) + 1:] if version_id in order else order
        kept = {v.version_id for v in self.get_many(later) if v.status in (S.CURRENT, S.SUPERSEDED)}
        return next((v for v in later if v in kept and v != version_id), None)

    def drop_environment(self, environment: str, *, run_id: str | None = None) -> list[StatusChange]:
        """`environment` points at nothing any more; versions current nowhere else become superseded."""
        with self.db.transaction():
            return self.transition(list(self.pointers(environment).values()), S.SUPERSEDED,
                                   environment=environment, action="drop", run_id=run_id)

    def of_dataset(self, dataset: str) -> list[VersionRecord]:
        rows = self.db.query(
            "SELECT * FROM dataset_versions WHERE dataset = ? ORDER BY created_at DESC, version_id DESC",
            (dataset,),
        )
        return [version_record(row, self.store_root) for row in rows]

    def of_run(self, run_id: str, step: str | None = None) -> list[VersionRecord]:
        """The versions a run published (`step`: those of one of its steps)."""
        where, args = ("run_id = ? AND step = ?", (run_id, step)) if step is not None else ("run_id = ?", (run_id,))
        rows = self.db.query(f"SELECT * FROM dataset_versions WHERE {where} ORDER BY created_at, version_id", args)
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
        environment=row["environment"],
    )

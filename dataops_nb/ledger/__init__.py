"""The ledger: runs, steps, datasets, versions, checks, reviews, lineage, catalog, audit.

One data-access layer over one database (`db.py`: SQLite by default, PostgreSQL for a
team). Each kind of record has a repository (`ledger.runs`, `ledger.versions`,
`ledger.checks`, `ledger.reviews`, `ledger.lineage`, `ledger.catalog`, `ledger.audit`); SQL lives in them and
nowhere else in the kit. Only the runner and the service write; a step writes its manifest
and the runner commits.

`Ledger.open(url, readonly=True)` never writes. Migrating the schema and reaping runs whose
runner died are explicit steps (`migrate()`, `runs.reap_dead()`) of the commands that write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import LedgerError
from .audit import AuditRepository
from .catalog import CatalogRepository
from .checks import CheckRepository
from .db import Database, Row, SqliteDatabase, open_database, split_statements
from .leases import LeaseRepository
from .lineage import LineageRepository
from .migrations import latest
from .migrations.sqlite import MIGRATIONS
from .monitoring import MonitorRepository
from .paths import resolve_stored_path, stored_path
from .records import (
    RUN_ID,
    CheckStatus,
    Decision,
    RunStatus,
    StepStatus,
    VersionRecord,
    VersionStatus,
    now,
    validate_run_id,
)
from .reviews import ReviewRepository
from .runs import RunRepository
from .stats import StatsRepository
from .versions import DEFAULT_ENVIRONMENT, StatusChange, VersionRepository, version_record

__all__ = [
    "DEFAULT_ENVIRONMENT", "MIGRATIONS", "RUN_ID", "CheckStatus", "Database", "Decision", "Ledger", "RunStatus", "StatusChange",
    "StepStatus", "VersionRecord", "VersionStatus", "now", "resolve_stored_path", "stored_path",
    "validate_run_id", "version_record",
]

_statements = split_statements  # the name tests and tools used before the package


class Ledger:
    """A thread-safe handle on one ledger database and its repositories."""

    def __init__(self, db: Database, *, store_root: Path, default_environment: str = DEFAULT_ENVIRONMENT) -> None:
        self.db = db
        # version paths are stored relative to the store root
        self.store_root = store_root.resolve()
        self.catalog = CatalogRepository(db)
        self.runs = RunRepository(db)
        self.versions = VersionRepository(db, self.store_root, self.catalog, default_environment=default_environment)
        self.checks = CheckRepository(db)
        self.reviews = ReviewRepository(db)
        self.lineage = LineageRepository(db)
        self.audit = AuditRepository(db)
        self.leases = LeaseRepository(db)
        self.monitor = MonitorRepository(db)
        self.stats = StatsRepository(db)

    @classmethod
    def open(cls, url: str | Path, *, readonly: bool = False, store_root: Path | None = None,
             source: str | None = None, any_schema: bool = False,
             default_environment: str = DEFAULT_ENVIRONMENT) -> Ledger:
        """The ledger at `url` (`sqlite:///path`, a path, or `postgresql://...`); never migrates.

        Read-only, it refuses a schema older than this kit's (the commands that write
        migrate it); read-write, call `migrate()` before writing. `source` names the setting
        the URL came from (an environment variable), for messages. With `any_schema`, an older
        schema (or none) is opened as it is, to be inspected.
        """
        db = open_database(url, readonly=readonly, source=source, any_schema=any_schema)
        if store_root is None:
            if not isinstance(db, SqliteDatabase):
                raise LedgerError("A ledger that is not a SQLite file needs the store's root.", url=db.url)
            store_root = db.path.parent
        ledger = cls(db, store_root=store_root, default_environment=default_environment)
        version = ledger.schema_version
        if readonly and not any_schema and version < latest(db.dialect):
            db.close()
            message = (
                f"The ledger {db.url} has schema {version} and this dataops-nb needs "
                f"{latest(db.dialect)}: `dataops-nb ledger migrate` (or any command that writes) migrates it."
            )
            raise LedgerError(message, url=db.url)
        return ledger

    # --- plumbing ---------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the ledger is one."""
        return getattr(self.db, "path", None)

    @property
    def exists(self) -> bool:
        """Whether there is a ledger (read-only, a missing SQLite file reads as an empty one held in memory)."""
        return not getattr(self.db, "in_memory", False)

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    def migrate(self) -> list[int]:
        """Apply pending schema migrations; the versions applied."""
        return self.db.migrate()

    @property
    def schema_version(self) -> int:
        return self.db.schema_version()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Group repository calls atomically (nested transactions join this one)."""
        with self.db.transaction() as db:
            yield db

    def close(self) -> None:
        self.db.close()

    def integrity(self) -> str:
        return str(self.db.integrity())  # type: ignore[attr-defined]

    # --- the names callers used before the repositories (each one line) ----------

    def open_run(self, run_id: str, **fields: Any) -> None:
        self.runs.open(run_id, **fields)

    def end_run(self, run_id: str, status: str, message: str | None = None) -> None:
        self.runs.end(run_id, status, message)

    def reap_dead_runs(self, host: str) -> list[str]:
        return self.runs.reap_dead(host)

    def set_step(self, run_id: str, step: str, **fields: Any) -> None:
        self.runs.set_step(run_id, step, **fields)

    def run(self, run_id: str) -> Row | None:
        return self.runs.get(run_id)

    def step_runs(self, run_id: str) -> list[Row]:
        return self.runs.steps(run_id)

    def last_step_runs(self) -> dict[str, Row]:
        return self.runs.last_step_runs()

    def stage_version(self, con: Any, version: VersionRecord, inputs: Iterable[str], **meta: Any) -> None:
        self.versions.stage(version, inputs, **meta)

    def promote(self, con: Any, version_ids: Iterable[str], *, environment: str | None = None,
                run_id: str | None = None) -> None:
        self.versions.transition(version_ids, VersionStatus.CURRENT, environment=environment, run_id=run_id)

    def accept_quarantined(self, con: Any, version_id: str) -> bool:
        return self.versions.accept_quarantined(version_id)

    def set_version_status(self, con: Any, version_ids: Iterable[str], status: str) -> None:
        self.versions.transition(version_ids, status)

    def current_versions(self, environments: str | list[str] | None = None) -> dict[str, VersionRecord]:
        """Current versions in `environments` (an environment and its bases), default: the default one."""
        return self.versions.current(environments)

    def publishing_steps(self) -> dict[str, str]:
        """dataset -> the step that published its version current in the default environment; kept
        while the catalog is unchanged (a version becoming current there, or ceasing to be, changes it)."""
        return dict(self.catalog.kept("publishing steps", lambda: {
            version.dataset: version.step for version in self.versions.current().values() if version.step}))

    def versions_of_run(self, run_id: str, step: str | None = None) -> list[VersionRecord]:
        return self.versions.of_run(run_id, step)

    def record_checks(self, con: Any, rows: Iterable[dict[str, Any]]) -> None:
        self.checks.record(rows)

    def check_history(self, dataset: str, limit: int = 30, *, excluding: str | None = None) -> dict[tuple[str, str], list[float]]:
        return self.checks.history(dataset, limit, excluding=excluding)

    def inputs_of(self, version_id: str, environments: Sequence[str] | None = None) -> list[str]:
        return self.lineage.inputs_of(version_id, environments)

    def ancestry(self, version_ids: Iterable[str]) -> Any:
        """A snapshot of the versions' whole ancestry that answers `versions.get`, `versions.sql_of`,
        `inputs_of` and `auto_pii` like this ledger (see `ancestry.Ancestry`)."""
        from .ancestry import Ancestry

        return Ancestry(self, version_ids)

    def outputs_of(self, version_ids: Iterable[str]) -> list[str]:
        return self.lineage.outputs_of(version_ids)

    def dataset(self, name: str) -> Row | None:
        return self.catalog.dataset(name)

    def dataset_names(self) -> list[str]:
        return self.catalog.dataset_names()

    def dataset_columns(self, dataset: str) -> list[Row]:
        return self.catalog.columns(dataset)

    def column_tags(self, dataset: str) -> list[Row]:
        return self.catalog.column_tags(dataset)

    def column_profiles(self, version_id: str) -> list[dict[str, Any]]:
        return self.catalog.column_profiles(version_id)

    def auto_pii(self, dataset: str, version_id: str | None = None) -> set[str]:
        return self.catalog.auto_pii(dataset, version_id)

    def meta_value(self, key: str) -> str | None:
        return self.catalog.meta_value(key)


def _catalog(con: Any) -> CatalogRepository:
    return CatalogRepository(con)


def write_dataset_meta(con: Any, name: str, **meta: Any) -> None:
    """`CatalogRepository.write_dataset_meta` on the transaction's database."""
    _catalog(con).write_dataset_meta(name, **meta)


def reindex_dataset(con: Any, dataset: str) -> None:
    _catalog(con).reindex(dataset)


def drop_dataset_entry(con: Any, dataset: str) -> None:
    _catalog(con).drop_dataset(dataset)

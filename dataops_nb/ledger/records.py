"""The ledger's records: frozen dataclasses and `StrEnum` statuses (a status compares equal to its text)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

# Run ids are time-sortable: 20261125-093012-1234abc (UTC time, milliseconds, random hex).
RUN_ID = re.compile(r"^\d{8}-\d{6}-\d{3}[0-9a-f]{4}$")


def validate_run_id(run_id: str, *, what: str = "run id") -> str:
    if not RUN_ID.match(str(run_id)):
        from ..errors import DataOpsError

        raise DataOpsError(f"'{run_id}' is not a {what} (run ids look like 20261125-104031-726987c).")
    return str(run_id)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    SKIPPED = "skipped"
    FRESH = "fresh"
    INTERRUPTED = "interrupted"
    TIMED_OUT = "timed_out"
    ACCEPTED = "accepted"  # a quarantined step whose versions a reviewer accepted


class VersionStatus(StrEnum):
    STAGED = "staged"
    CURRENT = "current"
    QUARANTINED = "quarantined"
    SUPERSEDED = "superseded"
    DELETED = "deleted"


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    ERROR = "error"


class Decision(StrEnum):
    ACCEPT = "accept"
    WAIVE = "waive"
    QUARANTINE = "quarantine"
    COMMENT = "comment"


@dataclass(frozen=True)
class VersionRecord:
    version_id: str
    dataset: str
    run_id: str | None
    step: str | None
    path: str
    rows: int | None
    bytes: int | None
    schema: list[dict[str, str]]
    status: str
    created_at: str
    environment: str = "prod"  # the environment it was built in (it may be current in others)
    # from the step's manifest at publish; not read back by `versions()` (see column_profiles)
    profile: list[dict[str, Any]] | None = None
    pii: dict[str, dict[str, Any]] | None = None


class _Fields:
    """`record["field"]` and `dict(record)` read a record like the row it came from (for callers
    written against rows); columns a newer migration added and the record does not name are in `extra`."""

    extra: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        if key in self.__dataclass_fields__ and key != "extra":  # type: ignore[attr-defined]
            return getattr(self, key)
        return self.extra[key]

    def keys(self) -> list[str]:
        return [f for f in self.__dataclass_fields__ if f != "extra"] + list(self.extra)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunRecord(_Fields):
    run_id: str
    status: RunStatus
    started_at: str
    ended_at: str | None
    git_commit: str | None
    git_dirty: int | None
    user: str | None
    environment: str | None
    params: dict[str, Any]
    selection: list[str]
    pid: int | None
    host: str | None
    message: str | None
    resumed_from: str | None
    packages: dict[str, str] = field(default_factory=dict)  # the kernel's: python, duckdb, polars, ...
    replay_of: str | None = None  # the run a replay re-executed
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class StepRecord(_Fields):
    run_id: str
    step: str
    status: StepStatus
    attempt: int
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    output_notebook: str | None
    error: str | None
    fingerprint: str | None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def record_of(cls: Any, row: Any, **overrides: Any) -> Any:
    """A record from a row: the fields it names, the other columns into `extra`."""
    names = set(cls.__dataclass_fields__) - {"extra"}
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 (a sqlite3.Row iterates its values)
    values.update(overrides)
    return cls(**{k: v for k, v in values.items() if k in names},
               extra={k: v for k, v in values.items() if k not in names})

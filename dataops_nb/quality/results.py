"""What a check is judged on (a `Target`: one dataset version) and what it gives (a `CheckResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .checks import Check


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str  # pass, warn, error
    rows: int
    failing: int | None = None
    observed: float | None = None  # the measured value (rows, null rate, age in seconds)
    message: str = ""
    sample: list[dict[str, Any]] = field(default_factory=list)
    sql: str = ""
    duration_s: float = 0.0

    @property
    def fraction(self) -> float | None:
        if self.failing is None or not self.rows:
            return None
        return self.failing / self.rows

    def summary(self) -> str:
        if self.failing is not None and self.check.kind not in ("row_count", "schema"):
            pct = f" ({100 * (self.fraction or 0):.2f}%)" if self.rows else ""
            return f"{self.check.qualified}: {self.status}, {self.failing} failing row(s){pct}"
        return f"{self.check.qualified}: {self.status}" + (f", {self.message}" if self.message else "")

    def with_(self, **changes: Any) -> CheckResult:
        return replace(self, **changes)


@dataclass(frozen=True)
class Target:
    """One dataset version to check, with what the checks need to know about it."""

    dataset: str
    path: str
    schema: list[dict[str, str]]
    refs: dict[str, str]  # other datasets' parquet paths, for relationships
    previous_schema: list[dict[str, str]] | None = None
    history: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (origin, name) -> observed
    pii: tuple[str, ...] = ()  # columns masked in failing-row samples (catalog.pii policy)
    personal: tuple[str, ...] = ()  # every PII column, whoever checks (sql samples mask by lineage)
    sample_limit: int = 10

"""Evaluating checks on one dataset version: the fused scan, outcomes, masked samples."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import duckdb

from ..metadata.pii import mask_rows
from ..store import quote_path, scratch
from .checks import Check
from .sql import compile_scans, duplicates, key_hashes, sample_query, source

DEFAULT_SENSITIVITY = 3.5
DEFAULT_MIN_HISTORY = 5
# Between these row counts a unique check proves itself on 64-bit key hashes in polars (about
# 5x faster than DuckDB's exact distinct count on 10M keys); below, the distinct count costs
# milliseconds and stays in the fused statement; above, the hashes would not fit in memory.
# Files smaller than HASHED_UNIQUE_MIN_BYTES are not even asked for their row count.
HASHED_UNIQUE_ROWS = (1_000_000, 100_000_000)
HASHED_UNIQUE_MIN_BYTES = 1 << 20


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
            return f"{self.check.name}: {self.status}, {self.failing} failing row(s){pct}"
        return f"{self.check.name}: {self.status}" + (f", {self.message}" if self.message else "")


@dataclass(frozen=True)
class Target:
    """One dataset version to check, with what the checks need to know about it."""

    dataset: str
    path: str
    schema: list[dict[str, str]]
    refs: dict[str, str]  # other datasets' parquet paths, for relationships
    previous_schema: list[dict[str, str]] | None = None
    history: dict[str, list[float]] = field(default_factory=dict)  # check name -> observed values
    pii: tuple[str, ...] = ()  # columns masked in failing-row samples (catalog.pii policy)
    sample_limit: int = 10


def run_checks(checks: Iterable[Check], target: Target) -> list[CheckResult]:
    checks = list(checks)
    if not checks:
        return []
    con = scratch()
    try:
        return _run(con, checks, target)
    finally:
        con.close()


def explain(checks: Iterable[Check], target: Target) -> list[str]:
    """The statements a check of `target` runs: the fused scan, then any hashed unique checks."""
    checks = list(checks)
    con = scratch()
    try:
        hashed = _hashed_uniques(con, checks, target.path)
    finally:
        con.close()
    refs = {name: source(path) for name, path in target.refs.items()}
    fused = [check for check in checks if check.kind != "unique" or not hashed]
    statements = [scan.sql for scan in compile_scans(fused, target.path, refs)]
    return statements + [f"-- {check.name}: distinct hashes counted in polars; the keys only if a hash repeats\n"
                         f"{key_hashes(check, target.path)}" for check in checks if check.kind == "unique" and hashed]


def _run(con: duckdb.DuckDBPyConnection, checks: list[Check], target: Target) -> list[CheckResult]:
    columns = {c["name"] for c in target.schema}
    results: dict[int, CheckResult] = {}
    runnable: list[tuple[int, Check]] = []
    for index, check in enumerate(checks):
        missing = [c for c in _columns_of(check) if c not in columns]
        if check.kind == "relationships" and check.args["to"] not in target.refs:
            results[index] = CheckResult(check, "error", 0, message=f"{check.args['to']} has no current version")
        elif missing:
            results[index] = CheckResult(check, "error", 0, message=f"column '{missing[0]}' is missing")
        else:
            runnable.append((index, check))
    refs = {name: source(path) for name, path in target.refs.items()}
    hashed = _hashed_uniques(con, [check for _, check in runnable], target.path)
    fused = [(index, check) for index, check in runnable if check.kind != "unique" or not hashed]
    started = time.perf_counter()
    values: dict[int, Any] = {}
    statements: dict[int, str] = {}
    try:
        rows, sql_text = _scan(con, fused, target.path, refs, values)
    except duckdb.Error:
        # one check the data cannot answer (its SQL, a type): scan each check on its own, so
        # that one is an error result and every other check still reports
        rows, sql_text = 0, []
        for item in fused:
            try:
                rows, text = _scan(con, [item], target.path, refs, values)
            except duckdb.Error as exc:
                results[item[0]] = CheckResult(item[1], "error", rows, message=_broken(exc))
                continue
            statements[item[0]] = "\n;\n".join(text)
        if not statements:  # even the row count fails: the file itself cannot be read
            raise
        runnable = [(index, check) for index, check in runnable if index not in results]
    scan_time = time.perf_counter() - started
    for index, check in runnable:
        if check.kind == "unique" and hashed:
            started = time.perf_counter()
            values[index], statements[index] = _duplicates_by_hash(con, check, target.path)
            results[index] = _judge(check, values[index], rows, target, time.perf_counter() - started)
        else:
            results[index] = _judge(check, values.get(index), rows, target, scan_time / max(len(fused), 1))
    for index, result in list(results.items()):
        if result.status != "pass" and result.failing:
            results[index] = _with_sample(con, result, target, refs)
    for index, result in list(results.items()):
        results[index] = _replace(result, sql=statements.get(index) or result.sql or "\n;\n".join(sql_text))
    return [results[i] for i in range(len(checks))]


def _scan(con: duckdb.DuckDBPyConnection, fused: list[tuple[int, Check]], path: str, refs: dict[str, str],
          values: dict[int, Any]) -> tuple[int, list[str]]:
    """Run the fused scan of `fused` (index, check) pairs into `values`; the row count and statements."""
    rows, sql_text = 0, []
    for scan in compile_scans([check for _, check in fused], path, refs):
        record = con.sql(scan.sql).fetchall()[0]
        row = dict(zip(["__rows", *scan.aliases.values()], record))
        rows = int(row["__rows"])
        for local, alias in scan.aliases.items():
            values[fused[local][0]] = row[alias]
        sql_text.append(scan.sql)
    return rows, sql_text


def _broken(exc: Exception) -> str:
    """The first line of DuckDB's error, without its `Binder Error:` style prefix."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the check could not run: {first.split(': ', 1)[-1]}"


def _hashed_uniques(con: duckdb.DuckDBPyConnection, checks: list[Check], path: str) -> bool:
    """Whether unique checks on this file count key hashes in polars (large files only)."""
    if not any(check.kind == "unique" for check in checks) or _size(path) < HASHED_UNIQUE_MIN_BYTES:
        return False
    rows = con.sql(f"SELECT sum(num_rows) FROM parquet_file_metadata({quote_path(path)})").fetchall()[0][0]
    low, high = HASHED_UNIQUE_ROWS
    return low <= int(rows or 0) <= high


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _duplicates_by_hash(con: duckdb.DuckDBPyConnection, check: Check, path: str) -> tuple[int, str]:
    """Rows repeating an earlier key, exact: as many distinct key hashes as keys proves there
    are none; only when hashes repeat (a duplicate, or a rare collision) are keys counted."""
    hashed = key_hashes(check, path)
    hashes = con.sql(hashed).pl().to_series()
    if hashes.n_unique() == hashes.len():
        return 0, hashed
    exact = duplicates(check, path)
    return int(con.sql(exact).fetchall()[0][0] or 0), f"{hashed}\n;\n{exact}"


def _columns_of(check: Check) -> list[str]:
    return [c for c in [check.column, *(check.args.get("columns") or [])] if c]


def _judge(check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
    kind = check.kind
    if kind == "row_count":
        low, high = check.args.get("min"), check.args.get("max")
        bad = (low is not None and rows < low) or (high is not None and rows > high)
        status = check.severity if bad else "pass"
        bounds = f"expected {'>= ' + str(low) if low is not None else ''}{' and ' if low is not None and high is not None else ''}{'<= ' + str(high) if high is not None else ''}"
        return CheckResult(check, status, rows, failing=int(bad), observed=rows,
                           message=f"{rows} rows, {bounds}" if bad else f"{rows} rows", duration_s=duration)
    if kind == "freshness":
        return _freshness(check, value, rows, duration)
    if kind == "schema":
        return _schema(check, target, rows)
    if kind == "volume_anomaly":
        return _anomaly(check, float(rows), target.history.get(check.name, []), rows, "row count")
    if kind == "null_rate_anomaly":
        rate = (int(value or 0) / rows) if rows else 0.0
        return _anomaly(check, rate, target.history.get(check.name, []), rows, "null rate")
    failing = int(value or 0)
    return CheckResult(check, check.outcome(failing, rows), rows, failing=failing, observed=failing, duration_s=duration)


def _freshness(check: Check, latest: Any, rows: int, duration: float) -> CheckResult:
    if latest is None:
        return CheckResult(check, check.severity, rows, message="no values to judge freshness by")
    if isinstance(latest, datetime):
        moment = latest if latest.tzinfo else latest.replace(tzinfo=timezone.utc)
    elif isinstance(latest, date):
        moment = datetime(latest.year, latest.month, latest.day, tzinfo=timezone.utc)
    else:
        return CheckResult(check, "error", rows, message=f"column {check.column} is not a date or timestamp")
    age = (datetime.now(timezone.utc) - moment).total_seconds()
    status = "pass"
    if check.args.get("error_after") and age > float(check.args["error_after"]):
        status = "error"
    elif check.args.get("warn_after") and age > float(check.args["warn_after"]):
        status = "warn"
    return CheckResult(check, status, rows, observed=age, message=f"newest {moment.isoformat()} ({age / 86400:.1f} days old)",
                       duration_s=duration)


def _schema(check: Check, target: Target, rows: int) -> CheckResult:
    if target.previous_schema is None:
        return CheckResult(check, "pass", rows, failing=0, message="no earlier version to compare with")
    old = {c["name"]: c["type"] for c in target.previous_schema}
    new = {c["name"]: c["type"] for c in target.schema}
    changes = [f"removed {name}" for name in old if name not in new]
    changes += [f"{name} {old[name]} -> {new[name]}" for name in old if name in new and old[name] != new[name]]
    if not check.args.get("allow_added", True):
        changes += [f"added {name}" for name in new if name not in old]
    status = check.severity if changes else "pass"
    return CheckResult(check, status, rows, failing=len(changes), message="; ".join(changes) or "unchanged")


def _anomaly(check: Check, value: float, history: list[float], rows: int, what: str) -> CheckResult:
    """Robust z-score against the dataset's own history (median and MAD)."""
    minimum = int(check.args.get("min_history", DEFAULT_MIN_HISTORY))
    if len(history) < minimum:
        return CheckResult(check, "pass", rows, observed=value,
                           message=f"{len(history)} of {minimum} versions of history: no judgement yet")
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    scale = 1.4826 * mad if mad else max(abs(median) * 0.01, 1e-9)
    score = abs(value - median) / scale
    sensitivity = float(check.args.get("sensitivity", DEFAULT_SENSITIVITY))
    status = check.severity if score > sensitivity else "pass"
    return CheckResult(check, status, rows, observed=value,
                       message=f"{what} {value:g} vs median {median:g} (robust z {score:.1f}, limit {sensitivity:g})")


def _with_sample(con: duckdb.DuckDBPyConnection, result: CheckResult, target: Target, refs: dict[str, str]) -> CheckResult:
    query = sample_query(result.check, target.path, refs, target.sample_limit)
    if query is None:
        return result
    relation = con.sql(query)
    names = relation.columns
    rows = [{name: _plain(value) for name, value in zip(names, row)} for row in relation.fetchall()]
    return _replace(result, sample=mask_rows(rows, target.pii))


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _replace(result: CheckResult, **changes: Any) -> CheckResult:
    from dataclasses import replace

    return replace(result, **changes)

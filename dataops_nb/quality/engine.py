"""Evaluating checks on one dataset version: the fused scan (or the one pass), outcomes, masked samples."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import duckdb

from ..errors import CheckFileAccessError
from ..metadata.pii import mask_rows, sample_masked
from ..store import confined, quote_path
from . import onepass
from .checks import Check
from .results import CheckResult, Target
from .sql import compile_scans, sample_query, source

__all__ = ["CheckResult", "Target", "explain", "run_checks"]

# Between these row counts a file is checked in one pass (onepass.py): key hashes and
# failing-row bits streamed to polars (about 5x faster than DuckDB's exact distinct count on 10M
# keys, and about 3x faster than DuckDB's fused filtered counts: the columns are decoded once and
# each predicate evaluated once per row); below, the fused statement costs milliseconds; above,
# the streamed columns would not fit in memory. Files smaller than ONE_PASS_MIN_BYTES are not
# even asked for their row count.
ONE_PASS_ROWS = (1_000_000, 100_000_000)
ONE_PASS_MIN_BYTES = 1 << 20


def run_checks(checks: Iterable[Check], target: Target) -> list[CheckResult]:
    """Every check of one version, on a DuckDB that may open only the files they are about."""
    checks = list(checks)
    if not checks:
        return []
    con = confined(files=files_of(checks, target))
    try:
        return _run(con, checks, target)
    except duckdb.PermissionException as exc:
        raise CheckFileAccessError(target.dataset, str(exc).splitlines()[0]) from exc
    finally:
        con.close()


def files_of(checks: Iterable[Check], target: Target) -> list[str]:
    """The files checks of `target` may read: its own, and the datasets relationships name."""
    named = {name for check in checks for name in check.handler.datasets(check)}
    return [target.path, *(path for name, path in target.refs.items() if name in named)]


def explain(checks: Iterable[Check], target: Target) -> list[str]:
    """The statements a check of `target` runs: the one pass of a large file, then the fused scan."""
    checks = list(checks)
    con = confined(files=files_of(checks, target))
    try:
        refs = {name: source(path) for name, path in target.refs.items()}
        in_one_pass = _in_one_pass(con, checks, target.path, refs)
    finally:
        con.close()
    indexed = list(enumerate(checks))
    statements = []
    if in_one_pass:
        scan = onepass.plan(indexed, target.path, refs)
        statements.append("-- one pass: key hashes and failing-row bits to Arrow, counted in polars "
                          "(the keys only if a hash repeats)\n" + scan.sql)
        indexed = [(index, check) for index, check in indexed if index not in scan.indices]
        if not indexed:
            return statements
    return statements + [scan.sql for scan in compile_scans([check for _, check in indexed], target.path, refs)]


def _run(con: duckdb.DuckDBPyConnection, checks: list[Check], target: Target) -> list[CheckResult]:
    columns = {c["name"] for c in target.schema}
    results: dict[int, CheckResult] = {}
    runnable: list[tuple[int, Check]] = []
    for index, check in enumerate(checks):
        missing = [c for c in check.handler.columns(check) if c not in columns]
        absent = [name for name in check.handler.datasets(check) if name not in target.refs]
        if absent:
            results[index] = CheckResult(check, "error", 0, message=f"{absent[0]} has no current version")
        elif missing:
            results[index] = CheckResult(check, "error", 0, message=f"column '{missing[0]}' is missing")
        else:
            runnable.append((index, check))
    refs = {name: source(path) for name, path in target.refs.items()}
    started = time.perf_counter()
    values: dict[int, Any] = {}
    statements: dict[int, str] = {}
    rows: int | None = None
    if _in_one_pass(con, [check for _, check in runnable], target.path, refs):
        scan = onepass.plan(runnable, target.path, refs)
        try:
            rows, counted, statements = onepass.run(con, scan, target.path)
            values.update(counted)
        except duckdb.Error:  # a predicate the data cannot answer: the fused scan isolates it
            rows, statements = None, {}
    fused = [(index, check) for index, check in runnable if index not in values
             and (rows is None or check.handler.expression(check, refs, target.path) is not None)]
    sql_text: list[str] = []
    try:
        if fused or rows is None:
            rows, sql_text = _scan(con, fused, target.path, refs, values)
    except duckdb.Error:
        # one check the data cannot answer (its SQL, a type): scan each check on its own, so
        # that one is an error result and every other check still reports
        isolated: dict[int, str] = {}
        for item in fused:
            try:
                rows, text = _scan(con, [item], target.path, refs, values)
            except duckdb.Error as exc:
                results[item[0]] = CheckResult(item[1], "error", rows or 0, message=_broken(exc))
                continue
            isolated[item[0]] = "\n;\n".join(text)
        if not isolated and not values:  # even the row count fails: the file itself cannot be read
            raise
        statements.update(isolated)
        runnable = [(index, check) for index, check in runnable if index not in results]
    duration = (time.perf_counter() - started) / max(len(runnable), 1)
    for index, check in runnable:
        results[index] = _judged(check, values.get(index), rows or 0, target, duration)
    for index, result in list(results.items()):
        if result.status != "pass" and result.failing:
            results[index] = _with_sample(con, result, target, refs)
    for index, result in list(results.items()):
        results[index] = result.with_(sql=statements.get(index) or result.sql or "\n;\n".join(sql_text))
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


def _judged(check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
    """The kind's judgement; a kind that fails to judge (a project's own, say) gives an error result."""
    try:
        return check.handler.judge(check, value, rows, target, duration)
    except Exception as exc:  # noqa: BLE001 - one kind's bug must not hide the other checks' results
        return CheckResult(check, "error", rows, message=f"the check could not be judged: {type(exc).__name__}: {exc}")


def _broken(exc: Exception) -> str:
    """The first line of DuckDB's error, without its `Binder Error:` style prefix."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the check could not run: {first.split(': ', 1)[-1]}"


def _in_one_pass(con: duckdb.DuckDBPyConnection, checks: list[Check], path: str, refs: dict[str, str]) -> bool:
    """Whether this file is checked in one pass (a large file with unique or row-predicate checks)."""
    if _size(path) < ONE_PASS_MIN_BYTES or not onepass.applies(checks, refs):
        return False
    rows = con.sql(f"SELECT sum(num_rows) FROM parquet_file_metadata({quote_path(path)})").fetchall()[0][0]
    low, high = ONE_PASS_ROWS
    return low <= int(rows or 0) <= high


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _with_sample(con: duckdb.DuckDBPyConnection, result: CheckResult, target: Target, refs: dict[str, str]) -> CheckResult:
    query = sample_query(result.check, target.path, refs, target.sample_limit)
    if query is None:
        return result
    relation = con.sql(query)
    names = relation.columns
    rows = [{name: _plain(value) for name, value in zip(names, row)} for row in relation.fetchall()]
    query = str(result.check.args.get("query")) if result.check.kind == "sql" else None  # its own columns
    return result.with_(sample=mask_rows(rows, sample_masked(query, target.schema, target.personal, target.pii, names)))


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)

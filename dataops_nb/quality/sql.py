"""Checks -> SQL: one fused aggregate statement per dataset version, and failing-row queries.

An audit is a query: every aggregate check becomes one expression counting its failing
rows, so all checks of a dataset read the data once. Failing rows are fetched only for
checks that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..store import quote_path
from .checks import Check

THIS = '"__dataset"'
MAX_EXPRESSIONS = 400  # one statement stays well below DuckDB's limits


def ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _columns(check: Check) -> list[str]:
    return list(check.args.get("columns") or [check.column])


def failing_predicate(check: Check, refs: dict[str, str]) -> str | None:
    """A WHERE condition true for the rows that fail `check`; None for table-level checks."""
    col = ident(check.column) if check.column else None
    kind, args = check.kind, check.args
    if kind in ("not_null", "null_rate_anomaly"):
        return f"{col} IS NULL"
    if kind == "unique":
        names = ", ".join(ident(c) for c in _columns(check))
        key = names if len(_columns(check)) == 1 else f"row({names})"
        return f"{key} IN (SELECT {key} FROM {THIS} GROUP BY {names} HAVING count(*) > 1)"
    if kind == "accepted_values":
        values = ", ".join(literal(v) for v in args["values"])
        return f"{col} IS NOT NULL AND {col} NOT IN ({values})"
    if kind == "range":
        parts = []
        if args.get("min") is not None:
            op = "<" if args.get("min_inclusive", True) else "<="
            parts.append(f"{col} {op} {literal(args['min'])}")
        if args.get("max") is not None:
            op = ">" if args.get("max_inclusive", True) else ">="
            parts.append(f"{col} {op} {literal(args['max'])}")
        return " OR ".join(parts) or "FALSE"
    if kind == "regex":
        return f"{col} IS NOT NULL AND NOT regexp_full_match(CAST({col} AS VARCHAR), {literal(args['pattern'])})"
    if kind == "relationships":
        field = ident(args["field"])
        return f"{col} IS NOT NULL AND {col} NOT IN (SELECT {field} FROM {refs[args['to']]} WHERE {field} IS NOT NULL)"
    return None


def duplicates(check: Check, path: str) -> str:
    """The exact number of rows repeating an earlier row's key (NULL keys do not count)."""
    key = ", ".join(ident(c) for c in _columns(check))
    counted = f"count({key}) - count(DISTINCT {key})" if len(_columns(check)) == 1 else (
        f"count(*) - count(DISTINCT row({key}))")
    return f"SELECT {counted} FROM {source(path)}"


def key_hashes(check: Check, path: str) -> str:
    """One 64-bit hash per counted key: equal keys hash alike, so as many distinct hashes
    as keys proves the key unique without a distinct count over the keys themselves."""
    columns = _columns(check)
    where = f" WHERE {ident(columns[0])} IS NOT NULL" if len(columns) == 1 else ""
    return f'SELECT hash({", ".join(ident(c) for c in columns)}) AS "h" FROM {source(path)}{where}'


def expression(check: Check, refs: dict[str, str], path: str) -> str | None:
    """The aggregate this check contributes to the fused scan (None: needs no scan)."""
    kind = check.kind
    if kind == "unique":
        # A distinct count next to streaming aggregates makes DuckDB materialize every scanned
        # column; as a scalar subquery it reads the key columns only, in the same statement.
        return f"({duplicates(check, path)})"
    if kind == "freshness":
        return f"max({ident(check.column)})"
    if kind == "sql":
        query = str(check.args["query"]).replace("{this}", THIS)
        return f"(SELECT count(*) FROM ({query}))"
    predicate = failing_predicate(check, refs)
    return f"count(*) FILTER (WHERE {predicate})" if predicate else None


@dataclass(frozen=True)
class Scan:
    sql: str
    aliases: dict[int, str]  # index of the check -> column alias in the result


def source(path: str) -> str:
    return f"read_parquet({quote_path(path)})"


def compile_scans(checks: list[Check], path: str, refs: dict[str, str]) -> list[Scan]:
    """One statement (more only when very many checks) computing every check's number."""
    expressions = [(i, expression(check, refs, path)) for i, check in enumerate(checks)]
    wanted = [(i, expr) for i, expr in expressions if expr is not None]
    # `{this}` is only needed by custom SQL checks; the aggregates read the file directly
    this = f"WITH {THIS} AS (SELECT * FROM {source(path)})\n" if any(c.kind == "sql" for c in checks) else ""
    scans = []
    for start in range(0, max(len(wanted), 1), MAX_EXPRESSIONS):
        chunk = wanted[start : start + MAX_EXPRESSIONS]
        select = ['count(*) AS "__rows"'] + [f'{expr} AS "c{i}"' for i, expr in chunk]
        sql = f"{this}SELECT\n  " + ",\n  ".join(select) + f"\nFROM {source(path)}"
        scans.append(Scan(sql, {i: f"c{i}" for i, _ in chunk}))
    return scans


def sample_query(check: Check, path: str, refs: dict[str, str], limit: int) -> str | None:
    """The failing rows of one failed check, at most `limit` of them."""
    if check.kind == "sql":
        query = str(check.args["query"]).replace("{this}", THIS)
        return f"WITH {THIS} AS (SELECT * FROM {source(path)}) SELECT * FROM ({query}) LIMIT {int(limit)}"
    predicate = failing_predicate(check, refs)
    if predicate is None:
        return None
    return f"WITH {THIS} AS (SELECT * FROM {source(path)}) SELECT * FROM {THIS} WHERE {predicate} LIMIT {int(limit)}"

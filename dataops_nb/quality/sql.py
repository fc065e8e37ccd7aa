"""Checks -> SQL: one fused aggregate statement per dataset version, and failing-row queries.

An audit is a query: every aggregate check becomes one expression (its kind's, see
kind.py) counting its failing rows, so all checks of a dataset read the data once.
Failing rows are fetched only for checks that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store import quote_path

if TYPE_CHECKING:
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


@dataclass(frozen=True)
class Scan:
    sql: str
    aliases: dict[int, str]  # index of the check -> column alias in the result


def source(path: str) -> str:
    return f"read_parquet({quote_path(path)})"


def compile_scans(checks: list[Check], path: str, refs: dict[str, str]) -> list[Scan]:
    """One statement (more only when very many checks) computing every check's number."""
    expressions = [(i, check.handler.expression(check, refs, path)) for i, check in enumerate(checks)]
    wanted = [(i, expr) for i, expr in expressions if expr is not None]
    # `{this}` is only needed by expressions that name it (sql checks); the others read the file directly
    this = f"WITH {THIS} AS (SELECT * FROM {source(path)})\n" if any(THIS in expr for _, expr in wanted) else ""
    scans = []
    for start in range(0, max(len(wanted), 1), MAX_EXPRESSIONS):
        chunk = wanted[start : start + MAX_EXPRESSIONS]
        select = ['count(*) AS "__rows"'] + [f'{expr} AS "c{i}"' for i, expr in chunk]
        sql = f"{this}SELECT\n  " + ",\n  ".join(select) + f"\nFROM {source(path)}"
        scans.append(Scan(sql, {i: f"c{i}" for i, _ in chunk}))
    return scans


def sample_query(check: Check, path: str, refs: dict[str, str], limit: int) -> str | None:
    """The failing rows of one failed check, at most `limit` of them."""
    return check.handler.sample(check, path, refs, limit)

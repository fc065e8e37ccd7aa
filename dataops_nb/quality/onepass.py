"""The one-pass scan of a large file: columns are decoded once, each row predicate evaluated once, for all checks.

DuckDB cannot stream a distinct count next to other aggregates without materializing every
scanned column, and a second scan for the keys decodes them again. So one statement streams,
per row, a 64-bit hash of each unique key and one bit mask of the row-counting checks'
predicates (bit i set: the row fails check i) to Arrow; polars then counts each bit and the
distinct hashes in parallel. As many distinct hashes as keys proves a key unique; only when
hashes repeat (a duplicate, or a rare collision) does DuckDB count the keys exactly.

Only checks that count failing rows by a predicate of the row (the default expression of
`CheckKind`) are streamed; the others (freshness, sql, ...) stay in the fused statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .builtin import Unique
from .checks import Check
from .kind import CheckKind
from .sql import THIS, ident, source

MAX_BITS = 64


@dataclass(frozen=True)
class OnePass:
    sql: str
    uniques: list[tuple[int, Check]]  # (index of the check, check): one hash column each
    streamed: list[tuple[int, Check]]  # (index, check): bit i of the mask is the i-th of these

    @property
    def indices(self) -> set[int]:
        return {index for index, _ in self.uniques + self.streamed}


def _streams(check: Check, refs: dict[str, str]) -> bool:
    kind = check.handler
    if isinstance(kind, Unique) or type(kind).expression is not CheckKind.expression:
        return False
    predicate = kind.predicate(check, refs)
    return predicate is not None and THIS not in predicate


def applies(checks: list[Check], refs: dict[str, str]) -> bool:
    """Whether one of `checks` is hashed or streamed by the one pass."""
    return any(isinstance(check.handler, Unique) or _streams(check, refs) for check in checks)


def plan(checks: list[tuple[int, Check]], path: str, refs: dict[str, str]) -> OnePass:
    uniques = [(index, check) for index, check in checks if isinstance(check.handler, Unique)]
    streamed = [(index, check) for index, check in checks if _streams(check, refs)][:MAX_BITS]
    select = [f'{_key_hash(check)} AS "h{n}"' for n, (_, check) in enumerate(uniques)]
    if streamed:
        width = "USMALLINT" if len(streamed) <= 16 else "UINTEGER" if len(streamed) <= 32 else "UBIGINT"
        bits = " | ".join(f"(CASE WHEN {check.handler.predicate(check, refs)} THEN {1 << bit}::{width} ELSE 0 END)"
                          for bit, (_, check) in enumerate(streamed))
        select.append(f'({bits})::{width} AS "m"')
    return OnePass(f"SELECT {', '.join(select)} FROM {source(path)}", uniques, streamed)


def _key_hash(check: Check) -> str:
    columns = Unique().columns(check)
    hashed = f"hash({', '.join(ident(c) for c in columns)})"
    # a NULL key is not counted (as count(col) leaves it out); a composite key counts every row
    return f"CASE WHEN {ident(columns[0])} IS NOT NULL THEN {hashed} END" if len(columns) == 1 else hashed


def run(con: Any, scan: OnePass, path: str) -> tuple[int, dict[int, int], dict[int, str]]:
    """The row count, each planned check's failing count, and the statements behind each."""
    import polars as pl

    frame = con.sql(scan.sql).pl()
    measures = [pl.len().alias("rows")]
    for n in range(len(scan.uniques)):
        column = pl.col(f"h{n}")
        measures += [column.n_unique().alias(f"distinct{n}"), column.count().alias(f"keys{n}"),
                     column.null_count().alias(f"nulls{n}")]
    measures += [((pl.col("m") & (1 << bit)) != 0).sum().alias(f"bit{bit}") for bit in range(len(scan.streamed))]
    counted = frame.select(measures).row(0, named=True)
    del frame
    values: dict[int, int] = {index: int(counted[f"bit{bit}"]) for bit, (index, _) in enumerate(scan.streamed)}
    statements = {index: scan.sql for index, _ in scan.streamed}
    for n, (index, check) in enumerate(scan.uniques):
        distinct = int(counted[f"distinct{n}"]) - (1 if counted[f"nulls{n}"] else 0)  # NULL counts as a value there
        statements[index] = scan.sql
        if distinct == int(counted[f"keys{n}"]):
            values[index] = 0
            continue
        exact = Unique().duplicates(check, path)
        values[index] = int(con.sql(exact).fetchall()[0][0] or 0)
        statements[index] += f"\n;\n{exact}"
    return int(counted["rows"]), values, statements

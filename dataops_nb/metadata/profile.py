"""Per-column profile of one dataset version, computed in one DuckDB query over its file.

For every column: null count and approximate distinct count; for numbers, dates and
times also min and max. Values are JSON-ready (dates as ISO text, decimals as floats).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    import duckdb

from ..store import scratch

_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|"
    r"FLOAT|DOUBLE|REAL|DECIMAL(\(\d+,\s*\d+\))?|VARINT|BIGNUM)$"
)
_TEMPORAL = re.compile(r"^(DATE|TIME|TIMESTAMP.*|TIME WITH TIME ZONE)$")
_NESTED = re.compile(r"(\[\]|\[\d+\]$|^STRUCT\(|^MAP\(|^UNION\()")


def is_numeric(dtype: str) -> bool:
    return bool(_NUMERIC.match(dtype.upper()))


def averaged(dtype: str) -> bool:
    """Numbers DuckDB averages (all but VARINT and BIGNUM)."""
    return is_numeric(dtype) and dtype.upper() not in ("VARINT", "BIGNUM")


def is_temporal(dtype: str) -> bool:
    return bool(_TEMPORAL.match(dtype.upper()))


def ordered(dtype: str) -> bool:
    """Columns whose min and max the profile reports: numbers, dates and times."""
    return is_numeric(dtype) or is_temporal(dtype)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def profile_query(path: Path | str, schema: list[dict[str, str]]) -> str:
    """The one aggregate query: count(*) then, per column, nulls, distinct, min, max, mean."""
    parts = ["count(*)"]
    for column in schema:
        ident, dtype = _ident(column["name"]), column["type"]
        parts.append(f"count(*) - count({ident})")
        parts.append("NULL" if _NESTED.search(dtype) else f"approx_count_distinct({ident})")
        if ordered(dtype):
            parts += [f"min({ident})", f"max({ident})"]
        else:
            parts += ["NULL", "NULL"]
        parts.append(f"avg({ident})" if averaged(dtype) else "NULL")
    return f"SELECT {', '.join(parts)} FROM read_parquet({_literal(path)})"


def profile(
    path: Path | str, schema: list[dict[str, str]], con: duckdb.DuckDBPyConnection | None = None
) -> list[dict[str, Any]]:
    """One row per column, in schema order: name, type, null_count, approx_distinct, min, max and
    (numbers) mean; a mean that is not a finite number is left out (None)."""
    own = con is None
    con = con or scratch()
    try:
        record = con.sql(profile_query(path, schema)).fetchall()[0]
    finally:
        if own:
            con.close()
    rows = int(record[0])
    result = []
    for index, column in enumerate(schema):
        nulls, distinct, low, high, mean = record[1 + 5 * index : 6 + 5 * index]
        result.append(
            {
                "name": column["name"],
                "type": column["type"],
                "rows": rows,
                "null_count": int(nulls),
                # HyperLogLog may overshoot on tiny inputs: never more than the non-null rows
                "approx_distinct": None if distinct is None else min(int(distinct), rows - int(nulls)),
                "min": plain(low),
                "max": plain(high),
                "mean": float(mean) if mean is not None and math.isfinite(mean) else None,
            }
        )
    return result


def plain(value: Any) -> Any:
    """A JSON-ready form of a DuckDB value (ISO text for dates, floats for decimals)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return str(value)

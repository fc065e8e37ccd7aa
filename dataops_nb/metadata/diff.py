"""Data diffs: how two versions of a dataset differ, computed in DuckDB over their files.

A side is an environment (the versions it reads), a run (the versions it published) or one
`dataset@run` version. Per dataset: schema changes, row counts, column statistics (nulls, min,
max, mean) and, with a key, a keyed row diff (rows only in A, only in B, changed, per-column
change counts and a sample of changed rows with the reader's PII masked); without a key, the
rows only on each side as multisets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import DataOpsError, NotFoundError
from ..ledger import RUN_ID, VersionRecord
from ..spec import DATASET_NAME

SAMPLE = 5
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Side:
    label: str
    versions: dict[str, VersionRecord]


def side(project: Any, text: str) -> Side:
    """What `text` names: `dataset@run`, a run id, or an environment."""
    ledger = project.ledger
    if "@" in text:
        dataset = text.split("@")[0]
        record = ledger.versions.get(text) if project.has_ledger() and DATASET_NAME.match(dataset) else None
        if record is None:
            raise NotFoundError("version", text)
        return Side(text, {record.dataset: record})
    if RUN_ID.match(text):
        if not project.has_ledger() or ledger.run(text) is None:
            raise NotFoundError("run", text)
        return Side(f"run {text}", {v.dataset: v for v in ledger.versions.of_run(text) if v.status != "deleted"})
    from ..environments import require_known

    require_known(project, text)
    return Side(text, dict(project.current_versions(text)))


def declared_key(spec: Any, dataset: str) -> list[str] | None:
    """The dataset's `key:`, else the columns of its `unique` check."""
    meta = spec.datasets.get(dataset)
    if meta is None:
        return None
    if meta.key:
        return list(meta.key)
    for check in meta.checks:
        if isinstance(check, dict) and "unique" in check:
            args = check["unique"] or {}
            columns = args.get("columns") or ([args["column"]] if args.get("column") else None)
            if columns:
                return list(columns)
    for name, column in meta.columns.items():
        if any(c == "unique" or (isinstance(c, dict) and "unique" in c) for c in column.checks):
            return [name]
    return None


def diff(project: Any, a: str, b: str, datasets: list[str] | None = None, *, key: list[str] | None = None,
         user: str | None = None) -> dict[str, Any]:
    """The diff of every dataset both sides have (or of `datasets`)."""
    left, right = side(project, a), side(project, b)
    names = datasets or sorted(set(left.versions) | set(right.versions))
    for name in names:
        if name not in left.versions and name not in right.versions:
            raise NotFoundError(f"dataset in {left.label} or {right.label}", name,
                                set(left.versions) | set(right.versions))
    results = [dataset_diff(project, name, left.versions.get(name), right.versions.get(name),
                            key=key or declared_key(project.spec, name), user=user) for name in names]
    return {"a": left.label, "b": right.label, "differs": any(r["differs"] for r in results), "datasets": results}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def dataset_diff(project: Any, dataset: str, a: VersionRecord | None, b: VersionRecord | None, *,
                 key: list[str] | None, user: str | None = None) -> dict[str, Any]:
    """One dataset's diff. Row counts, nulls, min and max come from the files' parquet statistics
    and the means from the versions' profiles (no scan; a mean a profile lacks is computed); the
    rest is one pass over each file: with a key either a positional comparison (both files sorted by
    one integer key, see `_aligned`) or one FULL OUTER JOIN whose single aggregate counts the rows
    only on each side, the changed rows and columns, the means and picks the sample; without a key
    one GROUP BY over both files. Two files with the same bytes are not read at all."""
    result: dict[str, Any] = {"dataset": dataset, "a": a.version_id if a else None, "b": b.version_id if b else None}
    if a is None or b is None:
        result.update(differs=True, only_in="b" if a is None else "a",
                      rows={"a": a.rows if a else None, "b": b.rows if b else None})
        return result
    types_a = {c["name"]: c["type"] for c in a.schema}
    types_b = {c["name"]: c["type"] for c in b.schema}
    schema = {
        "added": [c for c in types_b if c not in types_a],
        "removed": [c for c in types_a if c not in types_b],
        "type_changed": [{"column": c, "a": types_a[c], "b": types_b[c]}
                         for c in types_a if c in types_b and types_a[c] != types_b[c]],
    }
    result["schema"] = schema
    if key:  # a key that does not fit is refused even where nothing differs
        _require_key_columns(dataset, key, types_a, types_b)
    if a.version_id == b.version_id:
        result.update(same_version=True, differs=False, rows={"a": a.rows, "b": b.rows})
        return result
    common = [c for c in types_a if c in types_b]
    from ..store import scratch

    con = scratch()
    try:
        con.execute("SET parquet_metadata_cache = true")  # every query of the diff reads the same two footers
        stats_a, rows_a = _file_stats(con, a.path, common)
        stats_b, rows_b = _file_stats(con, b.path, common)
        result["rows"] = {"a": rows_a, "b": rows_b}
        numeric = [c for c in common if _numeric(types_a[c]) and _numeric(types_b[c])]
        # the means the versions' profiles hold (taken on publish) are not computed again
        stored = (_stored_means(project, a), _stored_means(project, b))
        computed = [c for c in numeric if c not in stored[0] or c not in stored[1]]
        if _same_bytes(a.path, b.path):
            found: dict[str, Any] = {"only_in_a": 0, "only_in_b": 0, "same_content": True}
            if key:
                found.update(changed=0, changed_columns={}, sample=[])
            means: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        elif key:
            found, means = _keyed(con, dataset, a.path, b.path, key, [c for c in common if c not in key], computed,
                                  rows_a, rows_b, types=(types_a, types_b))
        else:
            found, means = _unkeyed(con, a.path, b.path, common, computed, rows_a, rows_b)
        if not found.get("same_content"):
            means = tuple({c: found_means.get(c) if c in computed else kept[c] for c in numeric}
                          for kept, found_means in zip(stored, means))
    finally:
        con.close()
    for stats, mean in zip((stats_a, stats_b), means):
        for column, value in mean.items():
            stats[column]["mean"] = round(float(value), 6) if value is not None else None
    # what the reader may not see: the values of its columns, in the statistics and the sample
    hidden = _hidden(project, dataset, a.version_id, user) | _hidden(project, dataset, b.version_id, user)
    result["stats"] = {c: {"a": _masked_stats(stats_a[c], c in hidden), "b": _masked_stats(stats_b[c], c in hidden)}
                       for c in common if stats_a[c] != stats_b[c]}
    if key:
        result["key"] = key
    result.update(found)
    if hidden and result.get("sample"):
        from .pii import mask_rows

        result["sample"] = mask_rows(result["sample"], {f"{c}{s}" for c in hidden for s in ("", " (a)", " (b)")})
    changed = result["only_in_a"] or result["only_in_b"] or result.get("changed")
    result["differs"] = bool(changed or any(schema.values()) or rows_a != rows_b)
    return result


def _stored_means(project: Any, version: VersionRecord) -> dict[str, float]:
    """The numeric columns' means in the version's profile (none outside a project, or for a version
    profiled before profiles held means)."""
    if project is None:
        return {}
    return {p["name"]: p["mean"] for p in project.ledger.column_profiles(version.version_id) if p.get("mean") is not None}


def _masked_stats(stats: dict[str, Any], hidden: bool) -> dict[str, Any]:
    """A column's statistics as the reader may see them: a PII column's values masked, its null count kept."""
    if not hidden:
        return stats
    from ..security import MASK

    return {name: (MASK if name != "nulls" and value is not None else value) for name, value in stats.items()}


def _hidden(project: Any, dataset: str, version_id: str, user: str | None) -> set[str]:
    from .pii import hidden

    if project is None:  # two files compared outside a project: no spec names PII
        return set()
    return hidden(project.spec, project.ledger, dataset, version_id, user=user)


def _numeric(type_name: str) -> bool:
    """A type whose mean the diff reports (a list, array, struct or map of numbers has none)."""
    upper = type_name.upper()
    if upper.endswith("]") or upper.startswith(("STRUCT", "MAP", "UNION")):
        return False
    return any(t in upper for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))


def _same_bytes(path_a: str, path_b: str) -> bool:
    """The two files hold the same bytes (compared only when their sizes agree; stops at the first difference)."""
    import filecmp

    try:
        return path_a == path_b or filecmp.cmp(path_a, path_b, shallow=False)
    except OSError:
        return False


def _file_stats(con: Any, path: str, common: list[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """Rows and per-column nulls/min/max: DuckDB answers these from the parquet statistics in the
    file's footer (it scans only a file written without them). The mean comes from the diff's pass."""
    parts = ["count(*)"]
    for column in common:
        q = _quote(column)
        parts += [f"count(*) - count({q})", f"min({q})::VARCHAR", f"max({q})::VARCHAR"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM read_parquet(?)", [path]).fetchone()
    stats = {}
    for index, column in enumerate(common):
        nulls, low, high = row[1 + 3 * index: 4 + 3 * index]
        stats[column] = {"nulls": nulls, "min": low, "max": high, "mean": None}
    return stats, int(row[0])


def _require_key_columns(dataset: str, key: list[str], types_a: dict[str, str], types_b: dict[str, str]) -> None:
    for label, types in (("A", types_a), ("B", types_b)):
        missing = [k for k in key if k not in types]
        if missing:
            raise DataOpsError(f"Key column {missing[0]} does not exist in side {label} of {dataset} "
                               f"(columns: {', '.join(types)}).")
    clash = [k for k in key if types_a[k] != types_b[k]]
    if clash:
        k = clash[0]
        raise DataOpsError(f"The key of {dataset} is incompatible between the sides: {k} is {types_a[k]} in A "
                           f"and {types_b[k]} in B.")


def _refuse_duplicates(con: Any, dataset: str, key: list[str], paths: tuple[str, str]) -> None:
    """The key's duplicate rows on each side, counted (only once the join showed there are some)."""
    struct = "{" + ", ".join(f"{_literal(k)}: {_quote(k)}" for k in key) + "}"
    for label, path in zip(("A", "B"), paths):
        (duplicates,) = con.execute(f"SELECT count(*) - count(DISTINCT {struct}) FROM read_parquet(?)", [path]).fetchone()
        if duplicates:
            raise DataOpsError(f"The key ({', '.join(key)}) is not unique in side {label} of {dataset}: "
                               f"{duplicates} duplicate row(s).")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _keyed(con: Any, dataset: str, path_a: str, path_b: str, key: list[str], others: list[str], numeric: list[str],
           rows_a: int, rows_b: int, *, types: tuple[dict[str, str], dict[str, str]],
           ) -> tuple[dict[str, Any], tuple[dict[str, Any], dict[str, Any]]]:
    """The keyed row diff: positional when both files are sorted by one integer key (no join), else one join."""
    aligned = _aligned(con, path_a, path_b, key, types, rows_a, rows_b)
    if aligned is not None:
        found = _positional(con, (path_a, path_b), key[0], others, numeric, aligned, types)
        if found is not None:
            logger.debug("keyed diff of %s by position: both files are sorted by %s", dataset, key[0])
            return found
    return _joined(con, dataset, path_a, path_b, key, others, numeric, rows_a, rows_b)


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_SUMMED = _INTEGERS | {"FLOAT", "REAL", "DOUBLE"}  # sums that cannot overflow a HUGEINT
_ROW = "file_row_number"  # read_parquet's number of a row in its file


@dataclass(frozen=True)
class _Aligned:
    """Two files whose one integer key strictly increases: their keys (arrow arrays), a keep-mask per
    side (None: the side is read whole), the counts of rows only in A, only in B and matched, and
    the rows of each of A's row groups."""

    keys: tuple[Any, Any]
    keep: tuple[Any, Any]
    only_a: int
    only_b: int
    matched: int
    groups: list[int]


def _aligned(con: Any, path_a: str, path_b: str, key: list[str], types: tuple[dict[str, str], dict[str, str]],
             rows_a: int, rows_b: int) -> _Aligned | None:
    """Which rows of each file have their key on the other side, when both files hold one integer key
    strictly increasing (so unique, no NULL): then the matched rows come in the same order in both
    files and pair up by position. None when the files are not so (the join decides).

    The two files are taken at once, one thread each: the footer's row-group statistics rule out
    most unsorted files before any key is read, then the key column is read and checked."""
    if (len(key) != 1 or types[0][key[0]].upper() not in _INTEGERS or not rows_a or not rows_b
            or _ROW in types[0] or _ROW in types[1]):
        return None
    import numpy as np

    read = _in_threads(con, [lambda cursor, path=path: _sorted_keys(cursor, path, key[0]) for path in (path_a, path_b)])
    if read[0] is None or read[1] is None:
        return None
    (array_a, groups), (array_b, _) = read
    arrays = (array_a, array_b)
    ka, kb = (np.asarray(array) for array in arrays)
    if len(ka) == len(kb) and np.array_equal(ka, kb):
        return _Aligned(arrays, (None, None), 0, 0, len(ka), groups)
    low, high = min(int(ka[0]), int(kb[0])), max(int(ka[-1]), int(kb[-1]))
    if high - low <= 4 * (len(ka) + len(kb)):  # dense keys: a lookup table, linear time
        from concurrent.futures import ThreadPoolExecutor

        at_a, at_b = (_offsets(np, k, low) for k in (ka, kb))

        def among(present: Any, probe: Any) -> Any:
            seen = np.zeros(high - low + 1, dtype=bool)
            seen[present] = True
            return seen[probe]

        with ThreadPoolExecutor(max_workers=2) as pool:  # numpy lets go of the GIL while it indexes
            keep_a, keep_b = pool.map(among, (at_b, at_a), (at_a, at_b))
    else:
        keep_a, keep_b = np.isin(ka, kb, assume_unique=True), np.isin(kb, ka, assume_unique=True)
    matched = int(keep_a.sum())
    only_a, only_b = len(ka) - matched, len(kb) - matched
    masks = [keep_a if only_a else None, keep_b if only_b else None]
    # one side whose own rows all come after its matched ones (rows appended) is read whole: its
    # extra rows meet the end of the other side, not a row of it
    for side in (1, 0):
        if masks[side] is not None and bool(masks[side][:matched].all()):
            masks[side] = None
            break
    return _Aligned(arrays, (masks[0], masks[1]), only_a, only_b, matched, groups)


def _sorted_keys(con: Any, path: str, column: str) -> tuple[Any, list[int]] | None:
    """A file's key column as one arrow array (pyarrow reads one integer column into memory with
    less CPU than DuckDB's fetch) and the rows of each of its row groups; None when the column is
    not strictly increasing (or holds a NULL)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    groups = _sorted_row_groups(con, path, column)
    if groups is None:
        return None
    try:
        array = pq.ParquetFile(path).read(columns=[column], use_threads=False).column(0).combine_chunks()
    except (pa.ArrowException, KeyError, OSError):
        from ..store import quote_path

        table = con.sql(f"SELECT {_quote(column)} FROM read_parquet({quote_path(path)})").to_arrow_table()
        array = table.column(0).combine_chunks()
    keys = np.asarray(array) if not array.null_count else None
    return (array, groups) if keys is not None and bool(np.all(keys[1:] > keys[:-1])) else None


def _in_threads(con: Any, tasks: list[Any]) -> list[Any]:
    """The tasks' results, each given a cursor of its own, run on as many threads as DuckDB has
    (DuckDB and pyarrow let go of the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    (threads,) = con.execute("SELECT current_setting('threads')").fetchall()[0]
    cursors = [con.cursor() for _ in tasks]
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(int(threads), len(tasks)))) as pool:
            return list(pool.map(lambda task, cursor: task(cursor), tasks, cursors))
    finally:
        for cursor in cursors:
            cursor.close()


def _offsets(np: Any, keys: Any, low: int) -> Any:
    """Each key's distance from `low` (the lowest key of both sides) as int64 indexes."""
    if keys.dtype == np.uint64:  # beyond int64: subtract first (the distances are small)
        return (keys - np.uint64(low)).view(np.int64)
    return keys.astype(np.int64, copy=False) - low if low else keys.astype(np.int64, copy=False)


def _sorted_row_groups(con: Any, path: str, column: str) -> list[int] | None:
    """The rows of each of the file's row groups when these hold increasing, disjoint ranges of
    `column` with no NULL, as their footer statistics say (a necessary condition for a strictly
    increasing column); else None."""
    groups = con.execute("SELECT stats_min_value, stats_max_value, stats_null_count, row_group_num_rows "
                         "FROM parquet_metadata(?) WHERE path_in_schema = ? ORDER BY row_group_id", [path, column]).fetchall()
    previous = None
    for low, high, nulls, _ in groups:
        if low is None or high is None or nulls is None or nulls:
            return None
        try:
            low, high = int(low), int(high)
        except ValueError:
            return None
        if low > high or (previous is not None and low <= previous):
            return None
        previous = high
    return [int(rows) for *_, rows in groups] or None


_PIECE = 1 << 20  # rows of A a pass covers at most: a side's bit mask is copied for every vector it scans


def _ranges(con: Any, aligned: _Aligned) -> list[tuple[int, int, int, int]]:
    """The passes' row ranges ([A from, A to), [B from, B to)): at least one per thread and at most
    `_PIECE` rows of A each, cut at A's row-group starts; the matched rows of a range of A are the
    matched rows of its range of B."""
    import numpy as np

    (threads,) = con.execute("SELECT current_setting('threads')").fetchall()[0]
    counts = aligned.groups
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ka, kb = (np.asarray(k) for k in aligned.keys)
    pieces = max(1, min(max(int(threads), -(-len(ka) // _PIECE)), len(counts)))
    cuts = sorted({int(starts[len(counts) * i // pieces]) for i in range(1, pieces)} - {0, len(ka)})
    at_a = [0, *cuts, len(ka)]
    at_b = [0, *(int(np.searchsorted(kb, ka[i])) for i in cuts), len(kb)]
    return [(at_a[i], at_a[i + 1], at_b[i], at_b[i + 1]) for i in range(len(at_a) - 1)]


def _positional(con: Any, paths: tuple[str, str], key: str, others: list[str], numeric: list[str],
                aligned: _Aligned, types: tuple[dict[str, str], dict[str, str]],
                ) -> tuple[dict[str, Any], tuple[dict[str, Any], dict[str, Any]]] | None:
    """The matched rows of two files sorted by `key`, compared by position: a POSITIONAL JOIN of two
    parquet scans streams both files (no hash table, nothing materialized), one per range of rows,
    the ranges on DuckDB's threads; a side's rows only on that side are skipped inside its scan by a
    bit mask of their row numbers. The keys are not read again: the rows' numbers say which are
    paired and the first changed ones. Counted: changed rows, per-column change counts, the sums of
    a side read whole (its means; a filtered side's means from a scan of its numeric columns beside
    the passes, the key's from the keys read); then the sample's rows fetched by key (the row-group
    statistics skip the rest of the files). None when the pairs are not the matched rows."""
    import numpy as np
    import pyarrow as pa

    columns = ", ".join(_quote(c) for c in others)
    numbers = [c for c in numeric if c != key]
    # a side read whole has all its rows in the passes: its means come from them (as sums and counts)
    summed = [s for s, keep, kinds in zip("ab", aligned.keep, types) if keep is None
              and all(kinds[c].upper() in _SUMMED or kinds[c].upper().startswith("DECIMAL") for c in numbers)]
    flags = ["a.__r IS NOT NULL AND b.__r IS NOT NULL AS __pair", "a.__r AS __ra"]
    flags += [f"a.{_quote(c)} IS DISTINCT FROM b.{_quote(c)} AS {_quote(f'__d{i}')}" for i, c in enumerate(others)]
    flags += [f"{s}.{_quote(c)} AS {_quote(f'__m{s}{i}')}" for s in summed for i, c in enumerate(numbers)]
    changed = "__pair AND (" + (" OR ".join(_quote(f"__d{i}") for i in range(len(others))) or "false") + ")"
    parts = ["count(*) FILTER (WHERE __pair)", f"count(*) FILTER (WHERE {changed})",
             f"min_by(__ra, __ra, {SAMPLE}) FILTER (WHERE {changed})"]
    parts += [f"count(*) FILTER (WHERE __pair AND {_quote(f'__d{i}')})" for i in range(len(others))]
    parts += [f"{f}({_quote(f'__m{s}{i}')})" for s in summed for i in range(len(numbers)) for f in ("sum", "count")]

    def side(label: str, path: str, keep: Any, low: int, high: int, params: list[Any]) -> str:
        where = f"{_ROW} >= {low} AND {_ROW} < {high}"
        params.append(path)
        if keep is not None and not keep[low:high].all():
            where += f" AND get_bit(?::BLOB::BIT, ({_ROW} - {low})::INTEGER) = 1"
            params.append(np.packbits(keep[low:high]).tobytes())
        return f"(SELECT {_ROW} AS __r{', ' if columns else ''}{columns} FROM read_parquet(?) WHERE {where}) {label}"

    def compare(cursor: Any, low_a: int, high_a: int, low_b: int, high_b: int) -> tuple[Any, ...]:
        params: list[Any] = []
        sql_a = side("a", paths[0], aligned.keep[0], low_a, high_a, params)
        sql_b = side("b", paths[1], aligned.keep[1], low_b, high_b, params)
        return cursor.execute(f"SELECT {', '.join(parts)} FROM (SELECT {', '.join(flags)} FROM {sql_a} "
                              f"POSITIONAL JOIN {sql_b})", params).fetchall()[0]

    tasks: list[Any] = [lambda cursor, r=r: compare(cursor, *r) for r in _ranges(con, aligned)]
    apart = [s for s in "ab" if s not in summed]
    tasks += [lambda cursor, path=path: _means(cursor, path, numbers) for s, path in zip("ab", paths) if s in apart]
    done = _in_threads(con, tasks)
    rows, scanned = done[:len(done) - len(apart)], dict(zip(apart, done[len(done) - len(apart):]))
    if sum(r[0] for r in rows) != aligned.matched:
        return None
    changed_rows = sum(r[1] for r in rows)
    counts = [sum(r[3 + i] for r in rows) for i in range(len(others))]
    firsts = sorted(int(v) for r in rows for v in (r[2] or []))[:SAMPLE]
    sample: list[dict[str, Any]] = []
    if firsts:
        k = _quote(key)
        cols = ", ".join(_quote(c) for c in [key, *others])
        # integers: written into the filter so it prunes row groups
        chosen = ", ".join(str(v) for v in np.asarray(aligned.keys[0])[firsts].tolist())
        picked = con.execute(
            f"SELECT {_sample_struct([key], others)} FROM (SELECT {cols} FROM read_parquet(?) WHERE {k} IN ({chosen})) a "
            f"JOIN (SELECT {cols} FROM read_parquet(?) WHERE {k} IN ({chosen})) b ON a.{k} = b.{k} ORDER BY a.{k}",
            list(paths)).fetchall()
        sample = _plain([r[0] for r in picked])
    means: dict[str, dict[str, Any]] = {}
    for index, s in enumerate(summed):
        at = 3 + len(others) + 2 * len(numbers) * index
        sums = {c: (sum(r[at + 2 * i] or 0 for r in rows), sum(r[at + 2 * i + 1] for r in rows))
                for i, c in enumerate(numbers)}
        means[s] = {c: (total / n if n else None) for c, (total, n) in sums.items()}
    means.update(scanned)
    if key in numeric:  # the key's mean from the keys read
        for s, array in zip("ab", aligned.keys):
            con.register("__dataops_keys", pa.table({"k": array}))
            try:
                (means[s][key],) = con.execute("SELECT avg(k) FROM __dataops_keys").fetchall()[0]
            finally:
                con.unregister("__dataops_keys")
    both = ({c: means["a"].get(c) for c in numeric}, {c: means["b"].get(c) for c in numeric})
    return ({"only_in_a": aligned.only_a, "only_in_b": aligned.only_b, "changed": int(changed_rows),
             "changed_columns": {c: int(n) for c, n in zip(others, counts) if n}, "sample": sample}, both)


def _means(con: Any, path: str, numeric: list[str]) -> dict[str, Any]:
    """The means of a file's numeric columns (only those columns are read)."""
    if not numeric:
        return {}
    row = con.execute(f"SELECT {', '.join(f'avg({_quote(c)})' for c in numeric)} FROM read_parquet(?)", [path]).fetchone()
    return dict(zip(numeric, row))


def _sample_struct(key: list[str], others: list[str]) -> str:
    """A changed row as the sample shows it: the key, then each column's value in A and in B."""
    return "{" + ", ".join([f"{_literal(k)}: a.{_quote(k)}" for k in key]
                           + [f"{_literal(f'{c} ({s})')}: {s}.{_quote(c)}" for c in others for s in "ab"]) + "}"


def _plain(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Sample rows with JSON's types: what is not a number, string or boolean becomes its text."""
    return [{k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in r.items()}
            for r in rows or []]


def _joined(con: Any, dataset: str, path_a: str, path_b: str, key: list[str], others: list[str], numeric: list[str],
            rows_a: int, rows_b: int) -> tuple[dict[str, Any], tuple[dict[str, Any], dict[str, Any]]]:
    """One FULL OUTER JOIN of the two files on the key and one aggregate over it: rows on one side
    only, changed rows and per-column change counts, both sides' means, the first changed rows by key
    (the sample), and what shows a key that is not unique: more joined rows than the files hold, or
    repeated keys among the rows of one side only."""
    on = " AND ".join(f"a.{_quote(k)} = b.{_quote(k)}" for k in key)
    changes = [f"a.{_quote(c)} IS DISTINCT FROM b.{_quote(c)} AS {_quote(f'__d{i}')}" for i, c in enumerate(others)]
    changed = "__in_a AND __in_b AND (" + (" OR ".join(_quote(f"__d{i}") for i in range(len(others))) or "false") + ")"
    sample = _sample_struct(key, others)
    key_of = {s: "{" + ", ".join(f"{_literal(k)}: {s}.{_quote(k)}" for k in key) + "}" for s in "ab"}
    projected = [
        "a.__a IS NOT NULL AS __in_a", "b.__b IS NOT NULL AS __in_b", f"{key_of['a']} AS __key_a",
        f"{key_of['b']} AS __key_b", *changes,
        *[f"{s}.{_quote(c)} AS {_quote(f'__m{s}{i}')}" for i, c in enumerate(numeric) for s in "ab"],
    ]
    joined = (f"SELECT {', '.join(projected)}, CASE WHEN a.__a AND b.__b AND ("
              + (" OR ".join(c.rsplit(" AS ", 1)[0] for c in changes) or "false")
              + f") THEN {sample} END AS __row FROM (SELECT *, true AS __a FROM read_parquet(?)) a "
              f"FULL OUTER JOIN (SELECT *, true AS __b FROM read_parquet(?)) b ON {on}")
    parts = ["count(*) FILTER (WHERE NOT __in_b)", "count(*) FILTER (WHERE NOT __in_a)",
             f"count(*) FILTER (WHERE {changed})", "count(*) FILTER (WHERE __in_a AND __in_b)",
             "len(list_distinct(list(__key_a) FILTER (WHERE NOT __in_b)))",
             "len(list_distinct(list(__key_b) FILTER (WHERE NOT __in_a)))",
             f"min_by(__row, __key_a, {SAMPLE}) FILTER (WHERE {changed})"]
    parts += [f"count(*) FILTER (WHERE __in_a AND __in_b AND {_quote(f'__d{i}')})" for i in range(len(others))]
    parts += [f"avg({_quote(f'__m{s}{i}')})" for i in range(len(numeric)) for s in "ab"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM ({joined})", [path_a, path_b]).fetchone()
    only_a, only_b, changed_rows, matched, distinct_a, distinct_b, picked = row[:7]
    if not (matched == rows_a - only_a == rows_b - only_b and distinct_a == only_a and distinct_b == only_b):
        _refuse_duplicates(con, dataset, key, (path_a, path_b))
    columns = {c: int(n) for c, n in zip(others, row[7:7 + len(others)]) if n}
    found = _plain(picked)
    means = row[7 + len(others):]
    return ({"only_in_a": int(only_a), "only_in_b": int(only_b), "changed": int(changed_rows),
             "changed_columns": columns, "sample": found},
            ({c: means[2 * i] for i, c in enumerate(numeric)}, {c: means[2 * i + 1] for i, c in enumerate(numeric)}))


def _unkeyed(con: Any, path_a: str, path_b: str, common: list[str], numeric: list[str], rows_a: int,
             rows_b: int) -> tuple[dict[str, Any], tuple[dict[str, Any], dict[str, Any]]]:
    """Without a key: rows of one side that the other lacks, counted as multisets by one GROUP BY over
    both files (each read once), with both sides' means."""
    if not common:
        return {"only_in_a": max(rows_a - rows_b, 0), "only_in_b": max(rows_b - rows_a, 0)}, ({}, {})
    cols = ", ".join(_quote(c) for c in common)
    means = [f"sum({_quote(c)}::DOUBLE * {n}) / nullif(sum({n}) FILTER (WHERE {_quote(c)} IS NOT NULL), 0)"
             for c in numeric for n in ("__na", "__nb")]
    row = con.execute(
        f"SELECT sum(greatest(__na - __nb, 0)), sum(greatest(__nb - __na, 0)){''.join(', ' + m for m in means)} "
        f"FROM (SELECT {cols}, count(*) FILTER (WHERE __side) AS __na, count(*) FILTER (WHERE NOT __side) AS __nb "
        f"FROM (SELECT {cols}, true AS __side FROM read_parquet(?) UNION ALL SELECT {cols}, false FROM read_parquet(?)) "
        f"GROUP BY {cols})", [path_a, path_b]).fetchone()
    found = row[2:]
    return ({"only_in_a": int(row[0] or 0), "only_in_b": int(row[1] or 0)},
            ({c: found[2 * i] for i, c in enumerate(numeric)}, {c: found[2 * i + 1] for i, c in enumerate(numeric)}))


def markdown(result: dict[str, Any]) -> str:
    """The diff as Markdown (a pull request's summary)."""
    lines = [f"### Data diff: {result['a']} → {result['b']}", ""]
    lines += ["| dataset | rows A | rows B | only in A | only in B | changed | schema |", "|---|---|---|---|---|---|---|"]
    for d in result["datasets"]:
        schema = d.get("schema") or {}
        change = "; ".join(filter(None, [
            ("added " + ", ".join(schema.get("added", []))) if schema.get("added") else "",
            ("removed " + ", ".join(schema.get("removed", []))) if schema.get("removed") else "",
            ", ".join(f"{t['column']} {t['a']}→{t['b']}" for t in schema.get("type_changed", [])),
        ])) or ("only in " + d["only_in"].upper() if d.get("only_in") else "")
        rows = d.get("rows") or {}
        lines.append(f"| {_cell(d['dataset'])} | {rows.get('a', '')} | {rows.get('b', '')} | {d.get('only_in_a', '')} | "
                     f"{d.get('only_in_b', '')} | {d.get('changed', '')} | {_cell(change)} |")
    for d in result["datasets"]:
        if d.get("changed_columns"):
            lines += ["", f"**{_cell(d['dataset'])}** changed columns: "
                      + ", ".join(f"{_cell(c)} ({n})" for c, n in d["changed_columns"].items())]
    lines.append("")
    lines.append("Differences found." if result["differs"] else "No differences.")
    return "\n".join(lines) + "\n"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")

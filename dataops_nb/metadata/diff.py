"""Data diffs: how two versions of a dataset differ, computed in DuckDB over their files.

A side is an environment (the versions it reads), a run (the versions it published) or one
`dataset@run` version. Per dataset: schema changes, row counts, column statistics (nulls, min,
max, mean) and, with a key, a keyed row diff (rows only in A, only in B, changed, per-column
change counts and a sample of changed rows with the reader's PII masked); without a key, the
rows only on each side as multisets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import DataOpsError, NotFoundError
from ..ledger import RUN_ID, VersionRecord
from ..spec import DATASET_NAME

SAMPLE = 5


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
    if a.version_id == b.version_id:
        result.update(same_version=True, differs=False, rows={"a": a.rows, "b": b.rows})
        return result
    common = [c for c in types_a if c in types_b]
    from ..store import scratch

    con = scratch()
    try:
        stats_a, rows_a, dup_a = _profile(con, a.path, common, key, types_a)
        stats_b, rows_b, dup_b = _profile(con, b.path, common, key, types_b)
        result["rows"] = {"a": rows_a, "b": rows_b}
        # what the reader may not see: the values of its columns, in the statistics and the sample
        hidden = _hidden(project, dataset, a.version_id, user) | _hidden(project, dataset, b.version_id, user)
        result["stats"] = {c: {"a": _masked_stats(stats_a[c], c in hidden), "b": _masked_stats(stats_b[c], c in hidden)}
                           for c in common if stats_a[c] != stats_b[c]}
        if key:
            _require_key(dataset, key, types_a, types_b, dup_a, dup_b)
            result["key"] = key
            result.update(_keyed(con, a.path, b.path, key, [c for c in common if c not in key]))
            if hidden and result["sample"]:
                from .pii import mask_rows

                result["sample"] = mask_rows(result["sample"], {f"{c}{s}" for c in hidden for s in ("", " (a)", " (b)")})
            changed = result["only_in_a"] or result["only_in_b"] or result["changed"]
        else:
            result.update(_unkeyed(con, a.path, b.path, common))
            changed = result["only_in_a"] or result["only_in_b"]
    finally:
        con.close()
    result["differs"] = bool(changed or any(schema.values()) or rows_a != rows_b)
    return result


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


def _profile(con: Any, path: str, common: list[str], key: list[str] | None,
             types: dict[str, str]) -> tuple[dict[str, dict[str, Any]], int, int | None]:
    """One pass over a file: rows, per-column nulls/min/max/mean, and the key's duplicate rows."""
    parts = ["count(*)"]
    for column in common:
        q = _quote(column)
        numeric = any(t in types[column].upper() for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))
        parts += [f"count(*) - count({q})", f"min({q})::VARCHAR", f"max({q})::VARCHAR",
                  f"avg({q})" if numeric else "NULL"]
    usable = key and all(k in types for k in key)
    if usable:
        parts.append("count(*) - count(DISTINCT (" + ", ".join(_quote(k) for k in key) + "))")
    row = con.execute(f"SELECT {', '.join(parts)} FROM read_parquet(?)", [path]).fetchone()
    stats = {}
    for index, column in enumerate(common):
        nulls, low, high, mean = row[1 + 4 * index: 5 + 4 * index]
        stats[column] = {"nulls": nulls, "min": low, "max": high,
                         "mean": round(float(mean), 6) if mean is not None else None}
    return stats, int(row[0]), (int(row[-1]) if usable else None)


def _require_key(dataset: str, key: list[str], types_a: dict[str, str], types_b: dict[str, str],
                 dup_a: int | None, dup_b: int | None) -> None:
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
    for label, duplicates in (("A", dup_a), ("B", dup_b)):
        if duplicates:
            raise DataOpsError(f"The key ({', '.join(key)}) is not unique in side {label} of {dataset}: "
                               f"{duplicates} duplicate row(s).")


def _keyed(con: Any, path_a: str, path_b: str, key: list[str], others: list[str]) -> dict[str, Any]:
    """One join of the two files on the key: rows on one side only, changed rows and columns."""
    on = " AND ".join(f"a.{_quote(k)} = b.{_quote(k)}" for k in key)
    first = _quote(key[0])
    differs = [f"a.{_quote(c)} IS DISTINCT FROM b.{_quote(c)}" for c in others]
    both = f"a.{first} IS NOT NULL AND b.{first} IS NOT NULL"
    parts = [f"count(*) FILTER (WHERE b.{first} IS NULL)", f"count(*) FILTER (WHERE a.{first} IS NULL)",
             f"count(*) FILTER (WHERE {both} AND ({' OR '.join(differs) or 'false'}))"]
    parts += [f"count(*) FILTER (WHERE {both} AND {d})" for d in differs]
    joined = f"read_parquet(?) a FULL OUTER JOIN read_parquet(?) b ON {on}"
    row = con.execute(f"SELECT {', '.join(parts)} FROM {joined}", [path_a, path_b]).fetchone()
    columns = {c: int(n) for c, n in zip(others, row[3:]) if n}
    sample: list[dict[str, Any]] = []
    if row[2]:
        select = [f"a.{_quote(k)} AS {_quote(k)}" for k in key]
        for c in others:
            select += [f"a.{_quote(c)} AS {_quote(c + ' (a)')}", f"b.{_quote(c)} AS {_quote(c + ' (b)')}"]
        cursor = con.execute(
            f"SELECT {', '.join(select)} FROM {joined} WHERE {both} AND ({' OR '.join(differs)}) "
            f"ORDER BY {', '.join('a.' + _quote(k) for k in key)} LIMIT {SAMPLE}", [path_a, path_b])
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, r)) for r in cursor.fetchall()]
        sample = [{k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in r.items()}
                  for r in sample]
    return {"only_in_a": int(row[0]), "only_in_b": int(row[1]), "changed": int(row[2]), "changed_columns": columns,
            "sample": sample}


def _unkeyed(con: Any, path_a: str, path_b: str, common: list[str]) -> dict[str, Any]:
    """Without a key: rows of one side that the other lacks, counted as multisets."""
    cols = ", ".join(_quote(c) for c in common) or "1"
    row = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM read_parquet(?) EXCEPT ALL SELECT {cols} FROM read_parquet(?))),"
        f" (SELECT count(*) FROM (SELECT {cols} FROM read_parquet(?) EXCEPT ALL SELECT {cols} FROM read_parquet(?)))",
        [path_a, path_b, path_b, path_a],
    ).fetchone()
    return {"only_in_a": int(row[0]), "only_in_b": int(row[1])}


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

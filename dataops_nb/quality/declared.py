"""The checks a spec declares, validated when the spec is loaded (before any step runs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import SpecError, did_you_mean
from ..spec import Spec, line_of, read_yaml
from ..store import scratch
from .checks import Check, CheckDefinitionError, parse_check
from .sql import THIS, ident

Schema = list[dict[str, Any]]  # [{"name": ..., "type": ...}]
_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


def declared_checks(spec: Spec, dataset: str) -> list[Check]:
    """Every check the spec declares for `dataset`, freshness SLA included."""
    meta = spec.datasets.get(dataset)
    if meta is None:
        return []
    checks = [
        parse_check(entry, dataset=dataset, column=column)
        for column, col in meta.columns.items()
        for entry in col.checks
    ]
    checks += [parse_check(entry, dataset=dataset) for entry in meta.checks]
    if meta.freshness and meta.freshness.column:
        sla = {"warn_after": meta.freshness.warn_after, "error_after": meta.freshness.error_after}
        checks.append(Check("freshness", dataset, meta.freshness.column, {k: v for k, v in sla.items() if v}))
    return checks


def _places(spec: Spec) -> Iterator[tuple[str, tuple[Any, ...], Any, str | None]]:
    """Every check entry of the spec: dataset, where it is in the document, the entry, its column."""
    for name, meta in spec.datasets.items():
        for column, col in meta.columns.items():
            for i, entry in enumerate(col.checks):
                yield name, ("datasets", name, "columns", column, "checks", i), entry, column
        for i, entry in enumerate(meta.checks):
            yield name, ("datasets", name, "checks", i), entry, None


def _spec_error(exc: CheckDefinitionError, loc: tuple[Any, ...], document: Any, path: Path) -> SpecError:
    inner = tuple(exc.field.split(".")) if exc.field else ()  # the argument at fault
    field = ".".join(str(part) for part in loc[:-1]) + f"[{loc[-1]}]"
    field += "".join(f".{part}" for part in inner)
    return SpecError(str(exc), file=path, line=line_of(document, loc + inner), field=field)


def validate_checks(spec: Spec, document: Any, path: Path) -> None:
    """Unknown check types, undeclared columns, bad thresholds, unknown datasets, bad SQL."""
    for name, loc, entry, column in _places(spec):
        try:
            check = parse_check(entry, dataset=name, column=column)
            _validate_references(check, spec)
        except CheckDefinitionError as exc:
            raise _spec_error(exc, loc, document, path) from exc


def bind_sql_checks(spec: Spec, path: Path, current_schema: Callable[[str], Schema | None]) -> None:
    """Bind every `sql` check against its dataset's columns: the current version's, and the
    declared ones (typed when they say a type). A dataset with neither is bound at run time.

    Binding runs on an empty relation of those columns, so it costs no data; an untyped column
    is a NULL, which DuckDB casts to whatever the query compares it with.
    """
    con = None
    try:
        for name, loc, entry, column in _places(spec):
            check = parse_check(entry, dataset=name, column=column)
            if check.kind != "sql":
                continue
            columns = _known_columns(spec, name, current_schema)
            if not columns:
                continue
            con = con or scratch()
            problem = _bind(con, check, columns)
            if problem:
                raise _spec_error(CheckDefinitionError(problem, field="sql.query"), loc, read_yaml(path), path)
    finally:
        if con is not None:
            con.close()


def _known_columns(spec: Spec, dataset: str, current_schema: Callable[[str], Schema | None]) -> dict[str, str | None]:
    columns: dict[str, str | None] = {c["name"]: c.get("type") for c in current_schema(dataset) or []}
    for column, meta in spec.datasets[dataset].columns.items():
        columns.setdefault(column, meta.type)
    return columns


def _bind(con: Any, check: Check, columns: dict[str, str | None]) -> str | None:
    """Why the check's SQL does not bind against `columns`, or None when it does."""
    import duckdb

    query = str(check.args["query"]).replace("{this}", THIS)
    what = f"sql check '{check.label}'" if check.label else "the sql check"
    typed = True
    while True:
        empty = ", ".join(
            (f"CAST(NULL AS {kind})" if typed and kind else "NULL") + f" AS {ident(name)}" for name, kind in columns.items()
        )
        try:
            con.sql(f"WITH {THIS} AS (SELECT {empty} LIMIT 0) SELECT * FROM ({query}) LIMIT 0")
            return None
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            if typed and "Type with name" in first:  # a declared type DuckDB does not know: names only
                typed = False
                continue
            missing, table = _MISSING_COLUMN.search(first), _MISSING_TABLE.search(first)
            if missing:
                return (f"{what} on {check.dataset} refers to column '{missing.group(1)}', which {check.dataset} "
                        f"does not have{did_you_mean(missing.group(1), columns)}")
            if table:
                return (f"{what} on {check.dataset} reads table {table.group(1)}, which a check cannot see "
                        "(write {this} for the dataset under check)")
            return f"{what} on {check.dataset} does not bind: {first.split(': ', 1)[-1]}"


def _validate_references(check: Check, spec: Spec) -> None:
    declared = spec.datasets[check.dataset].columns
    columns = [check.column] if check.column else []
    columns += list(check.args.get("columns") or [])
    if declared:
        for column in columns:
            if column not in declared:
                raise CheckDefinitionError(
                    f"check '{check.kind}' is on column '{column}', which {check.dataset} does not declare"
                    f"{did_you_mean(column, declared)}"
                )
    if check.kind == "relationships":
        target = str(check.args["to"])
        if target not in spec.datasets:
            raise CheckDefinitionError(
                f"relationships points to unknown dataset '{target}'{did_you_mean(target, spec.datasets)}"
            )
        target_columns = spec.datasets[target].columns
        if target_columns and check.args["field"] not in target_columns:
            raise CheckDefinitionError(f"{target} does not declare column '{check.args['field']}'")
    if check.kind == "sql":
        import duckdb  # only specs with SQL checks pay for it

        query = str(check.args["query"]).replace("{this}", "__dataset")
        parser = scratch()  # DuckDB's own parser decides what is SQL
        try:
            statements = parser.extract_statements(query)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise CheckDefinitionError(f"the check's SQL does not parse: {first}", field="sql.query") from exc
        finally:
            parser.close()
        kinds = [statement.type.name for statement in statements]  # a WITH query is a SELECT too
        if kinds != ["SELECT"]:
            raise CheckDefinitionError(
                f"the check's SQL must be exactly one SELECT or WITH query (got {', '.join(kinds) or 'none'})",
                field="sql.query",
            )

"""The checks a spec declares, validated when the spec is loaded (before any step runs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    import duckdb

from ..errors import SpecError, did_you_mean
from ..spec import Spec, line_of
from ..store import scratch
from .checks import Check, CheckDefinitionError, parse_check


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


def validate_checks(spec: Spec, document: Any, path: Path) -> None:
    """Unknown check types, undeclared columns, bad thresholds, unknown datasets, bad SQL."""
    for name, meta in spec.datasets.items():
        places: list[tuple[tuple[Any, ...], Any, str | None]] = [
            (("datasets", name, "columns", column, "checks", i), entry, column)
            for column, col in meta.columns.items()
            for i, entry in enumerate(col.checks)
        ]
        places += [(("datasets", name, "checks", i), entry, None) for i, entry in enumerate(meta.checks)]
        for loc, entry, column in places:
            try:
                check = parse_check(entry, dataset=name, column=column)
                _validate_references(check, spec)
            except CheckDefinitionError as exc:
                inner = tuple(exc.field.split(".")) if exc.field else ()  # the argument at fault
                field = ".".join(str(part) for part in loc[:-1]) + f"[{loc[-1]}]"
                field += "".join(f".{part}" for part in inner)
                line = line_of(document, loc + inner)
                raise SpecError(str(exc), file=path, line=line, field=field) from exc


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

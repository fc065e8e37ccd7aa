"""The checks a spec declares, validated when the spec is loaded (before any step runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import SpecError, did_you_mean
from ..spec import Spec, line_of, read_yaml
from .checks import Check, CheckDefinitionError, parse_check
from .kind import CheckKind

Schema = list[dict[str, Any]]  # [{"name": ..., "type": ...}]


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


def bind_checks(spec: Spec, path: Path, current_schema: Callable[[str], Schema | None]) -> None:
    """Bind each check that has SQL of its own (`sql`) against its dataset's columns: the current
    version's, and the declared ones (typed when they say a type). A dataset with neither is
    bound at run time."""
    for name, loc, entry, column in _places(spec):
        check = parse_check(entry, dataset=name, column=column)
        if type(check.handler).bind is CheckKind.bind:
            continue
        columns: dict[str, str | None] = {c["name"]: c.get("type") for c in current_schema(name) or []}
        for declared, meta in spec.datasets[name].columns.items():
            columns.setdefault(declared, meta.type)
        try:
            if columns:
                check.handler.bind(check, columns)
        except CheckDefinitionError as exc:
            raise _spec_error(exc, loc, read_yaml(path), path) from exc


def _validate_references(check: Check, spec: Spec) -> None:
    declared = spec.datasets[check.dataset].columns
    if declared:
        for column in check.handler.columns(check):
            if column not in declared:
                raise CheckDefinitionError(
                    f"check '{check.kind}' is on column '{column}', which {check.dataset} does not declare"
                    f"{did_you_mean(column, declared)}; a dataset that declares columns declares every column "
                    f"its checks name (add '{column}' under its columns:)"
                )
    check.handler.validate(check, spec)

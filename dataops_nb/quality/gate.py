"""Write–audit–publish: check staged versions before anyone can read them.

The runner stages a step's versions, asks `audit` for results, and promotes only when
no result is an error; otherwise the versions stay quarantined for review.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..ledger import Ledger, VersionRecord
from ..metadata.pii import masked_columns, personal, pii_columns
from ..spec import Spec
from .checks import Check, from_record
from .declared import declared_checks
from .engine import run_checks
from .results import CheckResult, Target


def checks_for(spec: Spec, dataset: str, recorded: Iterable[dict[str, Any]] = ()) -> list[Check]:
    """Declared checks plus the ones a notebook recorded with `step.check(dataset)`."""
    return declared_checks(spec, dataset) + [from_record(r) for r in recorded if r.get("dataset") == dataset]


def target_for(spec: Spec, ledger: Ledger, version: VersionRecord, staged: dict[str, str],
               current: dict[str, VersionRecord] | None = None) -> Target:
    """What a check of `version` sees (`current`: what its environment reads, when the caller has just read it)."""
    if current is None:
        current = ledger.current_versions(spec.environment_chain(version.environment))
    refs = {name: v.path for name, v in current.items()}
    refs.update(staged)  # a step's own new versions win (e.g. ingest publishing both sides)
    previous = current.get(version.dataset)
    auto = set(version.pii) if version.pii is not None else personal(spec, ledger, version.dataset, version.version_id)
    return Target(
        dataset=version.dataset,
        path=version.path,
        schema=version.schema,
        refs=refs,
        previous_schema=previous.schema if previous and previous.version_id != version.version_id else None,
        history=ledger.check_history(version.dataset, excluding=version.version_id),
        pii=tuple(sorted(masked_columns(spec, version.dataset, auto))),
        personal=tuple(sorted(pii_columns(spec, version.dataset, auto))),
    )


def audit(
    spec: Spec, ledger: Ledger, versions: list[VersionRecord], recorded: list[dict[str, Any]],
    current: dict[str, VersionRecord] | None = None,
) -> dict[str, list[CheckResult]]:
    """Each version's check results (`current`: what their environment reads, when the caller has just read it)."""
    staged = {v.dataset: v.path for v in versions}
    return {
        version.version_id: run_checks(checks_for(spec, version.dataset, recorded),
                                       target_for(spec, ledger, version, staged, current))
        for version in versions
    }


def result_rows(version: VersionRecord, results: list[CheckResult], *, run_id: str | None, step: str | None) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "step": step,
            "dataset": version.dataset,
            "version_id": version.version_id,
            "check_name": r.check.name,
            "kind": r.check.kind,
            "column_name": r.check.column,
            "origin": r.check.origin,
            "severity": r.check.severity,
            "status": r.status,
            "rows": r.rows,
            "failing": r.failing,
            "fraction": r.fraction,
            "observed": r.observed,
            "message": r.message,
            "sample": r.sample,
            "sql": r.sql,
            "duration_s": round(r.duration_s, 6),
        }
        for r in results
    ]

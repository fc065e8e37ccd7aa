"""`catalog forget`: a dataset that no step publishes any more leaves the catalog.

Its versions become `deleted` (their files go, as with gc), quarantined ones too (nobody
will review a dataset that is gone), and its catalog entry leaves search and the pages; the
ledger keeps their rows, so the lineage and check history of what was built from it stay
whole, and the audit log records what was forgotten, each version with the status it had.
Refused while a step of the spec publishes it or `datasets:` declares it (it would come
back), and while a run is in flight (it may be reading or committing it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConflictError, NotFoundError
from ..ledger import VersionStatus, now
from ..spec import resolve_dataset_name


def forget(project: Any, dataset: str, *, publishers: dict[str, str], user: str | None = None,
           origin: str | None = None) -> dict[str, Any]:
    """Forget `dataset`; `publishers` maps each dataset to the spec's step that publishes it."""
    from .. import audit
    from .retention import running_runs

    name = resolve_dataset_name(dataset)
    entry = project.ledger.dataset(name) if project.has_ledger() else None
    if entry is None or entry["forgotten_at"]:
        known = project.ledger.dataset_names() if project.has_ledger() else []
        raise NotFoundError("dataset", dataset, known)
    if name in project.spec.datasets:
        raise ConflictError(
            f"{project.where('datasets', name)} {name} is declared under datasets:; remove it there first "
            "(declared, it comes back into the catalog)."
        )
    if name in publishers:
        raise ConflictError(f"Step '{publishers[name]}' still publishes {name}: remove the step, or its publish, first.")
    versions = project.ledger.versions.of_dataset(name)
    running = running_runs(project)
    if running:
        raise ConflictError(f"Run {running[0]} is in flight; forget changes nothing while a run may read {name}.")
    ledger = project.writable_ledger()
    # a staged version is a run's commit under way (staging and its outcome are one transaction)
    gone = [v for v in versions if v.status in ("current", "superseded", "quarantined")]
    with ledger.transaction():
        ledger.versions.transition([v.version_id for v in gone if v.status == "current"], VersionStatus.SUPERSEDED)
        ledger.versions.transition([v.version_id for v in gone], VersionStatus.DELETED)
        ledger.catalog.forget(name, now())
        audit.record(ledger, audit.CATALOG_FORGET, user=user, origin=origin, target=name, details={
            "description": entry["description"], "owner": entry["owner"],
            "versions": [{"version": v.version_id, "status": v.status, "step": v.step, "rows": v.rows,
                          "bytes": v.bytes} for v in versions],
        })
    freed = 0
    data_dir = project.store.data_dir.resolve()
    for version in gone:
        path = Path(version.path)
        if path.is_file() and path.resolve().is_relative_to(data_dir):
            freed += path.stat().st_size
            path.unlink()
    return {"dataset": name, "versions": [v.version_id for v in versions], "bytes_freed": freed}

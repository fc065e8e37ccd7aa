"""The spec's datasets in the ledger: description, owner, tags, freshness SLA, columns.

Every publish refreshes its dataset's entry (the runner passes `dataset_meta` to
`VersionRepository.stage`); `sync_spec` brings in datasets that were declared but never
published, and edits to the spec, whenever the catalog is read. It rewrites only when
the spec's datasets changed since the last sync (a digest kept in `catalog_meta`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

DIGEST_KEY = "spec_datasets_digest"


def dataset_meta(spec: Any, name: str) -> dict[str, Any]:
    """The keyword arguments of `VersionRepository.stage` / `write_dataset_meta` for one dataset."""
    meta = spec.datasets.get(name) if spec is not None else None
    if meta is None:
        return {"description": "", "owner": None, "tags": (), "freshness": None, "columns": {}, "in_spec": False}
    return {
        "description": meta.description,
        "owner": meta.owner,
        "tags": list(meta.tags),
        "freshness": meta.freshness.model_dump() if meta.freshness else None,
        "columns": {
            column: {"description": info.description, "type": info.type, "tags": list(info.tags)}
            for column, info in meta.columns.items()
        },
        "in_spec": True,
    }


def digest(spec: Any) -> str:
    payload = {name: dataset_meta(spec, name) for name in sorted(spec.datasets)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def sync_spec(project: Any) -> bool:
    """Bring the spec's datasets into the catalog; True when anything was rewritten.

    Reading the catalog of an unchanged spec writes nothing; a changed spec is written
    through the project's writable ledger (an explicit write step of the catalog commands)."""
    spec = project.spec
    kept = project.__dict__.get("_catalog_digest")
    if kept is not None and kept[0] is spec:  # one digest per loaded spec: a server reads one spec for many calls
        wanted = kept[1]
    else:
        wanted = digest(spec)
        project.__dict__["_catalog_digest"] = (spec, wanted)
    if project.ledger.catalog.kept_meta(DIGEST_KEY) == wanted:
        return False
    declared = {name: dataset_meta(spec, name) for name in spec.datasets}
    project.writable_ledger().catalog.sync_declared(declared, key=DIGEST_KEY, digest=wanted)
    return True

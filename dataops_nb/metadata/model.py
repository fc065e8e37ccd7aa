"""The spec's datasets in the ledger: description, owner, tags, freshness SLA, columns.

Every publish refreshes its dataset's entry (the runner passes `dataset_meta` to
`Ledger.stage_version`); `sync_spec` brings in datasets that were declared but never
published, and edits to the spec, whenever the catalog is read. It rewrites only when
the spec's datasets changed since the last sync (a digest kept in `catalog_meta`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..ledger import Ledger, drop_dataset_entry, reindex_dataset, write_dataset_meta

DIGEST_KEY = "spec_datasets_digest"


def dataset_meta(spec: Any, name: str) -> dict[str, Any]:
    """The keyword arguments of `Ledger.stage_version` / `write_dataset_meta` for one dataset."""
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


def sync_spec(ledger: Ledger, spec: Any) -> bool:
    """Bring the spec's datasets into the catalog; True when anything was rewritten."""
    wanted = digest(spec)
    if ledger.meta_value(DIGEST_KEY) == wanted:
        return False
    with ledger.transaction() as con:
        for name in spec.datasets:
            write_dataset_meta(con, name, **dataset_meta(spec, name))
            reindex_dataset(con, name)
        gone = [
            row[0]
            for row in con.execute("SELECT name FROM datasets WHERE in_spec = 1").fetchall()
            if row[0] not in spec.datasets
        ]
        for name in gone:  # left the spec: published ones stay (their data exists), others go
            con.execute("UPDATE datasets SET in_spec = 0 WHERE name = ?", (name,))
            drop_dataset_entry(con, name)
        con.execute(
            "INSERT INTO catalog_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (DIGEST_KEY, wanted),
        )
    return True

"""What versions were made from, read at once: every ancestor's record, SQL, lineage and
flagged PII columns in three statements, however deep the lineage goes.

Following PII along column lineage walks a version's ancestors one by one; against a
database server each step of that walk is a round trip (a 50-step chain asks for hundreds).
An `Ancestry` answers the same questions the ledger does (`versions.get`, `versions.sql_of`,
`inputs_of`, `auto_pii`) from one read of the whole ancestry, and passes anything outside it
on to the ledger. It is a snapshot: use it right away, for one decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .db import placeholders
from .records import VersionRecord
from .versions import version_record


class Ancestry:
    def __init__(self, ledger: Any, version_ids: Iterable[str]) -> None:
        self.ledger = ledger
        self.versions = self  # callers ask `ledger.versions.get(...)`
        roots = list(dict.fromkeys(version_ids))
        self._inputs: dict[str, list[str]] = {root: [] for root in roots}
        self._rows: dict[str, Any] = {}
        self._pii_of_dataset: dict[str, set[str]] = {}
        self._pii_of_version: dict[str, set[str]] = {}
        if not roots:
            return
        db = ledger.db
        edges = db.query(
            "WITH RECURSIVE up(version_id, input_version_id) AS ("
            f"SELECT version_id, input_version_id FROM lineage WHERE version_id IN ({placeholders(len(roots))}) "
            "UNION SELECT l.version_id, l.input_version_id FROM lineage l JOIN up ON l.version_id = up.input_version_id"
            ") SELECT version_id, input_version_id FROM up ORDER BY version_id, input_version_id",
            roots,
        )
        for edge in edges:
            self._inputs.setdefault(edge["version_id"], []).append(edge["input_version_id"])
            self._inputs.setdefault(edge["input_version_id"], [])
        ids = list(self._inputs)
        marks = placeholders(len(ids))
        self._rows = {row["version_id"]: row for row in db.query(
            f"SELECT * FROM dataset_versions WHERE version_id IN ({marks})", ids)}
        datasets = sorted({row["dataset"] for row in self._rows.values()})
        self._pii_of_dataset = {dataset: set() for dataset in datasets}
        self._pii_of_version = {version_id: set() for version_id in ids}
        flagged = ("SELECT 'version' AS kind, version_id AS owner, column_name FROM column_profiles "
                   f"WHERE version_id IN ({marks}) AND pii_kind IS NOT NULL")
        if datasets:
            flagged += (" UNION ALL SELECT 'dataset' AS kind, dataset AS owner, column_name FROM column_tags "
                        f"WHERE tag = 'pii' AND source = 'auto' AND dataset IN ({placeholders(len(datasets))})")
        for row in db.query(flagged, [*ids, *datasets]):
            found = self._pii_of_dataset if row["kind"] == "dataset" else self._pii_of_version
            found[row["owner"]].add(row["column_name"])

    # --- the ledger's answers, from the snapshot ----------------------------------------

    def get(self, version_id: str) -> VersionRecord | None:
        if version_id not in self._inputs:
            return self.ledger.versions.get(version_id)  # type: ignore[no-any-return]
        row = self._rows.get(version_id)
        return version_record(row, self.ledger.store_root) if row is not None else None

    def sql_of(self, version_id: str) -> str | None:
        if version_id not in self._inputs:
            return self.ledger.versions.sql_of(version_id)  # type: ignore[no-any-return]
        row = self._rows.get(version_id)
        return str(row["sql"]) if row is not None and row["sql"] else None

    def inputs_of(self, version_id: str) -> list[str]:
        if version_id not in self._inputs:
            return self.ledger.inputs_of(version_id)  # type: ignore[no-any-return]
        return list(self._inputs[version_id])

    def auto_pii(self, dataset: str, version_id: str | None = None) -> set[str]:
        """Columns flagged as PII on publish: on the dataset's current version, and on `version_id`."""
        if dataset not in self._pii_of_dataset or (version_id and version_id not in self._pii_of_version):
            return self.ledger.auto_pii(dataset, version_id)  # type: ignore[no-any-return]
        return self._pii_of_dataset[dataset] | (self._pii_of_version.get(version_id or "") or set())

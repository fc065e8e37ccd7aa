"""Lineage edges between versions: which versions a version read."""

from __future__ import annotations

from collections.abc import Iterable

from .db import Database, placeholders


class LineageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def inputs_of(self, version_id: str) -> list[str]:
        rows = self.db.query(
            "SELECT input_version_id FROM lineage WHERE version_id = ? ORDER BY input_version_id", (version_id,)
        )
        return [row["input_version_id"] for row in rows]

    def outputs_of(self, version_ids: Iterable[str]) -> list[str]:
        """Versions that read any of `version_ids`."""
        ids = list(version_ids)
        if not ids:
            return []
        rows = self.db.query(
            f"SELECT DISTINCT version_id FROM lineage WHERE input_version_id IN ({placeholders(len(ids))}) "
            "ORDER BY version_id",
            ids,
        )
        return [row["version_id"] for row in rows]

"""Lineage edges between versions: which versions a version read.

A version is derived by its own run (edges without `run_id`). A later run whose step published
the same bytes again keeps that version (no new version, downstream stays fresh); when it read
other input versions, it records that it re-derived the kept version from them (edges with its
`run_id`). What a version was derived from is its latest derivation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .db import Database, placeholders


class LineageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def inputs_of(self, version_id: str, environments: Sequence[str] | None = None) -> list[str]:
        """The versions `version_id` was derived from (its latest derivation); with `environments`,
        re-derivations by runs in other environments do not count."""
        rows = self.db.query(
            "SELECT l.input_version_id, l.run_id, r.environment FROM lineage l "
            "LEFT JOIN runs r ON r.run_id = l.run_id WHERE l.version_id = ?",
            (version_id,),
        )
        derivations: dict[str, list[str]] = {}
        for row in rows:
            if row["run_id"] is None or environments is None or row["environment"] in environments:
                derivations.setdefault(row["run_id"] or "", []).append(row["input_version_id"])
        if not derivations:
            return []
        return sorted(derivations[max(derivations)])  # run ids sort by time; "" is the version's own run

    def rederived(self, version_id: str, inputs: Iterable[str], run_id: str) -> None:
        """Record that run `run_id` re-derived the kept `version_id` from `inputs`."""
        self.db.executemany(
            "INSERT INTO lineage (version_id, input_version_id, run_id) VALUES (?, ?, ?) "
            "ON CONFLICT (version_id, input_version_id) DO UPDATE SET run_id = excluded.run_id",
            [(version_id, source, run_id) for source in sorted(set(inputs))],
        )

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

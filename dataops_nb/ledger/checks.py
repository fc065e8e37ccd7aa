"""Check results (appended, never overwritten).

A check is named by its origin (`spec`: declared in dataops.yaml; `notebook`: `step.check(...)`)
and its name: a declared check and a notebook check of the same name are two checks, each with
its own latest result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .db import Database, Row, column_list, placeholders
from .records import now


class CheckRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append check results; never overwrites."""
        stamp = now()
        with self.db.transaction():
            for row in rows:
                row = {**row, "sample": json.dumps(row.get("sample", []), default=str), "created_at": stamp}
                self.db.execute(
                    f"INSERT INTO check_results ({column_list(row)}) VALUES ({placeholders(len(row))})",
                    tuple(row.values()),
                )

    def history(self, dataset: str, limit: int = 30, *,
                excluding: str | None = None) -> dict[tuple[str, str], list[float]]:
        """Observed values of each check (by origin and name) on earlier versions of `dataset`, oldest first.

        One value per version (its latest result: re-checks add results, not history),
        leaving out `excluding`, the version under check.
        """
        rows = self.db.query(
            "SELECT c.origin, c.check_name, c.observed FROM check_results c JOIN dataset_versions v USING (version_id) "
            "WHERE c.id IN (SELECT max(id) FROM check_results WHERE dataset = ? AND observed IS NOT NULL "
            "GROUP BY version_id, origin, check_name) "
            "AND v.status IN ('current', 'superseded') AND v.version_id IS DISTINCT FROM ? "
            "ORDER BY v.created_at, v.version_id",
            (dataset, excluding),
        )
        history: dict[tuple[str, str], list[float]] = {}
        for row in rows:
            history.setdefault((row["origin"], row["check_name"]), []).append(float(row["observed"]))
        return {name: values[-limit:] for name, values in history.items()}

    def of_run(self, run_id: str, step: str | None = None) -> list[Row]:
        """Every check result a run recorded (`step`: for one of its steps), in the order it recorded them."""
        if step is not None:
            return self.db.query("SELECT * FROM check_results WHERE run_id = ? AND step = ? ORDER BY id", (run_id, step))
        return self.db.query("SELECT * FROM check_results WHERE run_id = ? ORDER BY id", (run_id,))

    def latest_of_version(self, version_id: str) -> list[Row]:
        """The latest result of each check (origin and name) on a version, by name (the decisions on
        them are `ledger.reviews`')."""
        return self.db.query(
            "SELECT c.* FROM check_results c WHERE c.version_id = ? AND c.id IN "
            "(SELECT max(id) FROM check_results WHERE version_id = ? GROUP BY origin, check_name) "
            "ORDER BY c.check_name, c.origin",
            (version_id, version_id),
        )

    def outcomes(self, version_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per version: how many checks (the latest result of each) ended pass, warn and error."""
        ids = sorted(set(version_ids))
        if not ids:
            return {}
        rows = self.db.query(
            "SELECT version_id, status, count(*) AS n FROM check_results WHERE id IN "
            f"(SELECT max(id) FROM check_results WHERE version_id IN ({placeholders(len(ids))}) "
            "GROUP BY version_id, origin, check_name) GROUP BY version_id, status",
            ids,
        )
        found: dict[str, dict[str, int]] = {}
        for row in rows:
            found.setdefault(row["version_id"], {"pass": 0, "warn": 0, "error": 0})[row["status"]] = int(row["n"])
        return found

    def warnings(self, run_ids: Iterable[str]) -> dict[tuple[str, str], int]:
        """How many checks (latest result of each on each version) ended `warn`, by run and step."""
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        marks = placeholders(len(ids))
        rows = self.db.query(
            "SELECT run_id, step, count(*) AS n FROM check_results WHERE status = 'warn' AND id IN "
            f"(SELECT max(id) FROM check_results WHERE run_id IN ({marks}) GROUP BY version_id, origin, check_name) "
            "GROUP BY run_id, step",
            ids,
        )
        return {(row["run_id"], row["step"]): int(row["n"]) for row in rows}

"""Review decisions (accept, waive, quarantine, comment) and the check results they are made on.

A decision row names what it covers: `check_origin` and `check_name` (one check of `version_id`,
or of every later version of `dataset` for a standing decision), or `checks` (the JSON list of the
checks failing on `version_id` when it was made, each `[origin, name]`; a bare name in rows written
before checks had origins). A check is its origin (`spec` or `notebook`) and its name. A standing decision has `expires_at`, `for_runs` and/or
`while_condition`. Which result a decision closes is the quality package's judgement
(`quality/decisions.py`); this repository only stores and reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from .db import Database, Row, placeholders
from .records import now

_LATEST = "c.id IN (SELECT max(id) FROM check_results GROUP BY version_id, origin, check_name)"
_RESULT = "c.*, v.status AS version_status, v.created_at AS version_created_at"


class ReviewRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, *, target: str, dataset: str, version_id: str | None, check_id: int | None,
               check: tuple[str, str] | None, checks: Sequence[tuple[str, str]] | None, decision: str,
               reason: str, user: str, expires_at: str | None = None, for_runs: int | None = None,
               while_condition: str | None = None) -> int:
        """Append one decision (`check` and each of `checks`: origin, name); its id."""
        origin, name = check if check is not None else (None, None)
        cursor = self.db.execute(
            "INSERT INTO reviews (target, dataset, version_id, check_id, check_origin, check_name, checks, decision, "
            "reason, user, created_at, expires_at, for_runs, while_condition) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (target, dataset, version_id, check_id, origin, name,
             None if checks is None else json.dumps([list(c) for c in checks]),
             decision, reason, user, now(), expires_at, for_runs, while_condition),
        )
        return int(cursor.fetchone()[0])

    def decisions(self, dataset: str | None = None, *, closing: bool = False, limit: int | None = None) -> list[Row]:
        """Decisions, newest first; `closing`: only accept and waive (the ones that close a failure)."""
        clauses, args = [], []
        if dataset:
            clauses.append("dataset = ?")
            args.append(dataset)
        if closing:
            clauses.append("decision IN ('accept', 'waive')")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = f" LIMIT {int(limit)}" if limit else ""
        return self.db.query(f"SELECT * FROM reviews{where} ORDER BY id DESC{tail}", args)

    def closing_for(self, datasets: Iterable[str]) -> list[Row]:
        """The accept and waive decisions on these datasets, newest first."""
        names = sorted(set(datasets))
        if not names:
            return []
        return self.db.query(
            f"SELECT * FROM reviews WHERE decision IN ('accept', 'waive') AND dataset IN ({placeholders(len(names))}) "
            "ORDER BY id DESC",
            names,
        )

    def result(self, check_id: int) -> Row | None:
        """One check result with its version's status."""
        rows = self.db.query(
            f"SELECT {_RESULT} FROM check_results c JOIN dataset_versions v USING (version_id) WHERE c.id = ?",
            (check_id,),
        )
        return rows[0] if rows else None

    def failing(self, dataset: str | None = None) -> list[Row]:
        """The latest result of each check on current and quarantined versions, where it failed (warn, error)."""
        where, args = (" AND c.dataset = ?", (dataset,)) if dataset else ("", ())
        return self.db.query(
            f"SELECT {_RESULT} FROM check_results c JOIN dataset_versions v USING (version_id) "
            f"WHERE c.status IN ('warn', 'error') AND v.status IN ('current', 'quarantined') AND {_LATEST}{where} "
            "ORDER BY c.dataset, c.version_id, c.id",
            args,
        )

    def latest(self, version_ids: Iterable[str], *, failing: bool = False) -> list[Row]:
        """The latest result of each check on these versions (only warn and error ones if `failing`)."""
        ids = list(dict.fromkeys(version_ids))
        if not ids:
            return []
        status = " AND c.status IN ('warn', 'error')" if failing else ""
        return self.db.query(
            f"SELECT {_RESULT} FROM check_results c JOIN dataset_versions v USING (version_id) "
            f"WHERE c.id IN (SELECT max(id) FROM check_results WHERE version_id IN ({placeholders(len(ids))}) "
            f"GROUP BY version_id, origin, check_name){status} ORDER BY c.dataset, c.check_name, c.origin",
            ids,
        )

    def checks_of(self, dataset: str) -> list[tuple[str, str]]:
        """Every check (origin, name) a result of `dataset` has carried."""
        rows = self.db.query("SELECT DISTINCT origin, check_name FROM check_results WHERE dataset = ? "
                             "ORDER BY check_name, origin", (dataset,))
        return [(row["origin"], row["check_name"]) for row in rows]

    def versions_since(self, dataset: str, moment: str) -> list[str]:
        """The ids of the versions of `dataset` that runs made after `moment`, oldest first."""
        rows = self.db.query(
            "SELECT version_id FROM dataset_versions WHERE dataset = ? AND created_at > ? "
            "ORDER BY created_at, version_id",
            (dataset, moment),
        )
        return [row["version_id"] for row in rows]

"""Aggregates over the whole ledger for the monitor and the Prometheus metrics.

Each method is one or two statements whatever the number of datasets or runs: a sweep
or a scrape over ten thousand datasets must not issue ten thousand queries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .db import Database, placeholders


@dataclass(frozen=True)
class DatasetState:
    """A dataset with its freshness SLA and its current version, as the monitor judges it."""

    name: str
    owner: str | None
    sla: dict[str, Any] | None
    version_id: str | None
    rows: int | None
    published_at: str | None  # promotion time (creation when never promoted)
    newest_value: str | None  # max of the SLA's column in the current version's profile
    environment: str | None = None  # whose pointer names the version (None: no environment has one)


@dataclass(frozen=True)
class DurationBuckets:
    step: str
    environment: str
    count: int
    total: float
    cumulative: tuple[int, ...]  # count at or below each bucket bound


class StatsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def datasets(self, environments: Sequence[str]) -> list[DatasetState]:
        """Every catalogued dataset with its SLA, its current version in the first of `environments`
        that points at one (an environment, then its base), and the newest value of the SLA's column."""
        chain = list(environments)
        return self._states(f"p.environment IN ({placeholders(len(chain))})", chain, chain)

    def pointed(self) -> list[DatasetState]:
        """Every environment's own current version of every dataset that has an SLA (for the metrics)."""
        return self._states("d.freshness IS NOT NULL", [], None)

    def _states(self, where: str, params: Sequence[str], chain: list[str] | None) -> list[DatasetState]:
        rows = self.db.query(
            "SELECT d.name, d.owner, d.freshness, p.environment, v.version_id, v.rows, "
            "coalesce(v.promoted_at, v.created_at) AS at FROM datasets d "
            f"LEFT JOIN current_versions p ON p.dataset = d.name AND {where} "
            "LEFT JOIN dataset_versions v ON v.version_id = p.version_id ORDER BY d.name",
            tuple(params),
        )
        if chain is not None:  # the first environment of the chain that points at the dataset
            rank = {env: index for index, env in enumerate(chain)}
            first: dict[str, Any] = {}
            for r in rows:
                kept = first.get(r["name"])
                if kept is None or (r["environment"] is not None and
                                    (kept["environment"] is None or rank[r["environment"]] < rank[kept["environment"]])):
                    first[r["name"]] = r
            rows = list(first.values())
        else:
            rows = [r for r in rows if r["environment"] is not None]
        newest = {
            (r["version_id"], r["column_name"]): _decoded(r["max_value"])
            for r in self.db.query(
                "SELECT DISTINCT p.version_id, p.column_name, p.max_value FROM column_profiles p "
                "JOIN current_versions c ON c.version_id = p.version_id "
                "JOIN datasets d ON d.name = c.dataset WHERE d.freshness IS NOT NULL"
            )
        }
        result = []
        parsed: dict[str, Any] = {}  # most datasets share a few SLAs: each text is parsed once
        for r in rows:
            text = r["freshness"]
            if text and text not in parsed:
                parsed[text] = json.loads(text)
            sla = parsed[text] if text else None
            column = (sla or {}).get("column")
            result.append(DatasetState(
                r["name"], r["owner"], sla, r["version_id"], r["rows"], r["at"],
                newest.get((r["version_id"], column)) if column else None, r["environment"],
            ))
        return result

    def row_history(self, depth: int, environments: Sequence[str]) -> dict[str, list[int]]:
        """Row counts of each dataset's last `depth` good versions (current, superseded) built in one of
        `environments`, oldest first.

        One ordered scan, trimmed here: a window function ranking the versions of each dataset
        costs SQLite about eight times as much."""
        chain = list(environments)
        rows = self.db.query(
            "SELECT dataset, rows FROM dataset_versions WHERE status IN ('current', 'superseded') "
            f"AND rows IS NOT NULL AND environment IN ({placeholders(len(chain))}) "
            "ORDER BY dataset, created_at, version_id",
            tuple(chain),
        )
        history: dict[str, list[int]] = {}
        for dataset, count in rows:  # by position: a row's lookup by name costs more than the scan
            history.setdefault(dataset, []).append(int(count))
        return {name: counts[-depth:] for name, counts in history.items()}

    def last_runs(self, environment: str, *, default: bool = False) -> dict[str, str | None]:
        """Start time of the environment's newest run that succeeded, and of one still running (for the
        `default` environment, runs recorded without one too)."""
        rows = self.db.query(
            "SELECT status, max(started_at) AS at FROM runs WHERE "
            + ("(environment = ? OR environment IS NULL)" if default else "environment = ?")
            + " AND status IN ('success', 'running') GROUP BY status",
            (environment,),
        )
        found: dict[str, str | None] = {"success": None, "running": None}
        found.update({r["status"]: r["at"] for r in rows})
        return found

    def datasets_of_step(self, step: str) -> list[str]:
        """Every dataset a step has published a version of, in any run."""
        rows = self.db.query("SELECT DISTINCT dataset FROM dataset_versions WHERE step = ? ORDER BY dataset", (step,))
        return [r["dataset"] for r in rows]

    def change_token(self) -> tuple[Any, ...]:
        """Changes whenever what the metrics read does: a run, a step, a status change, a check, the catalog.
        Every status change, run and review is in the audit log; steps and checks have their own stamps."""
        rows = self.db.query(
            "SELECT (SELECT max(id) FROM audit_log) AS audit, (SELECT max(ended_at) FROM step_runs) AS steps, "
            "(SELECT max(id) FROM check_results) AS checks, (SELECT max(updated_at) FROM datasets) AS catalog, "
            "(SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM dataset_versions) AS versions"
        )
        return tuple(rows[0][key] for key in ("audit", "steps", "checks", "catalog", "runs", "versions"))

    # --- for the metrics ------------------------------------------------------------

    def runs_by_status(self) -> list[tuple[str, str, int]]:
        rows = self.db.query(
            "SELECT coalesce(environment, '') AS env, status, count(*) AS n FROM runs GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return [(r["env"], r["status"], int(r["n"])) for r in rows]

    def last_success(self) -> list[tuple[str, str]]:
        """Each environment's newest successful run end."""
        rows = self.db.query(
            "SELECT coalesce(environment, '') AS env, max(ended_at) AS at FROM runs WHERE status = 'success' "
            "GROUP BY 1 ORDER BY 1"
        )
        return [(r["env"], r["at"]) for r in rows if r["at"]]

    def step_durations(self, bounds: Sequence[float]) -> list[DurationBuckets]:
        """Per step and environment: how many finished step runs took at most each bound, count and sum."""
        buckets = ", ".join(f"sum(CASE WHEN s.duration_s <= ? THEN 1 ELSE 0 END) AS b{i}" for i in range(len(bounds)))
        rows = self.db.query(
            f"SELECT s.step, coalesce(r.environment, '') AS env, count(*) AS n, sum(s.duration_s) AS total, {buckets} "
            "FROM step_runs s JOIN runs r ON r.run_id = s.run_id "
            "WHERE s.duration_s IS NOT NULL AND s.status NOT IN ('fresh', 'skipped', 'pending', 'running') "
            "GROUP BY s.step, coalesce(r.environment, '') ORDER BY 1, 2",
            tuple(bounds),
        )
        return [
            DurationBuckets(r["step"], r["env"], int(r["n"]), float(r["total"] or 0.0),
                            tuple(int(r[f"b{i}"] or 0) for i in range(len(bounds))))
            for r in rows
        ]

    def rows_published(self) -> list[tuple[str, str, int]]:
        """Rows of every version that became current, per environment that built it and dataset."""
        rows = self.db.query(
            "SELECT coalesce(environment, '') AS env, dataset, sum(rows) AS n FROM dataset_versions "
            "WHERE promoted_at IS NOT NULL AND rows IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return [(r["env"], r["dataset"], int(r["n"] or 0)) for r in rows]

    def check_results(self) -> list[tuple[str, str, int]]:
        rows = self.db.query(
            "SELECT status, severity, count(*) AS n FROM check_results GROUP BY status, severity ORDER BY 1, 2"
        )
        return [(r["status"], r["severity"], int(r["n"])) for r in rows]

    def open_failures(self) -> list[tuple[str, int]]:
        """Failing checks nobody waived or accepted, on versions still current or quarantined, by status."""
        rows = self.db.query(
            "SELECT c.status, count(*) AS n FROM check_results c "
            "JOIN dataset_versions v ON v.version_id = c.version_id AND v.status IN ('current', 'quarantined') "
            "WHERE c.status IN ('warn', 'error') AND c.id IN "
            "(SELECT max(id) FROM check_results GROUP BY version_id, origin, check_name) "
            "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.decision IN ('waive', 'accept') AND "
            "(r.check_id = c.id OR (r.check_id IS NULL AND r.version_id = c.version_id))) "
            "GROUP BY c.status ORDER BY 1"
        )
        return [(r["status"], int(r["n"])) for r in rows]


def _decoded(value: str | None) -> str | None:
    """A profile's stored max (JSON text) as the text of the value."""
    if value is None:
        return None
    try:
        found = json.loads(value)
    except ValueError:
        return value
    return None if found is None else str(found)

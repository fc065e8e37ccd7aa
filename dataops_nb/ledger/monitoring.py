"""What the monitor and the notifier remember: each watched subject's last status, each
sweep, and every notification sent (or that could not be).

A subject's state row changes only when its status does, so a sweep over many datasets
writes little: that is what makes "notify once per breach, and again on recovery" cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .db import Database
from .records import now


@dataclass(frozen=True)
class MonitorState:
    kind: str  # freshness, overdue, volume
    subject: str  # a dataset, or the pipeline
    status: str  # ok, warn, error
    since: str
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    at: str
    event: str
    channel: str
    environment: str
    run_id: str | None
    subject: str | None
    title: str
    status: str  # sent, failed, unset (the channel's variable was not set)
    attempts: int
    error: str | None


class MonitorRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- subjects' states ---------------------------------------------------------

    def states(self, environment: str) -> dict[tuple[str, str], MonitorState]:
        rows = self.db.query(
            "SELECT kind, subject, status, since, detail FROM monitor_state WHERE environment = ?", (environment,)
        )
        return {
            (r["kind"], r["subject"]): MonitorState(r["kind"], r["subject"], r["status"], r["since"],
                                                    json.loads(r["detail"] or "{}"))
            for r in rows
        }

    def record_sweep(self, environment: str, changed: Iterable[MonitorState], *, checked: int, warn: int,
                     error: int, duration_s: float) -> int:
        """Store the states that changed and one row for the sweep, in one transaction; the sweep's id."""
        stamp = now()
        changed = list(changed)
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO monitor_state (environment, kind, subject, status, since, checked_at, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (environment, kind, subject) DO UPDATE SET "
                "status = excluded.status, since = excluded.since, checked_at = excluded.checked_at, "
                "detail = excluded.detail",
                [(environment, s.kind, s.subject, s.status, s.since, stamp, json.dumps(s.detail, default=str))
                 for s in changed],
            )
            self.db.execute(
                "INSERT INTO monitor_sweeps (at, environment, checked, warn, error, changed, duration_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (stamp, environment, checked, warn, error, len(changed), duration_s),
            )
            rows = self.db.query("SELECT max(id) AS id FROM monitor_sweeps WHERE environment = ?", (environment,))
        return int(rows[0]["id"])

    def sweeps(self, environment: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT id, at, environment, checked, warn, error, changed, duration_s FROM monitor_sweeps "
            "WHERE environment = ? ORDER BY id DESC LIMIT ?",
            (environment, limit),
        )
        return [{key: row[key] for key in row.keys()} for row in rows]  # noqa: SIM118

    # --- notifications --------------------------------------------------------------

    def record_notification(self, *, event: str, channel: str, environment: str, title: str, status: str,
                            attempts: int, run_id: str | None = None, subject: str | None = None,
                            error: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO notifications (at, event, channel, environment, run_id, subject, title, status, attempts, "
            "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now(), event, channel, environment, run_id, subject, title, status, attempts, error),
        )

    def notifications(self, *, run_id: str | None = None, limit: int = 100) -> list[NotificationRecord]:
        where, args = ("WHERE run_id = ? ", (run_id, limit)) if run_id else ("", (limit,))
        rows = self.db.query(f"SELECT * FROM notifications {where}ORDER BY id DESC LIMIT ?", args)
        return [NotificationRecord(**{key: row[key] for key in row.keys()}) for row in rows]  # noqa: SIM118

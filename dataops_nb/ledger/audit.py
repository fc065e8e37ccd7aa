"""The audit log: who did what, when, from where, each entry chained to the one before by hash.

The table is append-only (SQLite triggers refuse UPDATE and DELETE); ids are assigned here,
one after the newest, inside the writer's transaction, which serializes writers on both
backends (on PostgreSQL a concurrent writer hits the primary key and retries its transaction).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .db import Database
from .records import now

GENESIS_HASH = "0" * 64  # the previous hash of the first entry


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry: who did what, when, from where (cli or server), chained by hash."""

    id: int
    at: str
    user: str
    origin: str
    action: str
    target: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def expected_hash(self) -> str:
        return audit_hash(self.id, self.at, self.user, self.origin, self.action, self.target, self.details,
                          self.prev_hash)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "user": self.user, "origin": self.origin, "action": self.action,
                "target": self.target, "details": self.details, "prev_hash": self.prev_hash, "hash": self.hash}


def audit_hash(entry_id: int, at: str, user: str, origin: str, action: str, target: str | None,
               details: dict[str, Any], prev_hash: str) -> str:
    """sha256 over the canonical JSON of the entry and the previous entry's hash."""
    canonical = json.dumps(
        {"id": entry_id, "at": at, "user": user, "origin": origin, "action": action, "target": target,
         "details": details, "prev_hash": prev_hash},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, *, user: str, origin: str, action: str, target: str | None,
               details: dict[str, Any]) -> AuditRecord:
        """Append one entry after the newest (joins the caller's transaction, if any)."""
        details = json.loads(json.dumps(details, default=str))  # stored and hashed as read back
        with self.db.transaction():
            last = self.db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            entry_id, prev_hash = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS_HASH)
            at = now()
            digest = audit_hash(entry_id, at, user, origin, action, target, details, prev_hash)
            self.db.execute(
                "INSERT INTO audit_log (id, at, actor, origin, action, target, details, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry_id, at, user, origin, action, target, json.dumps(details, sort_keys=True), prev_hash,
                 digest),
            )
        return AuditRecord(entry_id, at, user, origin, action, target, details, prev_hash, digest)

    def entries(self, *, since: str | None = None, user: str | None = None,
                action: str | None = None) -> list[AuditRecord]:
        """Entries, oldest first; `since` is an ISO timestamp (UTC) compared with `at`."""
        clauses, args = [], []
        if since:
            clauses.append("at >= ?")
            args.append(since)
        if user:
            clauses.append("actor = ?")
            args.append(user)
        if action:
            clauses.append("action = ?")
            args.append(action)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.query(f"SELECT * FROM audit_log{where} ORDER BY id", args)
        return [
            AuditRecord(int(r["id"]), r["at"], r["actor"], r["origin"], r["action"], r["target"],
                        json.loads(r["details"] or "{}"), r["prev_hash"], r["hash"])
            for r in rows
        ]

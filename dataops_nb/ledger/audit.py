"""The audit log: who did what, hash-chained (the table and its writes come with the audit feature)."""

from __future__ import annotations

from .db import Database


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

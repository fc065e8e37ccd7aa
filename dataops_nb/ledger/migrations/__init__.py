"""Versioned migrations, one list per backend (`sqlite.py`, `postgres.py`).

A ledger's schema version is the number of entries applied. Opening never migrates;
`Database.migrate()` is an explicit step of the commands that write.
"""

from __future__ import annotations

from typing import Any


def migrations_for(dialect: str) -> list[Any]:
    if dialect == "sqlite":
        from .sqlite import MIGRATIONS

        return MIGRATIONS
    from . import postgres  # type: ignore[attr-defined]

    return postgres.MIGRATIONS  # type: ignore[no-any-return]


def latest(dialect: str) -> int:
    """The schema version this kit writes for `dialect`."""
    return len(migrations_for(dialect))

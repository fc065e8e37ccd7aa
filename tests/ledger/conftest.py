"""Fixtures of the ledger tests."""

from __future__ import annotations

import pytest

from dataops_nb.ledger import Ledger


@pytest.fixture
def ledger(ledger_backend, tmp_path):
    """A migrated ledger on the test's backend (SQLite file, or a PostgreSQL database of its own)."""
    opened = Ledger.open(ledger_backend or tmp_path / "ledger.db", store_root=tmp_path)
    opened.migrate()
    yield opened
    opened.close()

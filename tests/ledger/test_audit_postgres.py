"""The audit log on a PostgreSQL ledger: the same chain as on SQLite, and no entry can be changed."""

from __future__ import annotations

import pytest

from dataops_nb import audit
from dataops_nb.ledger import Ledger


def test_audit_log_on_postgresql_is_chained_and_append_only(pg_url, tmp_path):
    ledger = Ledger.open(pg_url, store_root=tmp_path)
    ledger.migrate()
    first = audit.record(ledger, audit.REVIEW, user="ana", origin="cli", target="raw.x", details={"why": "ok"})
    second = audit.record(ledger, audit.EXPORT, user="bo", origin="server", target="report")
    assert (first.id, second.id, second.prev_hash) == (1, 2, first.hash)
    assert audit.verify(ledger).entries == 2
    for statement in ("UPDATE audit_log SET actor = 'mallory' WHERE id = 1", "DELETE FROM audit_log WHERE id = 1",
                      "TRUNCATE audit_log"):
        with pytest.raises(Exception, match="audit_log is append-only"):
            ledger.db.execute(statement)
    assert [e.user for e in audit.entries(ledger)] == ["ana", "bo"]
    ledger.close()

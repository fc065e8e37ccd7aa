"""A ledger with runs, step runs, versions and check results, written by its repositories."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from .seed import publish, run_id


def fill(ledger: Any) -> dict[str, Any]:
    """Three runs (two in prod, one failed in dev), versions of two datasets, check results."""
    now = datetime.now(timezone.utc)
    runs = [(run_id(1), "prod", "success", 2.5), (run_id(2), "prod", "success", 40.0), (run_id(3), "dev", "failed", 700.0)]
    for identifier, env, status, seconds in runs:
        ledger.runs.open(identifier, environment=env)
        ledger.runs.set_step(identifier, "make", status="success" if status == "success" else "failed",
                             duration_s=seconds)
        ledger.runs.set_step(identifier, "report", status="skipped")
        ledger.runs.end(identifier, status)
    sla = {"column": "ts", "warn_after": 86400.0, "error_after": 604800.0}
    publish(ledger, "raw.orders", run_id(1), rows=1000, newest=now - timedelta(hours=2), freshness=sla)
    publish(ledger, "raw.orders", run_id(2), rows=1200, newest=now - timedelta(hours=1), freshness=sla)
    version = publish(ledger, "raw.customers", run_id(2), rows=50, newest=None)
    rows = [
        {"run_id": run_id(2), "step": "make", "dataset": "raw.customers", "version_id": version, "check_name": name,
         "kind": kind, "origin": "spec", "severity": severity, "status": status, "rows": 50, "failing": failing}
        for name, kind, severity, status, failing in [
            ("not_null(id)", "not_null", "error", "pass", 0),
            ("unique(id)", "unique", "error", "error", 3),
            ("accepted_values(tier)", "accepted_values", "warn", "warn", 5),
        ]
    ]
    ledger.checks.record(rows)
    return {"runs": runs}

"""Ledgers with many datasets and versions, written by the ledger's own repositories (for the
monitoring and metrics tests and benchmarks: no kernel needed to have history)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from dataops_nb.ledger import VersionRecord, now


def publish(ledger: Any, dataset: str, run_id: str, *, rows: int, newest: datetime | None = None,
            freshness: dict[str, Any] | None = None, owner: str | None = None, step: str = "make",
            environment: str | None = None) -> str:
    """Stage and promote one version of `dataset` (its `ts` column's max is `newest`), current in
    `environment` (default: the default one)."""
    version_id = f"{dataset}@{run_id}"
    profile = [{"name": "ts", "type": "TIMESTAMP", "null_count": 0, "approx_distinct": rows,
                "min": None, "max": None if newest is None else newest.strftime("%Y-%m-%d %H:%M:%S")}]
    record = VersionRecord(version_id=version_id, dataset=dataset, run_id=run_id, step=step,
                           path=f"data/{dataset}/{run_id}.parquet", rows=rows, bytes=rows * 8,
                           schema=[{"name": "ts", "type": "TIMESTAMP"}], status="staged", created_at=now(),
                           profile=profile, pii={}, environment=environment or "prod")
    with ledger.transaction():
        ledger.versions.stage(record, [], owner=owner, freshness=freshness, in_spec=True)
        ledger.versions.transition([version_id], "current", environment=environment)
    return version_id


def run_id(index: int) -> str:
    return f"20260101-000000-{index % 1000:03d}{index // 1000:04x}"


def seed(ledger: Any, count: int, *, history: Sequence[int] = (100, 101, 99, 100, 102, 100),
         age: timedelta = timedelta(hours=1), freshness: dict[str, Any] | None = None) -> list[str]:
    """`count` datasets `seed.dNNNNN`, each with one version per entry of `history` (its row count)."""
    names = [f"seed.d{i:05d}" for i in range(count)]
    newest = datetime.now(timezone.utc) - age
    sla = freshness if freshness is not None else {"column": "ts", "warn_after": 86400.0, "error_after": 604800.0}
    with ledger.transaction():
        for position, rows in enumerate(history):
            for name in names:
                publish(ledger, name, run_id(position), rows=rows, newest=newest, freshness=sla, owner="data-eng")
    return names

"""Run leases: the run lock of each pipeline, as a row of the ledger every machine sees.

A runner acquires its pipeline's lease, renews it while it runs (a heartbeat) and releases
it when the run ends. A lease its holder stopped renewing (SIGKILL, a lost machine) expires
and the next runner takes it over. Expiry is judged by the database's clock, so machines
whose clocks disagree still agree on who holds a lease.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from .db import Database, Row
from .records import now

# seconds since the epoch, by the database's clock
_CLOCK = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)",
}


def this_host() -> str:
    """The name this machine goes by in the ledger: DATAOPS_HOST, else its hostname.

    Set DATAOPS_HOST where machines share a hostname but not their processes (containers
    on host networking), so a process id is only ever judged on the machine it belongs to."""
    return os.environ.get("DATAOPS_HOST", "").strip() or socket.gethostname()


def alive(pid: int) -> bool:
    """Whether process `pid` of this host exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Lease:
    pipeline: str
    holder: str  # a token of the acquisition, never shown
    run_id: str | None
    user: str | None
    host: str | None
    pid: int | None
    acquired_at: str
    expires_in_s: float  # negative once expired

    @property
    def live(self) -> bool:
        return self.expires_in_s >= 0

    def describe(self) -> str:
        """`run 20261202-... by alice on pod-3 since 2026-12-02T13:00:00.000+00:00`."""
        run = f"run {self.run_id}" if self.run_id else "a run"
        return f"{run} by {self.user or 'someone'} on {self.host or 'an unknown host'} since {self.acquired_at}"


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def _clock(self) -> str:
        return _CLOCK[self.db.dialect]

    def acquire(self, pipeline: str, holder: str, *, ttl_s: float, user: str | None, host: str,
                pid: int) -> Lease | None:
        """Take `pipeline`'s lease for `holder` when it is free or expired; else the lease that holds it."""
        taken = self.db.execute(
            "INSERT INTO run_leases (pipeline, holder, run_id, user, host, pid, acquired_at, expires_at) "
            f"VALUES (?, ?, NULL, ?, ?, ?, ?, {self._clock} + ?) "
            "ON CONFLICT (pipeline) DO UPDATE SET holder = excluded.holder, run_id = NULL, user = excluded.user, "
            "host = excluded.host, pid = excluded.pid, acquired_at = excluded.acquired_at, "
            "expires_at = excluded.expires_at "
            f"WHERE run_leases.expires_at < {self._clock} OR run_leases.holder = excluded.holder",
            (pipeline, holder, user, host, pid, now(), float(ttl_s)),
        ).rowcount
        if taken:
            return None
        held = self.get(pipeline)
        if held is None:  # released between the two statements: try once more
            return self.acquire(pipeline, holder, ttl_s=ttl_s, user=user, host=host, pid=pid)
        return held

    def renew(self, pipeline: str, holder: str, *, ttl_s: float) -> bool:
        """Extend the lease by `ttl_s`; False when `holder` no longer holds a live one."""
        return bool(self.db.execute(
            f"UPDATE run_leases SET expires_at = {self._clock} + ? "
            f"WHERE pipeline = ? AND holder = ? AND expires_at >= {self._clock}",
            (float(ttl_s), pipeline, holder),
        ).rowcount)

    def attach(self, pipeline: str, holder: str, run_id: str) -> None:
        """Name the run the lease covers (in the transaction that opens the run)."""
        self.db.execute("UPDATE run_leases SET run_id = ? WHERE pipeline = ? AND holder = ?",
                        (run_id, pipeline, holder))

    def release(self, pipeline: str, holder: str) -> None:
        self.db.execute("DELETE FROM run_leases WHERE pipeline = ? AND holder = ?", (pipeline, holder))

    def expire(self, pipeline: str, holder: str) -> None:
        """End a lease whose holder is known to be gone (a dead process of this host)."""
        self.db.execute("UPDATE run_leases SET expires_at = 0 WHERE pipeline = ? AND holder = ?", (pipeline, holder))

    def get(self, pipeline: str) -> Lease | None:
        rows = self.db.query(f"SELECT *, expires_at - {self._clock} AS expires_in_s FROM run_leases "
                             "WHERE pipeline = ?", (pipeline,))
        return _lease(rows[0]) if rows else None

    def leased_runs(self) -> set[str]:
        """The runs a live lease covers: every other `running` run has lost its runner."""
        rows = self.db.query(f"SELECT run_id FROM run_leases WHERE run_id IS NOT NULL AND expires_at >= {self._clock}")
        return {str(row["run_id"]) for row in rows}


def _lease(row: Row) -> Lease:
    return Lease(
        pipeline=row["pipeline"], holder=row["holder"], run_id=row["run_id"], user=row["user"], host=row["host"],
        pid=row["pid"], acquired_at=row["acquired_at"], expires_in_s=float(row["expires_in_s"]),
    )

"""Run leases on both backends: one holder per pipeline, renewal, expiry, and runs reaped by lease."""

from __future__ import annotations

import os
import time

from dataops_nb.ledger import Ledger, RunStatus


def second_connection(ledger: Ledger, tmp_path) -> Ledger:
    """The same ledger as another machine opens it."""
    url = os.environ.get("DATAOPS_LEDGER_URL") or tmp_path / "ledger.db"
    return Ledger.open(url, store_root=tmp_path)


def acquire(ledger: Ledger, holder: str, pipeline: str = "flights", ttl: float = 30.0, host: str = "pod-a"):
    return ledger.leases.acquire(pipeline, holder, ttl_s=ttl, user="ann", host=host, pid=4242)


def test_one_holder_per_pipeline_and_the_refusal_names_it(ledger, tmp_path):
    other = second_connection(ledger, tmp_path)
    assert acquire(ledger, "a") is None
    ledger.leases.attach("flights", "a", "20261202-130000-0001234")
    held = acquire(other, "b", host="pod-b")
    assert held is not None and held.live
    assert held.describe().startswith("run 20261202-130000-0001234 by ann on pod-a since 20")
    assert acquire(other, "b", pipeline="weather") is None  # another pipeline of the same ledger proceeds
    ledger.leases.release("flights", "a")
    assert acquire(other, "b") is None
    assert acquire(ledger, "a") is not None
    other.close()


def test_an_expired_lease_is_taken_over_and_its_holder_cannot_renew(ledger, tmp_path):
    other = second_connection(ledger, tmp_path)
    assert acquire(ledger, "a", ttl=0.3) is None
    assert ledger.leases.renew("flights", "a", ttl_s=0.3)
    assert acquire(other, "b") is not None
    time.sleep(0.5)
    assert acquire(other, "b") is None  # the holder stopped renewing: its lease expired
    assert not ledger.leases.renew("flights", "a", ttl_s=30)
    ledger.leases.release("flights", "a")  # releasing a lease it lost leaves the new holder's alone
    assert other.leases.get("flights").holder == "b"
    other.close()


def test_a_running_run_whose_lease_expired_reads_and_reaps_as_interrupted(ledger, tmp_path):
    """Process ids mean nothing on another machine: the lease decides."""
    for run_id, ttl in (("20261202-130000-000aaaa", 0.3), ("20261202-130000-000bbbb", 30)):
        pipeline = f"p{run_id[-1]}"
        with ledger.transaction():
            ledger.runs.open(run_id, pid=1, host="another-machine")
            ledger.runs.set_step(run_id, "s", status="running")
            ledger.leases.acquire(pipeline, run_id, ttl_s=ttl, user="ann", host="another-machine", pid=1)
            ledger.leases.attach(pipeline, run_id, run_id)
    time.sleep(0.5)
    dead, alive = "20261202-130000-000aaaa", "20261202-130000-000bbbb"
    assert ledger.runs.get(dead).status is RunStatus.INTERRUPTED  # reading shows it, writing nothing
    assert [r.run_id for r in ledger.runs.in_flight()] == [alive]
    assert ledger.db.query("SELECT status FROM runs WHERE run_id = ?", (dead,))[0][0] == "running"
    assert ledger.runs.reap_dead() == [dead]
    assert ledger.db.query("SELECT status FROM runs WHERE run_id = ?", (dead,))[0][0] == "interrupted"
    assert [s.status for s in ledger.runs.steps(dead)] == ["interrupted"]
    assert ledger.runs.get(alive).status is RunStatus.RUNNING

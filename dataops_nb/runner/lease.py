"""The run lock: one run at a time per pipeline, on every machine that shares the ledger.

The lock is the pipeline's lease in the ledger (`ledger/leases.py`). The runner takes it
before the run opens, renews it from a thread of its own every third of its time to live,
and releases it when the run has ended. A holder that stops renewing (SIGKILL, a lost
machine) loses the lease once it expires; a holder on this host whose process is gone loses
it at once. A runner whose lease was taken from it commits nothing more.

The time to live is DATAOPS_LEASE_TTL seconds (30 by default).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Self

from ..errors import ConflictError, DataOpsError
from ..ledger import Ledger
from ..ledger.leases import Lease, alive, this_host
from ..project import Project
from ..security import current_user

DEFAULT_TTL_S = 30.0
POLL_S = 0.5  # how often a waiting runner asks again


class LeaseLostError(DataOpsError):
    """The run's lease expired or another runner took it over: the run stops, committing nothing more."""

    def __init__(self, pipeline: str, holder: Lease | None) -> None:
        taken = f" {holder.describe()} holds it now" if holder else ""
        super().__init__(f"This run lost the lease of pipeline '{pipeline}' (it could not renew it in time);"
                         f"{taken or ' nothing else holds it'}. The run stops here.")
        self.pipeline = pipeline
        self.holder = holder


def ttl_s() -> float:
    text = os.environ.get("DATAOPS_LEASE_TTL", "").strip()
    try:
        value = float(text) if text else DEFAULT_TTL_S
    except ValueError:
        raise DataOpsError(f"DATAOPS_LEASE_TTL={text!r} is not a number of seconds.") from None
    if value <= 0:
        raise DataOpsError(f"DATAOPS_LEASE_TTL={text!r} must be more than 0 seconds.")
    return value


def _gone(lease: Lease) -> bool:
    """A live lease whose holder is a process of this host that no longer exists."""
    return lease.host == this_host() and bool(lease.pid) and not alive(int(lease.pid))


def holder(project: Project) -> Lease | None:
    """Who holds the project's pipeline right now (read-only; None when nobody does)."""
    lease = project.ledger.leases.get(project.spec.name)
    if lease is None or not lease.live or _gone(lease):
        return None
    return lease


class RunLease:
    """`with RunLease(project, wait=...)`: hold the pipeline's lease for the block."""

    def __init__(self, project: Project, *, wait: bool, report: Callable[[dict[str, Any]], None] | None = None,
                 ttl: float | None = None) -> None:
        self.project = project
        self.pipeline = project.spec.name
        self.wait = wait
        self.report = report or (lambda event: None)
        self.ttl = ttl if ttl is not None else ttl_s()
        self.token = uuid.uuid4().hex
        self._lost: Lease | None | bool = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ledger(self) -> Ledger:
        return self.project.writable_ledger()

    def __enter__(self) -> Self:
        leases = self.ledger.leases
        reported = False
        while True:
            held = leases.acquire(self.pipeline, self.token, ttl_s=self.ttl, user=current_user(),
                                  host=this_host(), pid=os.getpid())
            if held is None:
                break
            if _gone(held):  # its runner on this host died: no need to wait for the expiry
                leases.expire(self.pipeline, held.holder)
                continue
            if not self.wait:
                raise ConflictError(f"Another run is in progress: {held.describe()}.")
            if not reported:
                self.report({"event": "waiting", "holder": held.describe()})
                reported = True
            time.sleep(POLL_S)
        # a run the expired lease covered is recorded as interrupted now, not at the next command
        self.ledger.runs.reap_dead()
        self._thread = threading.Thread(target=self._heartbeat, name="run-lease", daemon=True)
        self._thread.start()
        return self

    def attach(self, run_id: str) -> None:
        """Name the run this lease covers; call it in the transaction that opens the run."""
        self.ledger.leases.attach(self.pipeline, self.token, run_id)

    def check(self) -> None:
        """Raise LeaseLostError once the lease is no longer this runner's."""
        if self._lost is not False:
            raise LeaseLostError(self.pipeline, self._lost if isinstance(self._lost, Lease) else None)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.ledger.leases.release(self.pipeline, self.token)

    def _heartbeat(self) -> None:
        """Renew on a connection of its own, so a long statement of the run never delays it."""
        ledger = Ledger.open(self.project.ledger_url, store_root=self.project.store.root)
        renewed = time.monotonic()
        try:
            while not self._stop.wait(self.ttl / 3):
                try:
                    if ledger.leases.renew(self.pipeline, self.token, ttl_s=self.ttl):
                        renewed = time.monotonic()
                        continue
                    now_held = ledger.leases.get(self.pipeline)
                    self._lost = now_held if now_held and now_held.holder != self.token else True
                    return
                # any failure of the database (either driver's): try again until the lease would have expired
                except Exception:  # noqa: BLE001
                    if time.monotonic() - renewed > self.ttl:
                        self._lost = True
                        return
        finally:
            ledger.close()

"""Cancelling a run: a request the runner picks up, wherever it runs.

`dataops-nb cancel` (or the sidebar's Cancel) writes `runs/<run_id>/cancel.json` in the
store: who asked, when, and the grace period. The runner looks for it between steps and
at least every `POLL_S` while steps run, so a runner on another machine sharing the
store and the ledger is reached too. It then interrupts the running steps (their cell
raises KeyboardInterrupt), kills those still running after the grace period, commits
nothing they staged, marks them `interrupted` (what `run --resume` redoes), and ends the
run `cancelled`; its lease is released as after any run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..errors import ConflictError, DataOpsError, NotFoundError
from ..ledger import now

POLL_S = 0.5
DEFAULT_GRACE_S = 10.0
FILE = "cancel.json"


class RunCancelled(Exception):
    """Raised in the runner's loop when a cancel request for its run appears (not an error)."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__(f"cancelled by {request.get('by') or 'someone'}")
        self.request = request

    @property
    def grace(self) -> float:
        return float(self.request.get("grace_s", DEFAULT_GRACE_S))


class NotRunningError(ConflictError):
    """Cancel of a run that is not running."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"Run {run_id} is not running (it is {status}): there is nothing to cancel.")
        self.run_id = run_id
        self.status = status


def request_path(store_root: Path, run_id: str) -> Path:
    return store_root / "runs" / run_id / FILE


def requested(store_root: Path, run_id: str) -> dict[str, Any] | None:
    path = request_path(store_root, run_id)
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except ValueError:  # being written: the next look reads it whole
        return None


def cancel(project: Any, run_id: str | None, *, user: str, grace: float = DEFAULT_GRACE_S,
           wait: bool = True, timeout: float | None = None) -> dict[str, Any]:
    """Ask the run (default: the one in progress) to stop; with `wait`, until it has ended."""
    runs = project.ledger.runs if project.has_ledger() else None
    if run_id is None:
        flying = runs.in_flight() if runs else []
        if not flying:
            raise DataOpsError("No run is in progress: there is nothing to cancel.")
        run_id = flying[0].run_id
    record = runs.get(run_id) if runs else None
    if record is None:
        raise NotFoundError("run", run_id, [r.run_id for r in runs.recent(20)] if runs else [])
    if record.status != "running":
        raise NotRunningError(run_id, str(record.status))
    path = request_path(project.store.root, run_id)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps({"by": user, "at": now(), "grace_s": grace}), encoding="utf-8")
    staged.replace(path)
    status = "running"
    if wait:
        deadline = time.monotonic() + (timeout if timeout is not None else grace + 120)
        while time.monotonic() < deadline:
            current = project.ledger.runs.get(run_id)
            status = str(current.status) if current else "running"
            if status != "running":
                break
            time.sleep(0.2)
    return {"run_id": run_id, "requested_by": user, "grace_s": grace, "status": status}

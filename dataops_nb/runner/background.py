"""Runs started from an interface (the JupyterLab sidebar) in a process of their own.

The run outlives the request that started it, the browser tab and even the server: it
is a detached `dataops-nb run` process. Its run id is read back from the ledger, where
the runner records its pid when it opens the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConflictError, DataOpsError, NotFoundError
from ..project import Project

if TYPE_CHECKING:
    from ..ledger.runs import RunRepository

STARTUP_TIMEOUT_S = 60.0


def lock_is_held(project: Project) -> str | None:
    """Who holds the pipeline's run lease, if anyone (asked without taking it)."""
    from .lease import holder

    try:
        lease = holder(project)
    except DataOpsError:
        return None  # no ledger yet, or one the run will migrate: the run itself says what is wrong
    return lease.describe() if lease else None


def start_run(
    project: Project,
    *,
    only: list[str] = (),  # type: ignore[assignment]
    from_step: str | None = None,
    force: bool = False,
    env: str | None = None,
    user: str | None = None,
    origin: str = "cli",
) -> str:
    """Start `dataops-nb run` detached; returns its run id once the ledger has it.

    The run records `user` and `origin` (the server passes its authenticated user) as who
    started it, whatever DATAOPS_USER the server's own environment holds."""
    for name in [*only, *([from_step] if from_step else [])]:
        try:
            project.spec.step(name)
        except NotFoundError as exc:  # a step named in a request is bad input, not a missing resource
            raise DataOpsError(str(exc)) from exc
    held = lock_is_held(project)
    if held:
        raise ConflictError(f"Another run is in progress: {held}.")
    args = [sys.executable, "-m", "dataops_nb.cli", "-C", str(project.root), "run", "--no-wait", "--quiet"]
    for name in only:
        args += ["--only", name]
    if from_step:
        args += ["--from", from_step]
    if force:
        args.append("--force")
    if env:
        args += ["--env", env]
    before = _latest_run_id(project)
    logs = project.store.root / "launched"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=project.root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the server or the request
            env=started_by(os.environ, user, origin),
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        run_id = _run_of_pid(project, process.pid, after=before)
        if run_id:
            return run_id
        code = process.poll()
        if code is not None:
            run_id = _run_of_pid(project, process.pid, after=before)
            if run_id:
                return run_id
            message = _last_line(log_path) or f"the run exited with code {code}"
            if "Another run is in progress" in message:
                raise ConflictError(message.removeprefix("Error: "))
            raise DataOpsError(message.removeprefix("Error: "))
        time.sleep(0.05)
    raise DataOpsError(f"The run did not start within {STARTUP_TIMEOUT_S:.0f} s; see {project.relative(log_path)}.")


def started_by(environ: Mapping[str, str], user: str | None, origin: str) -> dict[str, str]:
    """The environment of a run started on behalf of `user` from `origin`."""
    from ..security import ORIGIN_VARIABLE, USER_VARIABLE

    result = {**environ, ORIGIN_VARIABLE: origin}
    if user:
        result[USER_VARIABLE] = user
    return result


def _run_of_pid(project: Project, pid: int, *, after: str) -> str | None:
    runs = _runs(project)
    return runs.started_by(pid, after=after) if runs else None


def _latest_run_id(project: Project) -> str:
    runs = _runs(project)
    return (runs.latest_id() or "") if runs else ""


def _runs(project: Project) -> RunRepository | None:
    try:
        return project.ledger.runs
    except DataOpsError:
        return None  # the ledger is being created or migrated


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""

"""Runs started from an interface (the JupyterLab sidebar) in a process of their own.

The run outlives the request that started it, the browser tab and even the server: it
is a detached run worker (`python -m dataops_nb.worker`), which reports its run id, or the
error that refused the run (its type and fields), as structured messages on a status file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConflictError, DataOpsError, NotFoundError, rebuilt_error
from ..project import Project
from ..scope import RunOptions

STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WorkRequest:
    """A run asked of a worker: the project, where it reports (a status file of JSON lines), and the
    run's `RunOptions`, the very request the CLI's `run` makes in its own process."""

    project: str
    status: str
    options: RunOptions = field(default_factory=RunOptions)

    def write(self, path: Path) -> None:
        data = {"project": self.project, "status": self.status, "options": self.options.to_json()}
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> WorkRequest:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["project"], data["status"], RunOptions.from_json(data.get("options") or {}))


def read_status(path: Path) -> list[dict[str, Any]]:
    """The messages a worker wrote so far (a line still being written is left for the next read)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            found.append(json.loads(line))
        except ValueError:
            break
    return found


def lock_is_held(project: Project) -> str | None:
    """Who holds the pipeline's run lease, if anyone (asked without taking it)."""
    from .lease import holder

    try:
        lease = holder(project)
    except DataOpsError:
        return None  # no ledger yet, or one the run will migrate: the run itself says what is wrong
    return lease.describe() if lease else None


def start_run(project: Project, options: RunOptions, *, user: str | None = None, origin: str = "cli") -> str:
    """Start `dataops-nb run` detached; returns its run id once the ledger has it.

    The run records `user` and `origin` (the server passes its authenticated user) as who
    started it, whatever DATAOPS_USER the server's own environment holds."""
    for name in [*options.only, *options.start]:
        try:
            project.spec.step(name)
        except NotFoundError as exc:  # a step named in a request is bad input, not a missing resource
            raise DataOpsError(str(exc)) from exc
    held = lock_is_held(project)
    if held:
        raise ConflictError(f"Another run is in progress: {held}.")
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{os.urandom(2).hex()}"
    logs = project.store.root / "launched"
    logs.mkdir(parents=True, exist_ok=True)
    status_path, log_path = logs / f"{stamp}.status.jsonl", logs / f"{stamp}.log"
    request = WorkRequest(project=str(project.root), status=str(status_path), options=options)
    request.write(logs / f"{stamp}.request.json")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dataops_nb.worker", str(logs / f"{stamp}.request.json")],
            cwd=project.root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the server or the request
            env=started_by(os.environ, user, origin),
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for message in read_status(status_path):
            if message.get("state") in ("started", "finished") and message.get("run_id"):
                return str(message["run_id"])
            if message.get("state") == "failed":
                raise rebuilt_error(message.get("error") or {})
        code = process.poll()
        if code is not None and not read_status(status_path):
            message = _last_line(log_path) or f"the run worker exited with code {code}"
            raise DataOpsError(f"The run did not start: {message} (see {project.relative(log_path)}).")
        time.sleep(0.05)
    raise DataOpsError(f"The run did not start within {STARTUP_TIMEOUT_S:.0f} s; see {project.relative(log_path)}.")


def started_by(environ: Mapping[str, str], user: str | None, origin: str) -> dict[str, str]:
    """The environment of a run started on behalf of `user` from `origin`."""
    from ..security import ORIGIN_VARIABLE, USER_VARIABLE

    result = {**environ, ORIGIN_VARIABLE: origin}
    if user:
        result[USER_VARIABLE] = user
    return result


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""

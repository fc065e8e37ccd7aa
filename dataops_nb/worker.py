"""The run worker: `python -m dataops_nb.worker REQUEST.json`, a run in a process of its own.

An interface (the Jupyter server's Run button, `service.start_run`) writes a `WorkRequest` as
JSON and starts this module detached; it reports on the status file the request names, one
JSON object per line, never as text to be matched:

    {"state": "started", "run_id": "..."}                    the run is open in the ledger
    {"state": "finished", "run_id": "...", "status": "..."}  success, failed, cancelled
    {"state": "failed", "error": {"type", "message", "exit_code", "fields"}}   refused or broken

`errors.rebuilt_error` turns a failure back into the error the worker raised, of its own class.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WorkRequest:
    project: str
    status: str  # the status file (JSON lines)
    only: list[str] = field(default_factory=list)
    start: list[str] = field(default_factory=list)
    force: bool = False
    env: str | None = None
    jobs: int = 1

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> WorkRequest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


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


class _Status:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, state: str, **fields: Any) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"state": state, **fields}, default=str) + "\n")


def work(request: WorkRequest) -> int:
    """Run the request; every outcome goes to its status file. The exit code of the CLI's contract."""
    from .errors import DataOpsError, error_record

    status = _Status(Path(request.status))
    try:
        from . import service
        from .runner.run import RunRequest

        project = service.open_project(request.project)

        def report(event: dict[str, Any]) -> None:
            if event.get("event") == "run_started":
                status("started", run_id=event["run_id"])

        summary = service.run(project, RunRequest(only=tuple(request.only), start=tuple(request.start),
                                                  jobs=max(1, request.jobs), env=request.env, force=request.force),
                              report, wait=False)
    except DataOpsError as exc:
        status("failed", error=error_record(exc))
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - reported as data: whoever started the run decides what to show
        status("failed", error=error_record(exc))
        return 1
    status("finished", run_id=summary.run_id, status=summary.status)
    return 0 if summary.status == "success" else 1


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m dataops_nb.worker REQUEST.json")
    sys.exit(work(WorkRequest.read(Path(args[0]))))


if __name__ == "__main__":
    main()

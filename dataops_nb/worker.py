"""The run worker: `python -m dataops_nb.worker REQUEST.json`, a run in a process of its own.

`service.start_run` (the Jupyter server's Run button) writes a `WorkRequest` as JSON and
starts this module detached. The request carries `RunOptions`, the same request the CLI's `run`
passes to `service.run` in its own process, so a run asked for either way runs alike (and
`dataops-nb cancel` stops either: both runners look for the cancel request in the store). It
reports on the status file the request names, one JSON object per line, never as text to be matched:

    {"state": "started", "run_id": "..."}                    the run is open in the ledger
    {"state": "finished", "run_id": "...", "status": "..."}  success, failed, cancelled
    {"state": "failed", "error": {"type", "message", "exit_code", "fields"}}   refused or broken

`errors.rebuilt_error` turns a failure back into the error the worker raised, of its own class.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .runner.background import WorkRequest


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

        project = service.open_project(request.project)

        def report(event: dict[str, Any]) -> None:
            if event.get("event") == "run_started":
                status("started", run_id=event["run_id"])

        summary = service.run(project, request.options, report, wait=False)
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

"""Executing one step: a kernel of its own, papermill, the executed notebook, the manifest.

This is the step function every executor calls. It touches no ledger: it returns a
`StepOutcome` and the runner (in one thread) commits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ledger import now
from ..runtime import CONTEXT_ENV
from ..security import redact, redact_notebook, redact_text, secret_values


@dataclass(frozen=True)
class StepTask:
    """Everything a worker needs to execute one step; plain data, picklable."""

    run_id: str
    step: str
    notebook: str
    output: str
    context: dict[str, Any]
    context_path: str
    manifest_path: str
    parameters: dict[str, Any]
    secret_envs: tuple[str, ...] = ()
    timeout: float | None = None
    attempt: int = 1
    kernel_name: str = "python3"


@dataclass(frozen=True)
class StepOutcome:
    step: str
    status: str  # success, failed, timed_out
    started_at: str
    ended_at: str
    duration_s: float
    output_notebook: str
    attempt: int
    error: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


def execute_step(task: StepTask) -> StepOutcome:
    """Run the step's notebook with papermill into its run folder; never raises for a step error."""
    import papermill
    from jupyter_client import KernelManager
    from papermill.exceptions import PapermillExecutionError

    started, clock = now(), time.perf_counter()
    Path(task.context_path).parent.mkdir(parents=True, exist_ok=True)
    Path(task.context_path).write_text(json.dumps(task.context, indent=2))
    Path(task.manifest_path).unlink(missing_ok=True)
    secrets = secret_values(task.secret_envs)
    scratch = Path(tempfile.mkdtemp(prefix="dataops-step-"))
    raw_output = scratch / Path(task.output).name
    km = KernelManager(kernel_name=task.kernel_name)
    timed_out = threading.Event()
    timer: threading.Timer | None = None
    status, error = "success", None
    try:
        km.start_kernel(
            env={**os.environ, CONTEXT_ENV: task.context_path},
            cwd=str(Path(task.notebook).parent),
            stdout=subprocess.DEVNULL,  # kernels chatter on start; outputs reach the notebook
            stderr=subprocess.DEVNULL,
        )
        if task.timeout:
            timer = threading.Timer(task.timeout, _kill, args=(km, timed_out))
            timer.daemon = True
            timer.start()
        papermill.execute_notebook(
            task.notebook,
            str(raw_output),
            parameters=task.parameters,
            km=km,
            progress_bar=False,
            request_save_on_cell_execute=False,
            cwd=str(Path(task.notebook).parent),
        )
    except PapermillExecutionError as exc:
        status = "failed"
        error = f"cell {exc.exec_count or exc.cell_index}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, timed out, could not start
        status = "failed"
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if timer is not None:
            timer.cancel()
        _shutdown(km)
    if timed_out.is_set():
        status = "timed_out"
        error = f"timed out after {task.timeout:g} s"
    if raw_output.exists():
        redact_notebook(raw_output, Path(task.output), secrets)
    shutil.rmtree(scratch, ignore_errors=True)
    manifest: dict[str, Any] = {}
    if Path(task.manifest_path).exists():
        manifest = redact(json.loads(Path(task.manifest_path).read_text()), secrets)
    return StepOutcome(
        step=task.step,
        status=status,
        started_at=started,
        ended_at=now(),
        duration_s=round(time.perf_counter() - clock, 3),
        output_notebook=task.output if Path(task.output).exists() else "",
        attempt=task.attempt,
        error=redact_text(error, secrets) if error else None,
        manifest=manifest,
    )


def _kill(km: Any, flag: threading.Event) -> None:
    """Stop a kernel that ran past its step's timeout (papermill then sees a dead kernel)."""
    flag.set()
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _shutdown(km: Any) -> None:
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    except Exception:  # a dead or half-started kernel; nothing more to release
        pass

"""Executing one step: a warm kernel of its own, nbclient, the executed notebook, the manifest.

This is the step function every executor calls. It touches no ledger: it returns a
`StepOutcome` and the runner (in one thread) commits. Parameters are injected as
papermill does (a cell tagged `injected-parameters` after the `parameters` cell).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..ledger import now
from ..notebooks import inject_parameters, write
from ..secrets import Redactor
from ..store import CONTEXT_ENV
from .live import ADDED_CELLS, LiveNotebook
from .live import client as live_client

if TYPE_CHECKING:  # asyncio and the kernels load only when a step executes
    import asyncio

    from .kernels import Kernel, KernelPool


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
    secret_envs: tuple[str, ...] = ()  # the step's own: its kernel receives these
    run_secret_envs: tuple[str, ...] = ()  # every secret of the run: masked in all it leaves behind
    hidden_envs: tuple[str, ...] = ()  # what no kernel starts with (a worker's own pool)
    timeout: float | None = None
    attempt: int = 1
    delay: float = 0.0  # seconds to wait first (retry backoff)


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


async def run_step(pool: KernelPool, task: StepTask) -> StepOutcome:
    """Execute `task` on a kernel from `pool` (on the pool's loop); never raises for a step error."""
    import asyncio

    import nbformat
    from nbclient.exceptions import CellExecutionError, DeadKernelError
    from nbformat.reader import reads

    if task.delay:
        await asyncio.sleep(task.delay)
    workdir = str(Path(task.notebook).parent)
    Path(task.context_path).parent.mkdir(parents=True, exist_ok=True)
    Path(task.context_path).write_text(json.dumps(task.context, indent=2))
    Path(task.manifest_path).unlink(missing_ok=True)
    # read as nbformat.read does (versions converted, multi-line sources joined) but without its
    # schema validation, which only logs and costs ~0.2 s on first use
    source = nbformat.convert(reads(Path(task.notebook).read_text(encoding="utf-8")), 4)
    nb = nbformat.from_dict(inject_parameters(source, task.parameters))
    redactor = Redactor.from_env(task.run_secret_envs or task.secret_envs)
    status, error = "success", None
    kernel: Kernel | None = None
    live: LiveNotebook | None = None
    timer: asyncio.TimerHandle | None = None
    expired = asyncio.Event()
    started, clock = now(), time.perf_counter()
    try:
        kernel = await pool.acquire()
        started, clock = now(), time.perf_counter()
        if kernel.context_path and kernel.cwd == workdir:  # it started where the step runs
            Path(kernel.context_path).write_text(json.dumps(task.context))
        else:  # awaited: a request sent without waiting can reach the kernel after the cells
            await kernel.run_silently(
                f"import os; os.chdir({workdir!r}); os.environ[{CONTEXT_ENV!r}] = {task.context_path!r}"
            )
        await kernel.receive_secrets({env: os.environ[env] for env in task.secret_envs if env in os.environ})
        live = LiveNotebook(nb, Path(task.output), redactor, {
            "run_id": task.run_id, "step": task.step, "attempt": task.attempt, "parameters": task.parameters,
            "started_at": started})
        client = live_client(nb, live, km=kernel.km, kc=kernel.kc, timeout=None, record_timing=True,
                             resources={"metadata": {"path": workdir}})
        if task.timeout:
            timer = asyncio.get_running_loop().call_later(task.timeout, _expire, kernel, expired)
        await client.async_execute()
    except CellExecutionError as exc:
        status, error = "failed", _cell_error(nb, exc)
    except DeadKernelError:
        status, error = "failed", "the kernel died (out of memory, or killed)"
    except Exception as exc:  # the kernel could not start or be prepared
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        if timer is not None:
            timer.cancel()
        if live is not None:
            live.close()
        if kernel is not None:
            await pool.release(kernel)
    if expired.is_set():
        status, error = "timed_out", f"timed out after {task.timeout:g} s"
    duration = round(time.perf_counter() - clock, 3)
    nb.metadata["dataops"] = {
        "run_id": task.run_id, "step": task.step, "attempt": task.attempt, "parameters": task.parameters,
        "started_at": started, "duration_s": duration, "status": status,
    }
    Path(task.output).parent.mkdir(parents=True, exist_ok=True)
    write(Path(task.output), redactor.notebook(nbformat.from_dict(nb)))
    manifest: dict[str, Any] = {}
    if Path(task.manifest_path).exists():
        written = Path(task.manifest_path).read_text()
        manifest = redactor.data(json.loads(written))
        if redactor.found_in(written):  # the file stays beside the notebook
            Path(task.manifest_path).write_text(json.dumps(manifest, indent=2))
    return StepOutcome(
        step=task.step,
        status=status,
        started_at=started,
        ended_at=now(),
        duration_s=duration,
        output_notebook=task.output,
        attempt=task.attempt,
        error=redactor.text(error) if error else None,
        manifest=manifest,
    )


def _expire(kernel: Kernel, expired: asyncio.Event) -> None:
    """The step ran past its timeout: stop its kernel (nbclient then sees it die)."""
    expired.set()
    kernel.kill()


_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cell_error(nb: Any, exc: Any) -> str:
    """`cell N:L: Error: message`, N counted in the source notebook (as lint counts it) and L
    the line in that cell; and a banner above the failing cell of the executed notebook."""
    import nbformat

    for index, cell in enumerate(nb.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            source = 1 + sum(not ADDED_CELLS & set(c.get("metadata", {}).get("tags", [])) for c in nb.cells[:index])
            trace = getattr(exc, "traceback", None) or ""
            lines = _CELL_LINE.findall(_ANSI.sub("", trace if isinstance(trace, str) else "\n".join(trace)))
            banner = nbformat.v4.new_markdown_cell(
                f'<span style="color:red">**The step failed in the cell below:** '
                f"`{exc.ename}: {exc.evalue}`</span>"
            )
            banner.metadata["tags"] = ["dataops-error"]
            nb.cells.insert(index, banner)
            where = f"cell {source}:{lines[-1]}" if lines else f"cell {source}"
            return f"{where}: {exc.ename}: {exc.evalue}"
    return f"{exc.ename}: {exc.evalue}"


def execute_step(task: StepTask) -> StepOutcome:
    """Run one step with a kernel of its own (for workers without a shared pool: Dask)."""
    from .kernels import KernelPool, path_code

    # used at once: nothing to warm ahead, only the project's root on the import path; the
    # worker's environment may hold every secret
    pool = KernelPool(warm=1, budget=1, warm_code=path_code(task.context.get("project")),
                      hidden_env=frozenset(task.hidden_envs)).start()
    try:
        return pool.call(run_step(pool, task)).result()
    finally:
        pool.close()

"""Warm kernels: started, connected and pre-imported before a step is assigned to them.

All kernels live on one asyncio event loop in one thread (async clients only: handing
blocking clients across threads is fragile). A step still gets a fresh kernel of its
own; the next one is already waiting when it starts.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DataOpsError
from ..secrets import kernel_env

T = TypeVar("T")

READY_TIMEOUT_S = 90

# Heavy libraries worth importing while a kernel waits, keyed by what a step imports (the
# kit's runtime brings DuckDB and polars with it). Only what the planned steps import is
# warmed: a kernel for a step that imports nothing starts as fast as a bare one.
WARM_IMPORTS: dict[str, tuple[str, ...]] = {
    "dataops_nb": ("dataops_nb", "duckdb", "polars"),
    "duckdb": ("duckdb",),
    "polars": ("polars",),
    "pandas": ("pandas",),
    "pyarrow": ("pyarrow",),
    "numpy": ("numpy",),
    "matplotlib": ("matplotlib.pyplot",),
}


def warm_code(imported: Iterable[str]) -> str:
    """Code importing the heavy libraries among `imported` ("" when none).

    It binds no name in the step's namespace (a step still imports what it uses), and a
    library that is not installed is left for the step itself to report.
    """
    tops = {name.split(".")[0] for name in imported}
    modules = sorted({module for top in tops for module in WARM_IMPORTS.get(top, ())})
    if not modules:
        return ""
    return (
        "def __dataops_warm():\n"
        "    import importlib\n"
        f"    for name in {modules!r}:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except ImportError:\n"
        "            pass\n"
        "__dataops_warm()\n"
        "del __dataops_warm"
    )


def path_code(project: str | Path | None) -> str:
    """Code putting the project's root on the kernel's import path, right after the
    notebook's own folder: a step imports the project's modules from either place."""
    if not project:
        return ""
    root = str(project)
    return (
        "import sys as __dataops_sys\n"
        f"if {root!r} not in __dataops_sys.path:\n"
        f"    __dataops_sys.path.insert(1 if __dataops_sys.path[:1] == [''] else 0, {root!r})\n"
        "del __dataops_sys"
    )


# What a pool warms when it does not know its steps (the papermill engine): the kit's own.
DEFAULT_WARM_CODE = warm_code(["dataops_nb"])


class KernelStartError(DataOpsError):
    exit_code = 1


@dataclass(eq=False)
class Kernel:
    km: Any  # jupyter_client.AsyncKernelManager
    kc: Any  # jupyter_client.AsyncKernelClient
    cwd: str | None = None  # the directory it started in
    context_path: str | None = None  # the context file its environment names (written per step)

    async def run_silently(self, code: str, *, timeout: float = 120) -> None:
        """Execute code that leaves no trace in the notebook (no count, no output)."""
        reply = await self.kc.execute_interactive(
            code, silent=True, store_history=False, timeout=timeout, output_hook=lambda msg: None
        )
        content = reply["content"]
        if content.get("status") != "ok":
            raise KernelStartError(
                f"The kernel could not prepare the step: {content.get('ename')}: {content.get('evalue')}"
            )

    async def receive_secrets(self, values: dict[str, str]) -> None:
        """Put a step's own secrets into this kernel's environment.

        Sent as silent code (no history, no output, nothing in the notebook): the kernel
        started without them, so they are not in its initial environment (/proc/PID/environ)
        either, where a step running beside it could read them.
        """
        if values:
            await self.run_silently(f"import os as __os; __os.environ.update({values!r}); del __os")

    async def stop(self) -> None:
        try:
            self.kc.stop_channels()
            await self.km.shutdown_kernel(now=True)
        except Exception:  # already dead: nothing left to release
            pass
        if self.context_path:
            Path(self.context_path).unlink(missing_ok=True)

    def kill(self) -> None:
        """Stop the kernel process at once (a step that ran past its timeout)."""
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if pid:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


class KernelPool:
    """Keeps up to `warm` kernels ready, never starting more than `budget` in all."""

    def __init__(self, *, warm: int = 1, budget: int | None = None, kernel_name: str = "python3",
                 warm_code: str = DEFAULT_WARM_CODE, cwd: str | None = None,
                 context_env: str | None = None, fork: bool = False,
                 hidden_env: frozenset[str] = frozenset()) -> None:
        self.warm = max(1, warm)
        # variables no kernel (nor the fork server) starts with: a step receives its own
        # secrets when it is assigned a kernel (`Kernel.receive_secrets`)
        self.hidden_env = hidden_env
        self.warm_code = warm_code
        # Kernels start in `cwd` with `context_env` naming a context file of their own: a
        # step in that directory is then prepared by writing the file, with no round trip.
        self.cwd = cwd
        self.context_env = context_env
        self.budget = budget
        self.kernel_name = kernel_name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kernels", daemon=True)
        self._ready: asyncio.Queue[asyncio.Task[Kernel]] | None = None
        self._started = 0
        self._live: set[Kernel] = set()
        self._background: set[asyncio.Task[Any]] = set()
        # Kernels forked from a server that imported ipykernel once (worth it for several)
        self.fork = fork and os.environ.get("DATAOPS_FORK_KERNELS", "1") != "0"
        self._forks: asyncio.Task[Any] | None = None  # the fork server, once a kernel asked for it
        self.cancelled = False  # the run was cancelled: no step gets a kernel any more

    # --- lifecycle (called from any thread) ------------------------------------------

    def start(self) -> KernelPool:
        self._thread.start()
        self.call(self._fill()).result()
        return self

    def call(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule a coroutine on the pool's loop; a concurrent Future for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        if self._thread.is_alive():
            self.call(self._close()).result(timeout=60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    # --- on the loop ----------------------------------------------------------------

    async def _fill(self) -> None:
        if self._ready is None:
            self._ready = asyncio.Queue()
        while self._ready.qsize() < self.warm and (self.budget is None or self._started < self.budget):
            self._started += 1
            self._ready.put_nowait(asyncio.ensure_future(self._spawn()))

    async def _spawn(self) -> Kernel:
        """A started, ready, pre-imported kernel; one more try when the first does not start."""
        try:
            return await self._start_kernel(ready_timeout=READY_TIMEOUT_S)
        except KernelStartError:
            return await self._start_kernel(ready_timeout=READY_TIMEOUT_S)

    async def _start_kernel(self, *, ready_timeout: float) -> Kernel:
        from jupyter_client import AsyncKernelManager

        # Unix sockets, not TCP: no race for free ports between kernels started at once
        # (a lost race leaves a kernel that never answers), and nothing listens on the network.
        sockets = Path(tempfile.gettempdir()) / f"dataops-kernel-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc", ip=str(sockets))
        forks = await self._fork_server(km)
        if forks is not None:  # forked from a process that imported ipykernel already
            from .forkserver import ForkProvisioner

            km.kernel_id = str(uuid.uuid4())
            km.provisioner = ForkProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
            km.provisioner.server = forks
        context_path = f"{sockets}-context.json" if self.context_env else None
        started: dict[str, Any] = {}
        if self.cwd:
            started["cwd"] = self.cwd
        extra = {self.context_env: context_path} if self.context_env and context_path else {}
        started["env"] = kernel_env(os.environ, self.hidden_env, **extra)
        # kernels chatter on stderr when they start; what a step prints reaches its notebook
        try:
            await km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **started)
        except OSError:
            if forks is None:
                raise
            self.fork = False  # the server failed: this kernel and the next ones start as usual
            forks.close()
            return await self._start_kernel(ready_timeout=ready_timeout)
        kc = km.client()
        kc.start_channels()
        kernel = Kernel(km, kc, cwd=self.cwd, context_path=context_path)
        self._live.add(kernel)
        try:
            await kc.wait_for_ready(timeout=ready_timeout)
            if self.warm_code:
                await kernel.run_silently(self.warm_code)
        except Exception as exc:
            await self.release(kernel)
            raise KernelStartError(f"A kernel ({self.kernel_name}) did not start: {exc}") from exc
        return kernel

    async def _fork_server(self, km: Any) -> Any:
        """The fork server for this pool's kernels, or None to start them as usual (a kernel
        spec other than this Python's ipykernel, DATAOPS_FORK_KERNELS=0, or a server that
        did not start)."""
        from .forkserver import ForkServer, forkable

        if not self.fork or not forkable(list(km.kernel_spec.argv)):
            return None
        if self._forks is None:
            async def started() -> ForkServer | None:
                server = ForkServer(env=kernel_env(os.environ, self.hidden_env))
                return server if await asyncio.to_thread(server.ready) else None

            self._forks = asyncio.ensure_future(started())
        return await self._forks

    async def acquire(self) -> Kernel:
        """A ready kernel for one step; another starts warming at once."""
        assert self._ready is not None
        if self.cancelled:
            raise KernelStartError("the run was cancelled before this step started")
        if self._ready.empty():
            self._started += 1
            self._ready.put_nowait(asyncio.ensure_future(self._spawn()))
        task = await self._ready.get()
        await self._fill()
        kernel = await task
        if self.cancelled:  # cancelled while this kernel started: it was not there to interrupt
            await self.release(kernel)
            raise KernelStartError("the run was cancelled before this step started")
        return kernel

    async def interrupt_all(self, grace: float) -> None:
        """Cancel: interrupt every kernel (a step's cell raises KeyboardInterrupt), then kill
        those still running after `grace` seconds; no step starts afterwards."""
        self.cancelled = True
        for kernel in list(self._live):
            try:
                await kernel.km.interrupt_kernel()
            except Exception:  # noqa: BLE001 - a kernel that is gone needs no interrupt
                pass
        deadline = asyncio.get_running_loop().time() + grace
        while self._live and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        for kernel in list(self._live):
            kernel.kill()

    async def release(self, kernel: Kernel) -> None:
        """Shut a used kernel down in the background: the next step need not wait."""
        self._live.discard(kernel)
        job = asyncio.ensure_future(kernel.stop())
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def _close(self) -> None:
        if self._ready is not None:
            while not self._ready.empty():
                task = self._ready.get_nowait()
                try:
                    await self.release(await task)
                except Exception:  # it never started: nothing to stop
                    pass
        for kernel in list(self._live):
            await self.release(kernel)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._forks is not None:
            server = await self._forks
            if server is not None:
                server.close()

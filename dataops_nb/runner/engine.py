"""`papermill --engine dataops`: papermill with a warm kernel waiting for each notebook.

A loop of `papermill.execute_notebook(..., engine_name="dataops")` in one process gets
the next kernel started (and its heavy imports done) while the current notebook runs.
"""

from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from papermill.engines import NBClientEngine

from .kernels import DEFAULT_WARM_CODE


class _WarmKernels:
    """One started kernel kept ready per kernel name; shutdowns happen in the background."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="warm-kernel")
        self._next: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def _start(self, kernel_name: str) -> Any:
        from jupyter_client import KernelManager

        km = KernelManager(kernel_name=kernel_name)
        km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            kc.execute_interactive(DEFAULT_WARM_CODE, silent=True, store_history=False, timeout=120)
        finally:
            kc.stop_channels()
        return km

    def take(self, kernel_name: str, cwd: str) -> Any:
        with self._lock:
            future = self._next.pop(kernel_name, None) or self._pool.submit(self._start, kernel_name)
            self._next[kernel_name] = self._pool.submit(self._start, kernel_name)
        km = future.result()
        kc = km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            kc.execute_interactive(f"import os; os.chdir({cwd!r})", silent=True, store_history=False, timeout=60)
        finally:
            kc.stop_channels()
        return km

    def retire(self, km: Any) -> None:
        self._pool.submit(km.shutdown_kernel, now=True)


_WARM = _WarmKernels()


class DataOpsEngine(NBClientEngine):
    """papermill's nbclient engine, with the kernel started ahead of time."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        if kwargs.get("km") is not None:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        km = _WARM.take(kernel_name or "python3", os.getcwd())
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, km=km, **kwargs)
        finally:
            _WARM.retire(km)

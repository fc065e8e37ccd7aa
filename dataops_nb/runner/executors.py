"""Where steps execute: `local` (warm kernels in this process) or `dask` (a cluster).

Both run the same step function on the same task and return the same outcome, so the
runner, the ledger and the manifests do not care which one ran a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import DataOpsError
from ..store import CONTEXT_ENV
from .execute import StepOutcome, StepTask, execute_step, run_step
from .fingerprint import imported_modules

if TYPE_CHECKING:
    from .kernels import KernelPool


class Executor(Protocol):
    def start(self) -> None: ...

    def submit(self, task: StepTask) -> Future[StepOutcome]: ...

    def cancel(self, grace: float) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Steps on a pool of warm kernels, `jobs` at a time."""

    def __init__(self, *, jobs: int, steps: int, notebooks: Sequence[Path] = (), project: Path | None = None,
                 hidden_env: frozenset[str] = frozenset()) -> None:
        self.jobs, self.steps, self.project = jobs, steps, project
        self.hidden_env = hidden_env
        self.notebooks = list(notebooks)
        self.pool: KernelPool | None = None  # made by the first step to execute

    def start(self) -> None:
        """Nothing yet: kernels start with the first step to execute (a no-op run starts none)."""

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        if self.pool is None:
            from .kernels import KernelPool, path_code, warm_code

            self.pool = KernelPool(
                # one spare beyond the running steps: a kernel takes longer to warm than a short step runs
                warm=min(self.jobs + 1, max(self.steps, 1)),
                budget=self.steps,
                # waiting kernels import the heavy libraries these steps import, and only those
                warm_code="\n".join(filter(None, [
                    path_code(self.project), warm_code(m for nb in self.notebooks for m in imported_modules(nb)),
                ])),
                cwd=_common_directory(self.notebooks), context_env=CONTEXT_ENV, fork=self.steps > 1,
                hidden_env=self.hidden_env,
            ).start()
        return self.pool.call(run_step(self.pool, task))

    def cancel(self, grace: float) -> None:
        """Interrupt the running steps; kill their kernels after `grace` seconds."""
        if self.pool is not None:
            self.pool.call(self.pool.interrupt_all(grace)).result(timeout=grace + 60)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def _common_directory(notebooks: Sequence[Path]) -> str | None:
    """Where most of the steps run: kernels start there (a step elsewhere changes directory)."""
    from collections import Counter

    found = Counter(str(Path(nb).parent) for nb in notebooks).most_common(1)
    return found[0][0] if found else None


class DaskExecutor:
    """Each step is a task on a dask.distributed cluster (a LocalCluster without an address).

    Workers need the project's store on a path they can reach (shared storage) and the
    same Python environment; the task carries absolute paths.
    """

    def __init__(self, *, jobs: int, address: str | None = None) -> None:
        self.jobs, self.address = jobs, address
        self.client: Any = None
        self.cluster: Any = None
        self.remote: list[Any] = []

    def start(self) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise DataOpsError("The dask executor needs dask.distributed: pip install 'dataops-nb[dask]'.") from exc
        if self.address:
            try:
                self.client = Client(self.address, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise DataOpsError(
                    f"--dask-address {self.address}: no Dask scheduler answered there ({exc})."
                ) from exc
        else:
            self.cluster = LocalCluster(
                n_workers=self.jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self.cluster)

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        result: Future[StepOutcome] = Future()
        remote = self.client.submit(execute_step, task, pure=False, key=f"{task.step}-{task.run_id}-{task.attempt}")
        self.remote.append(remote)

        def settle(done: Any) -> None:
            try:
                result.set_result(done.result())
            except BaseException as exc:  # a worker died: the step failed, the run goes on
                result.set_exception(exc)

        remote.add_done_callback(settle)
        return result

    def cancel(self, grace: float) -> None:
        """Cancel the step tasks on the cluster (a running one is stopped with its worker's task)."""
        if self.client is not None and self.remote:
            self.client.cancel(self.remote, force=True)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


EXECUTORS = ("local", "dask")


def make_executor(name: str, *, jobs: int, steps: int, address: str | None = None,
                  notebooks: Sequence[Path] = (), project: Path | None = None,
                  hidden_env: frozenset[str] = frozenset()) -> Executor:
    """`hidden_env`: variables no kernel starts with (a Dask task carries them to its worker)."""
    if name == "local":
        return LocalExecutor(jobs=jobs, steps=steps, notebooks=notebooks, project=project, hidden_env=hidden_env)
    if name == "dask":
        return DaskExecutor(jobs=jobs, address=address)
    from ..errors import NotFoundError

    raise NotFoundError("executor", name, EXECUTORS)

"""What a run takes on, as every layer says it: the steps chosen, the environment, and how to run.

The interfaces' `RunOptions` (parameters as typed; `service.RunOptions`) and the runner's
`RunRequest` (parameters parsed) both extend `RunScope`, so a choice made at the interface reaches
the runner field for field. `RunOptions` is also what a run worker's request carries (as JSON), so a
run the CLI makes in its own process and one the server starts detached are asked for alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class RunScope:
    only: tuple[str, ...] = ()
    start: tuple[str, ...] = ()  # --from: these steps and everything downstream of them
    env: str | None = None
    force: bool = False
    executor: str = "local"
    dask_address: str | None = None

    def scope(self) -> dict[str, Any]:
        """The scope's own fields, as keyword arguments for another kind of scope."""
        return {f.name: getattr(self, f.name) for f in fields(RunScope)}


@dataclass(frozen=True)
class RunOptions(RunScope):
    """What an interface asks of a run, a plan or a status: parameters as typed (`KEY=VALUE`,
    `STEP.KEY=VALUE`), the steps chosen, the environment, and how to run."""

    params: tuple[str, ...] = ()
    jobs: int | None = None  # steps at once; default: the machine's cores
    resume: str | None = None  # redo the unfinished steps of this run, with its parameters

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOptions:
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})

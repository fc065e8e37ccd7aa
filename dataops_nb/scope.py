"""What a run takes on, as every layer says it: the steps chosen, the environment, and how to run.

The interfaces' `service.RunOptions` (parameters as typed) and the runner's `RunRequest`
(parameters parsed) both extend `RunScope`, so a choice made at the interface reaches the runner
field for field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
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

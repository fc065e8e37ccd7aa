"""The executed notebook of a step while it runs: saved after each cell, readable mid-run.

As papermill does, the notebook a step is executing into (`runs/RUN_ID/STEP.ipynb`) is written
when the step starts and again as each code cell starts (so the cells before it are there with
their outputs), and while a cell prints, at most once a second: it can be opened while the step
runs, and `live_state` reads from it which cell is running, since when, and the tail of what it
printed. Every save masks the run's secrets, as the final notebook does, and replaces the file
atomically: a reader never sees half a notebook.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..ledger import now
from ..notebooks import source, write
from ..secrets import Redactor

OUTPUT_SAVE_EVERY_S = 1.0  # while a cell prints, the notebook is saved at most this often
TAIL_LINES = 20
TAIL_CHARS = 4000
ADDED_CELLS = {"injected-parameters", "dataops-error"}  # cells the run adds: not in the source notebook
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LiveNotebook:
    """Saves `nb` to `path` as nbclient executes it (its hooks and its `output` calls)."""

    def __init__(self, nb: Any, path: Path, redactor: Redactor, meta: dict[str, Any]) -> None:
        self.nb, self.path, self.redactor, self.meta = nb, path, redactor, meta
        self.cell: int | None = None
        self.cell_started_at: str | None = None
        self.saved = 0.0
        self.saves = 0
        self._later: Any = None  # a save of outputs that came too soon after the last one

    def save(self) -> None:
        if self._later is not None:  # this save holds what the pending one would have
            self._later.cancel()
            self._later = None
        live = {"cell": self.cell, "cell_started_at": self.cell_started_at, "saved_at": now()}
        self.nb.metadata["dataops"] = {**self.meta, "status": "running", "live": live}
        shown = self.redactor.notebook(_copy(self.nb)) if self.redactor.values else self.nb
        write(self.path, shown)
        self.saved = time.monotonic()
        self.saves += 1

    # nbclient's hooks (keyword arguments)
    def started(self, **_: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.save()

    def cell_starts(self, *, cell_index: int, **_: Any) -> None:
        self.cell, self.cell_started_at = cell_index, now()
        self.save()

    def printed(self) -> None:
        """An output arrived (on the kernel's event loop): saved now, or as soon as the last save
        is `OUTPUT_SAVE_EVERY_S` old."""
        import asyncio

        waited = time.monotonic() - self.saved
        if waited >= OUTPUT_SAVE_EVERY_S:
            self.save()
        elif self._later is None:
            self._later = asyncio.get_running_loop().call_later(OUTPUT_SAVE_EVERY_S - waited, self._flush)

    def _flush(self) -> None:
        self._later = None
        self.save()

    def close(self) -> None:
        """The step is over: no save may follow (the final notebook is written next)."""
        if self._later is not None:
            self._later.cancel()
            self._later = None


def _copy(nb: Any) -> Any:
    import nbformat

    return nbformat.from_dict(nb)


def client(nb: Any, live: LiveNotebook, **kwargs: Any) -> Any:
    """An nbclient `NotebookClient` that keeps `live` saved as it executes `nb`."""
    from nbclient import NotebookClient

    class LiveClient(NotebookClient):
        def output(self, outs: Any, msg: Any, display_id: Any, cell_index: int) -> Any:
            out = super().output(outs, msg, display_id, cell_index)
            live.printed()
            return out

    return LiveClient(nb, on_notebook_start=live.started, on_cell_execute=live.cell_starts, **kwargs)


# --- reading it -------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveState:
    """What a running step's notebook shows: its current cell (numbered as in the source
    notebook), since when, and the tail of the output of the cell that printed last."""

    cell: int | None  # 1-based, among the source notebook's cells
    cells: int
    code: str  # the current cell's first lines
    cell_started_at: str | None
    cell_elapsed_s: float | None
    started_at: str | None
    elapsed_s: float | None
    output_tail: str
    saved_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def live_state(path: Path, *, at: datetime | None = None) -> LiveState | None:
    """The state a step's notebook was saved in (None when it is not there or not readable yet)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = (nb.get("metadata") or {}).get("dataops") or {}
    live = meta.get("live") or {}
    cells = nb.get("cells") or []
    index = live.get("cell")
    ours = [i for i, c in enumerate(cells) if not ADDED_CELLS & set((c.get("metadata") or {}).get("tags") or [])]
    current = cells[index] if isinstance(index, int) and 0 <= index < len(cells) else None
    number = (sum(1 for i in ours if i <= index) if current is not None and index in ours else None)
    moment = at or datetime.now(timezone.utc)
    return LiveState(
        cell=number, cells=len(ours), code="\n".join(source(current).splitlines()[:3]) if current else "",
        cell_started_at=live.get("cell_started_at"), cell_elapsed_s=_since(live.get("cell_started_at"), moment),
        started_at=meta.get("started_at"), elapsed_s=_since(meta.get("started_at"), moment),
        output_tail=_tail(cells, index), saved_at=live.get("saved_at"),
    )


def _since(stamp: Any, moment: datetime) -> float | None:
    try:
        start = datetime.fromisoformat(str(stamp))
    except (TypeError, ValueError):
        return None
    start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    return round(max(0.0, (moment - start).total_seconds()), 1)


def output_text(output: dict[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
    elif kind == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
    else:
        text = (output.get("data") or {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _tail(cells: list[dict[str, Any]], index: Any) -> str:
    """The last lines printed by the current cell, else by the last cell before it that printed."""
    last = index if isinstance(index, int) and 0 <= index < len(cells) else len(cells) - 1
    for cell in reversed(cells[:last + 1]):
        text = "".join(output_text(o) for o in cell.get("outputs") or [])
        if text.strip():
            lines = _ANSI.sub("", text).rstrip("\n").splitlines()
            return "\n".join(lines[-TAIL_LINES:])[-TAIL_CHARS:]
    return ""

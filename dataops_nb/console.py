"""What the user sees of a run: a live table on a terminal, plain lines in CI logs."""

from __future__ import annotations

import re
import sys
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich loads only when something is shown: a quiet run never imports it
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

# what a terminal would act on rather than show: ANSI/OSC sequences start with ESC (or C1)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: Any) -> str:
    """`value` as text a terminal shows literally: control characters as `\\xNN`.

    Everything that comes from data, notebooks, errors or the spec passes through here (or
    `cell`) before it is printed, so a value can neither style the terminal nor link."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def cell(value: Any, style: str | None = None) -> Text:
    """A Rich renderable of `value` that no markup in it can style, link or break."""
    from rich.text import Text

    return Text(plain(value), style=style or "")

STYLES = {
    "pending": "dim",
    "running": "cyan",
    "success": "green",
    "fresh": "green",
    "failed": "red",
    "timed_out": "red",
    "skipped": "yellow",
    "retrying": "magenta",
}


class RunDisplay:
    """A reporter for `Runner`: call it with each run event."""

    def __init__(self, *, live: bool | None = None, quiet: bool = False) -> None:
        self._live_choice = live
        self.quiet = quiet
        self.rows: dict[str, dict[str, Any]] = {}
        self._live: Live | None = None
        self._started: dict[str, float] = {}

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console(stderr=True)

    @cached_property
    def live_mode(self) -> bool:
        if self.quiet:
            return False
        return self.console.is_terminal if self._live_choice is None else self._live_choice

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        step = event.get("step")
        if kind == "waiting":
            self.console.print(cell(f"Waiting for another run to finish ({event['holder']})..."))
        elif kind == "run_started":
            self.rows = {name: {"state": "pending", "attempt": "", "duration": "", "rows": ""} for name in event["steps"]}
            if self.live_mode and not self.quiet:
                from rich.live import Live

                # a renderable that is rebuilt at each refresh: running durations tick
                self._live = Live(get_renderable=self._table, console=self.console, refresh_per_second=8,
                                  transient=False)
                self._live.start()
            elif not self.quiet:
                self.console.print(cell(f"run {event['run_id']}: {len(self.rows)} step(s)"))
        elif step is not None and step in self.rows:
            row = self.rows[step]
            if kind == "step_started":
                row.update(state="running", attempt=str(event.get("attempt", 1)))
                self._started[step] = time.perf_counter()
            elif kind == "step_retry":
                row.update(state="retrying")
            elif kind in ("step_finished", "step_error"):
                row.update(state=event["status"], duration=f"{event['duration_s']:.1f}s", rows=str(event.get("rows") or ""))
            elif kind == "step_skipped":
                row.update(state=event.get("status", "skipped"))
            if not self.live_mode and not self.quiet and kind != "step_started":
                self.console.print(cell(f"  {step}: {row['state']} {row['duration']}".rstrip()))
        if kind == "run_finished" and self._live is not None:
            self._live.update(self._table())
            self._live.stop()
            self._live = None
        elif self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("step", "state", "attempt", "duration", "rows"):
            table.add_column(column, justify="right" if column in ("duration", "rows") else "left")
        now = time.perf_counter()
        for name, row in self.rows.items():
            duration = row["duration"]
            if row["state"] == "running" and name in self._started:
                duration = f"{now - self._started[name]:.1f}s"
            style = STYLES.get(row["state"], "")
            table.add_row(cell(name), cell(row["state"], style), row["attempt"], duration, row["rows"])
        return table


def stdout() -> Console:
    from rich.console import Console

    # piped output (CI logs, `| less`) is not cut to 80 columns
    return Console(file=sys.stdout, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def live_lines(run: dict[str, Any], *, times: bool = True) -> list[str]:
    """A run as it goes (`service.live_run`), as plain lines: each running step's current cell,
    elapsed times (unless not `times`) and the tail of its output; the other steps' status."""
    lines = [f"run {run['run_id']}  {run['status']}  env {run['environment'] or '-'}"]
    for step in run["steps"]:
        live = step["live"]
        if step["status"] != "running" or live is None:
            took = f" ({step['duration_s']:.1f} s)" if step["duration_s"] is not None else ""
            lines.append(f"  {step['step']}: {step['status']}{took}")
            continue
        where = f"cell {live['cell']}/{live['cells']}" if live["cell"] else "starting"
        cell_time = f", this cell {live['cell_elapsed_s']:.1f} s" if live["cell_elapsed_s"] is not None else ""
        step_time = f"{live['elapsed_s']:.1f} s, " if live["elapsed_s"] is not None else ""
        if not times:
            cell_time = step_time = ""
        lines.append(f"  {step['step']}: running {step_time}{where}{cell_time}")
        lines += [f"    > {line}" for line in (live["code"] or "").splitlines()]
        lines += [f"    | {line}" for line in (live["output_tail"] or "").splitlines()]
    return [plain(line) for line in lines]


class RunFollower:
    """Shows successive `live_lines` of a run: redrawn in place on a terminal, new lines only in a log."""

    def __init__(self) -> None:
        self._live: Live | None = None
        self._shown: list[str] = []

    def show(self, lines: list[str], key: list[str]) -> None:
        """Show `lines`; in a log only when `key` (the lines without their ticking times) changed."""
        if sys.stdout.isatty():
            from rich.live import Live
            from rich.text import Text

            text = Text("\n".join(lines))
            if self._live is None:
                self._live = Live(text, console=stdout(), auto_refresh=False)
                self._live.start()
            self._live.update(text, refresh=True)
            return
        if key != self._shown:  # a log gets each new picture once, not one a second
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            self._shown = key

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

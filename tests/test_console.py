"""What a user sees of a run in a terminal: a live table whose running durations tick."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from dataops_nb.console import RunDisplay


def shown(display: RunDisplay) -> str:
    out = Console(file=io.StringIO(), width=100, color_system=None)
    out.print(display._live.renderable)  # what the next refresh draws
    return out.file.getvalue()


def test_live_table_ticks_while_a_step_runs_and_shows_rows_when_done():
    display = RunDisplay(live=True)
    display.__dict__["console"] = Console(file=io.StringIO(), force_terminal=True, width=100)
    display({"event": "run_started", "run_id": "r1", "steps": ["ingest", "clean"]})
    display({"event": "step_started", "step": "ingest", "attempt": 1})
    first = shown(display)
    time.sleep(0.35)
    later = shown(display)
    ticks = [float(re.search(r"ingest\s+running\s+1\s+([\d.]+)s", text).group(1)) for text in (first, later)]
    assert ticks[1] >= ticks[0] + 0.3
    assert re.search(r"clean\s+pending", later)
    display({"event": "step_finished", "step": "ingest", "status": "success", "duration_s": 1.25, "rows": 42})
    assert re.search(r"ingest\s+success\s+1\s+1\.2s\s+42", shown(display))
    display({"event": "run_finished", "run_id": "r1", "status": "success"})
    assert display._live is None


def test_quiet_display_shows_nothing_and_loads_no_terminal_library():
    import subprocess
    import sys

    probe = (
        "import sys; from dataops_nb.console import RunDisplay; d = RunDisplay(quiet=True); "
        "d({'event': 'run_started', 'run_id': 'r', 'steps': ['a']}); "
        "d({'event': 'step_finished', 'step': 'a', 'status': 'success', 'duration_s': 1}); "
        "print('rich' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert (result.stdout.strip(), result.stderr) == ("False", "")

"""How fast the command line answers: `dataops-nb --help` vs the interpreter's own start.

    python bench/cli_bench.py [--quick] [--repeats N]

Also lists the slowest imports of `import dataops_nb.cli` (python -X importtime), so a
MISS says where the time goes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLI, PY, Result, Row, judge, main, repeat, timed  # noqa: E402

SECTION = "cli"
WARMUP = 2


def slowest_imports(module: str, top: int = 8) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time (ms) in `python -X importtime -c 'import module'`."""
    proc = subprocess.run([PY, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True)
    totals: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if not cumulative.isdigit():
            continue
        if not name.startswith(" ") and "." not in name.strip():  # a top-level import (no indent, no dot)
            totals[name.strip()] = max(totals.get(name.strip(), 0.0), int(cumulative) / 1000)
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


def run(args: argparse.Namespace) -> list[Result]:
    script = shutil.which("dataops-nb")
    commands = {
        "dataops-nb --help (console script)": [script, "--help"] if script else None,
        "python -m dataops_nb.cli --help": [*CLI, "--help"],
        "python -c 'import dataops_nb.cli'": [PY, "-c", "import dataops_nb.cli"],
        "python -c pass (floor)": [PY, "-c", "pass"],
    }
    repeats = max(args.repeats, 5)  # cheap: more samples
    rows = []
    for label, command in commands.items():
        if command is None:
            rows.append(Row(label, None, [], "s"))
            continue
        for _ in range(WARMUP):
            timed(command)
        rows.append(Row.of(label, repeat(lambda c=command: timed(c), repeats)))
    judged = rows[0] if rows[0].median is not None else rows[1]
    imports = slowest_imports("dataops_nb.cli")
    notes = ["slowest top-level imports of `import dataops_nb.cli` (cumulative, one run): "
             + ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports)]
    if script is None:
        notes.append("the console script `dataops-nb` is not on PATH: judged `python -m dataops_nb.cli --help`")
    return [Result(
        "dataops-nb --help", "wall time of `dataops-nb --help` (after 2 warm-up runs) vs the interpreter's start",
        rows, judged.median, "seconds", "<= 0.3 s", judge(judged.median, 0.3), notes=notes,
    )]


if __name__ == "__main__":
    main(SECTION, __doc__ or "", run)

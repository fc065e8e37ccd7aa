"""The cost of saving the executed notebook cell by cell while a step runs (runner/live.py).

Runs a real 20-step chain (each step three code cells printing a little, real kernels) through
`dataops-nb run`, then replays, on the notebooks the run produced, every save the run made
(the notebook at each cell start: serialised, secrets masked, written and replaced atomically)
and compares their total time with the run's wall time. Target: at most 5% of the run.

    python bench/live_notebook.py [--steps 20] [--no-write]

Writes its section of bench/RESULTS.md, between `<!-- live-notebook -->` and `<!-- /live-notebook -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from dataops_nb.notebooks import step_notebook
from dataops_nb.runner.live import LiveNotebook
from dataops_nb.secrets import Redactor

TARGET = 0.05
START, END = "<!-- live-notebook -->", "<!-- /live-notebook -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    import nbformat

    with tempfile.TemporaryDirectory(prefix="dataops-live-bench-") as tmp:
        root = Path(tmp)
        (root / "notebooks").mkdir()
        lines = ["name: chain", "steps:"]
        for i in range(args.steps):
            cells = [f"print('step {i} cell {c}', list(range(50)))" for c in range(3)]
            (root / "notebooks" / f"s{i}.ipynb").write_text(json.dumps(step_notebook("x = 1", *cells)))
            lines.append(f"  - {{name: s{i}, notebook: notebooks/s{i}.ipynb" + (f", needs: [s{i - 1}]}}" if i else "}"))
        (root / "dataops.yaml").write_text("\n".join(lines) + "\n")
        env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dataops_nb.cli", "run", "-q"], cwd=root, env=env, check=True,
                       capture_output=True)
        run_s = time.perf_counter() - started
        saves, spent = 0, 0.0
        redactor = Redactor({})
        for path in sorted(root.glob(".dataops/runs/*/s*.ipynb")):
            nb = nbformat.from_dict(json.loads(path.read_text()))
            live = LiveNotebook(nb, path.with_suffix(".replay.ipynb"), redactor, nb.metadata.get("dataops", {}))
            code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            clock = time.perf_counter()
            live.started()
            for index in code:
                live.cell_starts(cell_index=index)
            spent += time.perf_counter() - clock
            saves += live.saves
    share = spent / run_s
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        START, "## live notebook", "",
        (f"A {args.steps}-step chain, three printing code cells a step, real kernels; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, {stamp}. `python bench/live_notebook.py`."), "",
        "| measured | value | target | verdict |", "|---|---|---|---|",
        (f"| {saves} saves of the executed notebooks (start and each cell start), replayed | {spent * 1000:.0f} ms "
        f"| | |"),
        (f"| share of the run's wall time ({run_s:.1f} s) | {share * 100:.2f}% | ≤ {TARGET * 100:g}% "
        f"| {'PASS' if share <= TARGET else 'MISS'} |"), "",
        "Output saves while a cell prints (at most one a second) add nothing here: no cell prints for a second.",
        END])
    print(text)
    if not args.no_write:
        path = BENCH / "RESULTS.md"
        current = path.read_text(encoding="utf-8")
        if START in current and END in current:
            head, rest = current.split(START, 1)
            current = head + text + rest.split(END, 1)[1]
        else:
            current = current.rstrip("\n") + "\n\n" + text + "\n"
        path.write_text(current, encoding="utf-8")
    return 0 if share <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark and rewrite bench/RESULTS.md.

    python bench/run_all.py            # 3 repeats, medians (≈ 10 minutes on 2 cores)
    python bench/run_all.py --quick    # 1 repeat: a smoke run
    python bench/run_all.py --only quality --only cli

Each module also runs alone (python bench/runner.py, store_bench.py, quality.py,
cli_bench.py, ui.py, ui_views.py, catalog.py, ci_bench.py) and then rewrites only its own section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_bench  # noqa: E402
import quality  # noqa: E402
import runner  # noqa: E402
import store_bench  # noqa: E402
import ui  # noqa: E402
from common import PY, RESULTS, STATUS, arguments, clean_work, forget_sections, run_section  # noqa: E402

MODULES = {"runner": runner, "store": store_bench, "quality": quality, "cli": cli_bench, "ui": ui}
# bench/catalog.py stands alone (10,000 datasets in a ledger) and keeps its own section
STANDALONE = {"catalog": Path(__file__).resolve().parent / "catalog.py",
              "monitoring": Path(__file__).resolve().parent / "monitoring.py",
              "live-notebook": Path(__file__).resolve().parent / "live_notebook.py",
              "ci": Path(__file__).resolve().parent / "ci_bench.py",
              "envs": Path(__file__).resolve().parent / "env_bench.py",
              "ui-views": Path(__file__).resolve().parent / "ui_views.py"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = []
    while "--only" in argv:  # --only NAME (repeatable), taken out before the common options
        i = argv.index("--only")
        only.append(argv[i + 1])
        del argv[i : i + 2]
    unknown = [name for name in only if name not in MODULES and name not in STANDALONE]
    if unknown:
        raise SystemExit(f"unknown benchmark module {unknown[0]!r}: choose from {', '.join([*MODULES, *STANDALONE])}")
    args: argparse.Namespace = arguments(__doc__ or "", argv)
    chosen = only or [*MODULES, *STANDALONE]
    if not only:
        forget_sections()  # a full run rewrites RESULTS.md from scratch
    started = time.perf_counter()
    results = []
    for name in chosen:
        if name in STANDALONE:
            subprocess.run([PY, str(STANDALONE[name])], check=True)
            continue
        results += run_section(MODULES[name].SECTION, MODULES[name].run, args)
    if not args.keep:
        clean_work()
    print(f"\n{len(results)} results in {time.perf_counter() - started:.0f} s -> {RESULTS}")
    for r in results:
        value = "—" if r.value is None else f"{r.value:.3g}"
        print(f"  {STATUS[r.passed]:4}  {r.name}: {r.value_label} = {value} (target {r.target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Slim CI on a 50-step chain: one step changed in the middle.

Standalone. Builds a git repository with a 50-step chain (each step reads the dataset of the one
before and publishes its own), builds it in prod, then changes the code of step s25 on a branch and
measures, in the same run:

- `dataops-nb ci` (the changed step and its dependents run into the CI environment, the rest is
  read from prod; checks, the data diffs and the summary included): how many steps it ran and
  how long it took;
- the alternative a CI without fingerprints has: every step run again in the CI environment
  (`dataops-nb run --env ci-full --force`).

Target: ci runs exactly s25 and its 24 dependents (25 steps), and its wall time is at most 0.6x
the full run's (half the steps, plus the fixed costs both pay).

    python bench/ci_bench.py [--steps 50] [--changed 25] [--repeats 3] [--no-write]

Writes its section of bench/RESULTS.md, between `<!-- ci -->` and `<!-- /ci -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from dataops_nb.notebooks import step_notebook

START, END = "<!-- ci -->", "<!-- /ci -->"
RATIO_TARGET = 0.6
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@localhost"}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def build(root: Path, steps: int) -> None:
    """A chain s00 -> s01 -> ... : s00 publishes 1,000 rows, each next step adds one to them."""
    (root / "notebooks").mkdir(parents=True)
    spec = ["name: cibench", "steps:"]
    for i in range(steps):
        name = f"s{i:02d}"
        if i == 0:
            code = 'import dataops_nb as dn\nstep = dn.step()\nstep.publish("bench.s00", "select range as i from range(1000)")'
        else:
            code = (f'import dataops_nb as dn\nstep = dn.step()\n'
                    f'step.publish("bench.{name}", step.sql("select i + 1 as i from bench.s{i - 1:02d}"))')
        (root / "notebooks" / f"{name}.ipynb").write_text(json.dumps(step_notebook("", code), indent=1))
        spec += [f"  - name: {name}", f"    notebook: notebooks/{name}.ipynb"]
        if i:
            spec.append(f"    needs: [s{i - 1:02d}]")
    spec += ["datasets:"] + [f"  bench.s{i:02d}: {{key: [i]}}" for i in range(steps)]
    (root / "dataops.yaml").write_text("\n".join(spec) + "\n")
    (root / ".gitignore").write_text(".dataops/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "chain")


def cli(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its kernels' parents, stdout)."""
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dataops_nb.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, check=False, timeout=1800)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(f"dataops-nb {' '.join(args)} exited {done.returncode}: {done.stderr[-800:]}")
    return elapsed, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--changed", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    changed = f"s{args.changed:02d}"
    expected = args.steps - args.changed  # the changed step and every step after it

    root = Path(tempfile.mkdtemp(prefix="ci-bench-")) / "chain"
    try:
        build(root, args.steps)
        first, _, _ = cli(root, "run", "-q")
        git(root, "checkout", "-qb", "feature")
        path = root / "notebooks" / f"{changed}.ipynb"
        path.write_text(path.read_text().replace("select i + 1 as i", "select i + 2 as i"))
        git(root, "commit", "-qam", f"{changed} adds two")

        ci_wall, ci_cpu, full_wall, full_cpu, loads, ran, deferred = [], [], [], [], [], [], []
        for _ in range(args.repeats):  # alternated, so both see the same load
            loads.append(os.getloadavg()[0])
            wall, cpu, out = cli(root, "--json", "ci", "--env", "ci-bench", "-q")
            result = json.loads(out)
            ci_wall.append(wall)
            ci_cpu.append(cpu)
            ran.append(len(result["ran"]))
            deferred.append(len(result["deferred"]))
            wall, cpu, _ = cli(root, "run", "-q", "--env", "ci-full", "--force")
            full_wall.append(wall)
            full_cpu.append(cpu)
        loads.append(os.getloadavg()[0])
        summary_lines = len(result["summary"].splitlines())
        first_ran = [r["step"] for r in result["ran"]][:2]
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)

    median = statistics.median
    ratio = median(ci_wall) / median(full_wall)
    exact = all(n == expected for n in ran) and all(n == args.changed for n in deferred)
    verdict = "PASS" if exact and ratio <= RATIO_TARGET else "MISS"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    def samples(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    intro = (f"`python bench/ci_bench.py`: a {args.steps}-step chain (each step reads the one before, 1,000 rows), "
             f"built in prod ({first:.1f} s); then the code of {changed} changed on a branch. Python "
             f"{platform.python_version()}, {os.cpu_count()} cores shared with other work (load average "
             f"{min(loads):.1f}-{max(loads):.1f}), {args.repeats} repeats alternated, medians; {stamp}.")
    ci_row = (f"| `dataops-nb ci` (changed step + dependents, rest deferred to prod; checks, diffs, summary) | "
              f"{median(ran):.0f} (deferred {median(deferred):.0f}) | {median(ci_wall):.2f} s | {samples(ci_wall)} | "
              f"{median(ci_cpu):.2f} s |")
    full_row = (f"| full CI run: `dataops-nb run --env ci-full --force` | {args.steps} | {median(full_wall):.2f} s | "
                f"{samples(full_wall)} | {median(full_cpu):.2f} s |")
    judged = (f"**ci ran {median(ran):.0f} steps ({changed} and its {expected - 1} dependents; target exactly "
              f"{expected}); wall ratio ci / full run: {ratio:.2f}** — target <= {RATIO_TARGET} — **{verdict}**")
    note = (f"The first steps ci ran: {', '.join(first_ran)}; its summary was {summary_lines} lines of Markdown with "
            f"a keyed data diff of each of the {expected} datasets it built. CPU is that of the CLI process and what "
            "it waited for (kernels are its children).")
    lines = [
        START,
        "## ci",
        "",
        intro,
        "",
        "| measured | steps run | wall (median) | wall samples (s) | CPU (median) |",
        "|---|---:|---:|---|---:|",
        ci_row,
        full_row,
        "",
        judged,
        "",
        note,
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        results = BENCH / "RESULTS.md"
        current = results.read_text() if results.exists() else ""
        if START in current and END in current:
            head, rest = current.split(START, 1)
            current = head + text + rest.split(END, 1)[1]
        else:
            current = current.rstrip() + "\n\n" + text + "\n"
        results.write_text(current)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

"""Masking PII in a step's error: the kit as it was before its PII values were kept vs now.

A project with a 20,000-row `raw.people` (names tagged PII in the spec; e-mail addresses,
phone numbers and card numbers that the classifier flags), a mart made from it by SQL (its
columns inherit the PII along column lineage) and a step that reads both and fails with a
person's name and address in its message. After one real run, a fresh interpreter of each
code tree (`--before REV`, default the commit before the cache; and this tree) measures:

- the first `step_error` of the process, as `dataops-nb show` or a runs listing pays it;
- every later one (median of 50), as the Jupyter server and the runner's log pay them;
- a runs listing (`service.runs`, 20 runs, each with the failed step) as a reader who may
  not unmask.

Both trees run one after the other on the same project: judge the ratios. Writes its own
`<!-- pii -->` block of bench/RESULTS.md. `python bench/pii_bench.py [--before REV]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work" / "pii"
RESULTS = BENCH / "RESULTS.md"
sys.path.insert(0, str(REPO))

from tests.pii_project import pii_project, pii_spec  # noqa: E402  the PII tests' project and readers

BEFORE = "6f83faf"  # main just before the PII values were kept
ROWS = 20_000
RUNS = 20

SPEC = pii_spec("pii-bench", ["{name: people, notebook: notebooks/people.ipynb}",
                             "{name: mart, notebook: notebooks/mart.ipynb, needs: [people]}",
                             "{name: crash, notebook: notebooks/crash.ipynb, needs: [mart]}"])
PEOPLE = f"""
import polars as pl
import dataops_nb as dn
n = {ROWS}
first = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John"]
dn.step().publish("raw.people", pl.DataFrame({{
    "id": list(range(n)),
    "full_name": [f"{{first[i % 8]}} Person{{i}}" for i in range(n)],
    "email": [f"user{{i}}@example.org" for i in range(n)],
    "phone": [f"+1 415-555-{{i % 10000:04d}}" for i in range(n)],
    "card": ["4111 1111 1111 1111" if i % 2 else "5500-0000-0000-0004" for i in range(n)],
    "city": [["London", "Boston", "Delft"][i % 3] for i in range(n)],
}}))
"""
MART = """
import dataops_nb as dn
dn.step().publish("marts.contacts", "select id, full_name as who, lower(email) as address, city from raw.people")
"""
CRASH = """
import dataops_nb as dn
row = dn.read("marts.contacts").sort("id").row(4321, named=True)
people = dn.read("raw.people").height
raise ValueError(f"no contract for {row['who']} <{row['address']}> among {people} people")
"""

MEASURE = f"""
import json, sys, time
t0 = time.perf_counter()
from dataops_nb import service
from dataops_nb.metadata.pii import step_error
project = service.open_project(sys.argv[1])
run_id = sys.argv[2]
[error] = [s["error"] for s in project.ledger.step_runs(run_id) if s["step"] == "crash"]
cpu = time.process_time()
started = time.perf_counter()
first_text = step_error(project, "bob", run_id, "crash", error)
first = time.perf_counter() - started
later = []
for _ in range(50):
    started = time.perf_counter()
    text = step_error(project, "bob", run_id, "crash", error)
    later.append(time.perf_counter() - started)
assert text == first_text
listings = []
for _ in range(5):
    started = time.perf_counter()
    runs = service.runs(project, {RUNS}, user="bob")
    listings.append(time.perf_counter() - started)
later.sort(); listings.sort()
print(json.dumps({{"first_ms": first * 1000, "later_ms": later[len(later) // 2] * 1000,
                  "listing_ms": listings[len(listings) // 2] * 1000, "cpu_s": time.process_time() - cpu,
                  "runs": len(runs), "masked": first_text}}))
"""


def build(root: Path) -> str:
    shutil.rmtree(root, ignore_errors=True)
    env = {"PYTHONPATH": str(REPO)}
    project = pii_project(root, SPEC, {"people": PEOPLE, "mart": MART, "crash": CRASH}, run_as=None)
    project.cli("run", env={**env, "DATAOPS_USER": "alice"})  # the crash step fails: that is the point
    for _ in range(RUNS - 1):  # more failed runs of the step to list
        project.cli("run", "--only", "crash", env={**env, "DATAOPS_USER": "alice"})
    return latest(root)


def latest(root: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "dataops_nb.cli", "runs", "--json"], cwd=root, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]["run_id"]  # the latest


def tree_of(rev: str) -> Path:
    target = WORK / f"tree-{rev}"
    if not target.is_dir():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "dataops_nb"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def measure(code_tree: Path, project: Path, run_id: str) -> dict:
    # run in the project: `python -c` puts its working directory ahead of PYTHONPATH
    out = subprocess.run([sys.executable, "-c", MEASURE, str(project), run_id], cwd=project, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(code_tree)}, timeout=900, check=False)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the code tree to compare with (a git revision)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="measure on the project the last run built")
    args = parser.parse_args()
    project = WORK / "project"
    started = time.perf_counter()
    run_id = latest(project) if args.reuse and (project / ".dataops").is_dir() else build(project)
    before, after = tree_of(args.before), REPO
    samples: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.repeats):  # interleaved: a noisy moment hits both
        samples["before"].append(measure(before, project, run_id))
        samples["after"].append(measure(after, project, run_id))
    load = os.getloadavg()
    assert samples["before"][0]["masked"] == samples["after"][0]["masked"], samples  # the same text either way

    def median(kind: str, key: str) -> float:
        values = sorted(s[key] for s in samples[kind])
        return values[len(values) // 2]

    rows = []
    for key, label in (("first_ms", "first `step_error` in a process"), ("later_ms", "each later `step_error`"),
                       ("listing_ms", f"runs listing ({RUNS} runs, a failed step each)")):
        b, a = median("before", key), median("after", key)
        rows.append(f"| {label} | {b:.2f} ms | {a:.2f} ms | {a / b:.3f} |")
    text = "\n".join([
        "<!-- pii -->",
        "## Masking PII in step errors (`bench/pii_bench.py`)",
        "",
        (f"A {ROWS:,}-row `raw.people` (a spec-tagged name; e-mail, phone and card columns the classifier flags), "
        "a mart made from it by SQL (inherited PII), and a step that reads both and fails with a name and an "
        f"address in its error. Before = `{args.before}` (each error searched by DuckDB in every PII column "
        "of every file, and PII columns re-derived along lineage on every call); after = this tree (values "
        "indexed once per file, PII columns kept per ledger handle until the catalog changes). Medians of "
        f"{args.repeats} fresh interpreters per tree, interleaved; later calls: median of 50 in each. "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; CPU time of the measured part: "
        f"{median('before', 'cpu_s'):.2f} s before, {median('after', 'cpu_s'):.2f} s after; "
        f"took {time.perf_counter() - started:.0f} s."),
        "",
        "| measured | before | after | ratio after / before |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        ("Both trees give the same masked text (checked). The first call of a process reads each PII column's "
         "distinct values once to index them (dearer than the one search it replaces); every later one reads no "
         "file and runs no query."),
        "<!-- /pii -->",
    ])
    current = RESULTS.read_text()
    block = re.compile(r"<!-- pii -->.*?<!-- /pii -->", re.DOTALL)
    RESULTS.write_text(block.sub(lambda _: text, current) if block.search(current) else current.rstrip() + "\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Shared pieces of the benchmarks: timing, subprocesses, project building, venvs, results.

Every benchmark module (runner.py, store_bench.py, quality.py, cli_bench.py) returns a
list of `Result`s from a `run(repeats)` function; `write_results` merges them into
bench/RESULTS.md (one section per module, so a module run on its own updates only its
own section). Alternatives are measured in the same process run as the kit, and the
tables report ratios: the machines are noisy, ratios are what we compare.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
WORK = BENCH / ".work"  # scratch projects and data (git-ignored); removed at the end of a module
PY = sys.executable
CLI = [PY, "-m", "dataops_nb.cli"]
STATUS = {True: "PASS", False: "MISS", None: "n/a"}


# --- results ---------------------------------------------------------------------------


@dataclass
class Row:
    """One measured thing: its median, every sample, and a unit."""

    label: str
    median: float | None
    samples: list[float] = field(default_factory=list)
    unit: str = "s"

    @classmethod
    def of(cls, label: str, samples: Sequence[float], unit: str = "s") -> Row:
        return cls(label, statistics.median(samples) if samples else None, list(samples), unit)


@dataclass
class Result:
    """One benchmark: what was compared, the measured rows, the ratio against its target."""

    name: str
    compared: str
    rows: list[Row]
    value: float | None  # the number judged against the target (a ratio, seconds, ms ...)
    value_label: str  # e.g. "ratio kit / papermill"
    target: str  # e.g. "<= 0.40 (moonshot 0.25)"
    passed: bool | None  # None: could not be measured
    notes: list[str] = field(default_factory=list)


def judge(value: float | None, limit: float, *, at_least: bool = False) -> bool | None:
    if value is None:
        return None
    return value >= limit if at_least else value <= limit


def ratio(a: Row | float | None, b: Row | float | None) -> float | None:
    a = a.median if isinstance(a, Row) else a
    b = b.median if isinstance(b, Row) else b
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:.3g} {unit}"


def _result_markdown(result: Result) -> str:
    lines = [f"### {result.name}", "", f"Compared: {result.compared}", ""]
    lines += ["| measured | median | samples |", "|---|---:|---|"]
    for row in result.rows:
        samples = ", ".join(fmt(s, row.unit) for s in row.samples)
        lines.append(f"| {row.label} | {fmt(row.median, row.unit)} | {samples} |")
    value = "—" if result.value is None else f"{result.value:.3g}"
    lines += [
        "",
        f"**{result.value_label}: {value}** — target {result.target} — **{STATUS[result.passed]}**",
    ]
    lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def machine() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    info = {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for package in ("dataops-nb", "duckdb", "polars", "pyarrow", "papermill", "nbclient", "jupyter_client", "ipykernel"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = "not installed"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


SECTION = re.compile(r"^<!-- section: (?P<name>[\w-]+) -->\n<!-- summary: (?P<summary>.*) -->\n", re.M)
ORDER = ["runner", "store", "quality", "cli", "ui"]
# Blocks other scripts own (e.g. bench/catalog.py's `<!-- catalog -->...<!-- /catalog -->`): kept as they are.
FOREIGN = re.compile(r"<!-- (?P<tag>[\w-]+) -->.*?<!-- /(?P=tag) -->", re.S)


def write_results(section: str, results: list[Result], *, repeats: int, seconds: float,
                  machine_load: str = "") -> Path:
    """Replace (or add) this module's section of RESULTS.md; refresh the machine and the summary.

    `machine_load`: the CPU time and load average of the run (`MachineLoad.text`), beside its wall time."""
    sections, foreign = _read_sections()
    load = f"; {machine_load}" if machine_load else ""
    body = [f"_{repeats} repeat(s), medians; took {seconds:.0f} s{load}; {_dt.datetime.now():%Y-%m-%d %H:%M}_", ""]
    body += [_result_markdown(r) for r in results]
    summary = [(r.name, r.value_label, r.value, r.target, r.passed) for r in results]
    sections[section] = {"text": "\n".join(body), "summary": summary}
    _write(sections, foreign)
    return RESULTS


def forget_sections() -> None:
    """Start RESULTS.md afresh (a full run): none of our earlier sections survives; foreign blocks do."""
    _write({}, _read_sections()[1])


def _read_sections() -> tuple[dict[str, Any], list[str]]:
    """Our sections already in RESULTS.md (each with its summary rows, kept in a comment),
    and the blocks other scripts wrote there."""
    if not RESULTS.exists():
        return {}, []
    text = RESULTS.read_text()
    foreign = [m.group(0) for m in FOREIGN.finditer(text)]
    text = FOREIGN.sub("", text)
    marks = list(SECTION.finditer(text))
    sections = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[mark.end():end].strip()
        body = body.split("\n", 2)[2] if body.startswith("## ") else body  # drop the heading
        sections[mark["name"]] = {"text": body, "summary": json.loads(mark["summary"])}
    return sections, foreign


def _write(sections: dict[str, Any], foreign: list[str]) -> None:
    info = machine()
    out = [
        "# dataops-nb benchmarks",
        "",
        "Written by `python bench/run_all.py` (each module also runs alone: `python bench/runner.py`,",
        "`bench/store_bench.py`, `bench/quality.py`, `bench/cli_bench.py`). Every comparison is measured",
        "in the same run on the same machine: judge the ratios, not the seconds. Medians over the",
        "repeats; every sample is listed. The machine is shared and noisy (2 cores).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## Summary", "", "| benchmark | judged | value | target | result |", "|---|---|---:|---|---|"]
    names = sorted(sections, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))
    for name in names:
        for bench, label, value, target, passed in sections[name]["summary"]:
            shown = "—" if value is None else f"{value:.3g}"
            out.append(f"| {bench} | {label} | {shown} | {target} | **{STATUS[passed]}** |")
    for name in names:
        out += ["", f"<!-- section: {name} -->", f"<!-- summary: {json.dumps(sections[name]['summary'])} -->",
                f"## {name}", "", sections[name]["text"]]
    out += ["", *foreign] if foreign else []
    RESULTS.write_text("\n".join(out).rstrip() + "\n")


# --- timing ----------------------------------------------------------------------------


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes this process has waited for."""
    times = os.times()
    return times.children_user + times.children_system


def timed(command: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
          check: bool = True, timeout: float = 900, retries: int = 1, cpu: list[float] | None = None) -> float:
    """Wall time of one subprocess, from spawn to exit (its CPU seconds appended to `cpu`, when given:
    on a busy machine the wall time waits for other work, the CPU time does not).

    A failed command is run again (up to `retries` times) and only a successful run is
    timed: kernels now and then lose a race for a TCP port when the machine is busy.
    """
    for attempt in range(retries + 1):
        started, used = time.perf_counter(), children_cpu()
        proc = subprocess.run(list(command), cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
        elapsed = time.perf_counter() - started
        if proc.returncode == 0 or not check:
            if cpu is not None:
                cpu.append(children_cpu() - used)
            return elapsed
        if attempt < retries:
            log(f"retrying after exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1][:160]}")
    raise BenchError(f"{' '.join(map(str, command))[:300]} exited {proc.returncode}:\n"
                     f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def repeat(fn: Callable[[], float], repeats: int, *, setup: Callable[[], Any] | None = None) -> list[float]:
    """`repeats` samples of fn(); setup() runs before each (not timed)."""
    samples = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        samples.append(fn())
    return samples


def python_json(code: str, *, python: str = PY, cwd: Path | None = None, timeout: float = 900,
                env: dict[str, str] | None = None) -> Any:
    """Run code in a fresh interpreter; it prints one JSON document as its last stdout line."""
    proc = subprocess.run([python, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise BenchError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Peak-memory probe: prepended to code run by `python_json`. Samples RSS every 5 ms in a
# thread (psutil when present, /proc otherwise); `peak()` gives the max seen since `mark()`.
MEMORY_PROBE = """
import threading, os, time, resource
def _rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
class _Probe:
    def __init__(self):
        self.base = _rss(); self.top = self.base; self.on = True
        threading.Thread(target=self._loop, daemon=True).start()
    def _loop(self):
        while self.on:
            r = _rss()
            if r > self.top: self.top = r
            time.sleep(0.005)
    def mark(self):
        self.base = _rss(); self.top = self.base
    def peak(self):
        r = _rss()
        if r > self.top: self.top = r
        return self.top - self.base
PROBE = _Probe()
"""


class BenchError(RuntimeError):
    pass


# --- projects --------------------------------------------------------------------------


def notebook_json(parameters: str, *cells: str) -> dict[str, Any]:
    """A step notebook: a cell tagged `parameters` and code cells (the kit's own builder)."""
    from dataops_nb.notebooks import step_notebook

    return step_notebook(parameters, *cells)


def build_project(root: Path, steps: int, *, chain: bool, body: str = "x = n + 1", ploomber: bool = False) -> Path:
    """A fresh project of `steps` trivial notebooks: a chain (each needs the one before) or independent.

    With ploomber=True it also gets a pipeline.yaml whose notebook tasks are the same files
    (the parameters cell then declares `upstream`, as Ploomber requires; the kit ignores it).
    """
    if root.exists():
        shutil.rmtree(root)
    (root / "notebooks").mkdir(parents=True)
    names = [f"s{i:02d}" for i in range(steps)]
    spec = ["name: bench", "steps:"]
    tasks = ["tasks:"]
    for i, name in enumerate(names):
        upstream = [names[i - 1]] if chain and i else []
        params = f"n = {i}"
        if ploomber:
            params += f"\nupstream = {upstream!r}\nproduct = None"
        nb = notebook_json(params, body)
        (root / "notebooks" / f"{name}.ipynb").write_text(json.dumps(nb, indent=1))
        spec += [f"  - name: {name}", f"    notebook: notebooks/{name}.ipynb"]
        if upstream:
            spec.append(f"    needs: [{upstream[0]}]")
        tasks += [f"  - source: notebooks/{name}.ipynb", "    name: " + name,
                  f"    product: {{nb: out/{name}.ipynb}}"]
    (root / "dataops.yaml").write_text("\n".join(spec) + "\n")
    if ploomber:
        (root / "pipeline.yaml").write_text("\n".join(tasks) + "\n")
    return root


def notebooks_of(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


def papermill_loop_code(notebooks: list[Path], outdir: Path, parameters: dict[str, Any] | None = None) -> str:
    """A plain sequential papermill loop: what a user writes without the kit."""
    pairs = [(str(nb), str(outdir / nb.name)) for nb in notebooks]
    return (
        "import papermill as pm, os\n"
        f"os.makedirs({str(outdir)!r}, exist_ok=True)\n"
        f"for src, dst in {pairs!r}:\n"
        "    pm.execute_notebook(src, dst, kernel_name='python3', progress_bar=False,\n"
        f"                        parameters={parameters or {}!r}, cwd=os.path.dirname(src))\n"
    )


def workdir(name: str) -> Path:
    path = WORK / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_work(name: str | None = None) -> None:
    target = WORK / name if name else WORK
    shutil.rmtree(target, ignore_errors=True)


# --- other tools in venvs of their own --------------------------------------------------


def ensure_venv(name: str, requirements: list[str], *, timeout: float = 900) -> tuple[str | None, str]:
    """(python of bench/.venv-NAME with `requirements` installed, "") or (None, why not).

    Cached: a marker file records what was installed; reinstalls only when that changes.
    """
    venv = BENCH / f".venv-{name}"
    python = venv / "bin" / "python"
    marker = venv / ".bench-installed"
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return str(python), ""
    log = BENCH / f".venv-{name}.log"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *requirements],
            capture_output=True, text=True, timeout=timeout,
        )
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
            return None, f"pip install {' '.join(requirements)} failed: " + " / ".join(lines[-3:])
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not create the venv: {exc}"
    marker.write_text(wanted)
    return str(python), ""


def venv_versions(python: str, packages: list[str]) -> dict[str, str]:
    code = (
        "import json\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\n"
        f"for p in {packages!r}:\n"
        "    try: out[p] = version(p)\n"
        "    except PackageNotFoundError: out[p] = 'missing'\n"
        "print(json.dumps(out))"
    )
    try:
        return python_json(code, python=python)
    except BenchError:
        return {}


# --- command line of each module -------------------------------------------------------


def arguments(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default 3, quick 1)")
    parser.add_argument("--keep", action="store_true", help="keep bench/.work (scratch projects and data)")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


def main(section: str, description: str, run: Callable[[argparse.Namespace], list[Result]],
         argv: list[str] | None = None) -> list[Result]:
    """Run one module's benchmarks, print them, write its RESULTS.md section."""
    args = arguments(description, argv)
    return run_section(section, run, args)


def as_installed() -> None:
    """Measure the kit as `pip install` leaves it: bytecode compiled, and used.

    A checkout run with PYTHONDONTWRITEBYTECODE set recompiles every module of the kit on
    each command (about 0.1 s) — a cost no installed user pays, and the alternatives'
    venvs were byte-compiled by pip.
    """
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(str(REPO / "dataops_nb"), quiet=1)


class MachineLoad:
    """The CPU time used (this process and the children it waited for) and the 1-minute load
    average (sampled every few seconds) over a block: what the wall times of a shared machine
    are to be judged by."""

    EVERY_S = 5.0

    def __init__(self) -> None:
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="load-average", daemon=True)

    def _sample(self) -> None:
        while True:
            self.loads.append(os.getloadavg()[0])
            if self._stop.wait(self.EVERY_S):
                return

    def __enter__(self) -> MachineLoad:
        self._wall, self._cpu = time.perf_counter(), self._used()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.loads.append(os.getloadavg()[0])
        self.wall, self.cpu = time.perf_counter() - self._wall, self._used() - self._cpu

    @staticmethod
    def _used() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    @property
    def text(self) -> str:
        loads = sorted(self.loads)
        return (f"CPU {self.cpu:.0f} s (this process and the commands it waited for; servers it started "
                f"not counted) in {self.wall:.0f} s of wall time; load average {loads[0]:.1f} at least, "
                f"{statistics.median(loads):.1f} median, {loads[-1]:.1f} at most ({os.cpu_count()} cores)")


def run_section(section: str, run: Callable[[argparse.Namespace], list[Result]],
                args: argparse.Namespace) -> list[Result]:
    started = time.perf_counter()
    as_installed()
    print(f"== {section} ({args.repeats} repeat(s){', quick' if args.quick else ''})", flush=True)
    try:
        with MachineLoad() as load:
            results = run(args)
    finally:
        if not args.keep:
            clean_work(section)
    for r in results:
        value = "—" if r.value is None else f"{r.value:.3g}"
        print(f"  {r.name}: {r.value_label} = {value} (target {r.target}) {STATUS[r.passed]}", flush=True)
        for note in r.notes:
            print(f"    - {note}", flush=True)
    print(f"  {load.text}", flush=True)
    write_results(section, results, repeats=args.repeats, seconds=time.perf_counter() - started,
                  machine_load=load.text)
    return results


def log(message: str) -> None:
    print(f"  .. {message}", flush=True)


def tempdir(prefix: str) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=WORK))

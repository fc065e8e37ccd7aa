"""The ledger on PostgreSQL vs SQLite, side by side in one run (a throwaway PostgreSQL server,
started here as the tests start theirs; each measurement gets a database of its own).

- ledger operations through the repositories (open, a run of 10 steps, stage and promote,
  record checks, audit, reads, search): per operation, PostgreSQL / SQLite
- the 50-step no-op rebuild (`dataops-nb run -q`, nothing changed): target ratio <= 2
- runner overhead per step (an instrumented 10-step run, as bench/runner.py measures it): ratio <= 1.5
- catalog search over 10,000 datasets on PostgreSQL: p95 <= 20 ms (SQLite alongside)
- the server under load (bench/server_load.py): search p95 <= 100 ms with no errors while a run
  writes, /dataops/pipeline <= 50 ms a call when nothing changed, 8 concurrent calls all 200

    python bench/ledger_bench.py [--quick] [--repeats N]

Writes the `ledger` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import catalog  # noqa: E402
import server_load  # noqa: E402
from common import (  # noqa: E402
    CLI,
    Result,
    Row,
    build_project,
    judge,
    log,
    main,
    python_json,
    ratio,
    repeat,
    timed,
    workdir,
)
from runner import INSTRUMENT, overhead_project  # noqa: E402

from dataops_nb.ledger import Ledger, VersionRecord, now  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402

SECTION = "ledger"
BACKENDS = ("sqlite", "postgresql")
SERVER: PostgresServer | None = None


def pg_url() -> str:
    assert SERVER is not None
    return SERVER.url(SERVER.create_database())


@contextmanager
def backend(name: str) -> Iterator[dict[str, str]]:
    """The environment of a command on this backend: DATAOPS_LEDGER_URL set to a fresh database, or unset."""
    saved = os.environ.pop("DATAOPS_LEDGER_URL", None)
    env = {"DATAOPS_LEDGER_URL": pg_url()} if name == "postgresql" else {}
    os.environ.update(env)
    try:
        yield env
    finally:
        os.environ.pop("DATAOPS_LEDGER_URL", None)
        if saved is not None:
            os.environ["DATAOPS_LEDGER_URL"] = saved


def project_ledger(root: Path, env: dict[str, str]) -> Ledger:
    return Ledger.open(env.get("DATAOPS_LEDGER_URL") or root / ".dataops" / "ledger.db", readonly=True,
                       store_root=root / ".dataops")


# --- ledger operations ------------------------------------------------------------------


def _operations(ledger: Ledger, index: int) -> dict[str, float]:
    """One round of what a run and a reader ask of the ledger; seconds per operation."""
    timings: dict[str, float] = {}

    def time_it(label: str, action: Callable[[], object]) -> None:
        started = time.perf_counter()
        action()
        timings[label] = time.perf_counter() - started

    run_id = f"20261202-120000-{index:03d}abcd"[:23]
    steps = [f"s{i}" for i in range(10)]

    def a_run() -> None:
        ledger.runs.open(run_id, user="bench", params={}, selection=steps, pid=os.getpid(), host="bench")
        for step in steps:
            ledger.runs.set_step(run_id, step, status="running", started_at=now())
            ledger.runs.set_step(run_id, step, status="success", ended_at=now(), duration_s=0.1)
        ledger.runs.end(run_id, "success")

    def publish() -> None:
        with ledger.transaction():
            for step in steps:
                record = VersionRecord(f"raw.{step}@{run_id}", f"raw.{step}", run_id, step,
                                       f"data/raw.{step}/{run_id}.parquet", 10, 100, [{"name": "i", "type": "BIGINT"}],
                                       "staged", now())
                ledger.versions.stage(record, [], description="bench", owner="bench", tags=["core"])
                ledger.checks.record([{"dataset": record.dataset, "version_id": record.version_id,
                                       "check_name": "not_null(i)", "kind": "not_null", "origin": "spec",
                                       "severity": "error", "status": "pass", "observed": 0.0}])
                ledger.versions.transition([record.version_id], "current")

    time_it("a run of 10 steps (open, 20 step updates, end)", a_run)
    time_it("publish 10 versions (stage, check result, promote; one transaction)", publish)
    time_it("audit: 10 entries", lambda: [ledger.audit.append(user="bench", origin="cli", action="review",
                                                                target=run_id, details={"i": i}) for i in range(10)])
    time_it("read: 50 runs with their steps", lambda: [ledger.runs.steps(r.run_id) for r in ledger.runs.recent(50)])
    time_it("read: current versions + check history", lambda: (ledger.versions.current(),
                                                               ledger.checks.history("raw.s0")))
    from dataops_nb.metadata.search import search

    time_it("catalog search (3 queries)", lambda: [search(ledger, q) for q in ("raw", "bench core", "tag:core")])
    return timings


def operations(args: argparse.Namespace) -> Result:
    rounds = 5 if args.quick else 20
    per: dict[str, dict[str, list[float]]] = {}
    opens: dict[str, list[float]] = {}
    for name in BACKENDS:
        with backend(name) as env, tempfile.TemporaryDirectory() as tmp:
            url = env.get("DATAOPS_LEDGER_URL") or Path(tmp) / "ledger.db"
            ledger = Ledger.open(url, store_root=Path(tmp))
            ledger.migrate()
            samples: dict[str, list[float]] = {}
            for i in range(rounds):
                for label, seconds in _operations(ledger, i).items():
                    samples.setdefault(label, []).append(seconds)
            ledger.close()
            opens[name] = repeat(lambda url=url, tmp=tmp: _open_time(url, Path(tmp)), rounds)  # type: ignore[misc]
            per[name] = samples
    rows, ratios = [], []
    labels = ["open the ledger read-only", *per["sqlite"]]
    for label in labels:
        sqlite = opens["sqlite"] if label.startswith("open") else per["sqlite"][label]
        postgres = opens["postgresql"] if label.startswith("open") else per["postgresql"][label]
        rows += [Row.of(f"{label}: SQLite", sqlite), Row.of(f"{label}: PostgreSQL", postgres)]
        ratios.append(ratio(statistics.median(postgres), statistics.median(sqlite)) or 0.0)
    geometric = statistics.geometric_mean([r for r in ratios if r > 0])
    return Result(
        "ledger operations, PostgreSQL vs SQLite",
        f"the repositories' calls a run and a reader make, {rounds} rounds each, in one process; PostgreSQL "
        "on this machine (a local socket, fsync off as in the tests) vs a SQLite file in WAL mode",
        rows, geometric, "geometric mean ratio PostgreSQL / SQLite", "reported (the runner figures are judged)",
        None, notes=[f"{label}: {r:.2f}×" for label, r in zip(labels, ratios)],
    )


def _open_time(url: str | Path, store: Path) -> float:
    started = time.perf_counter()
    Ledger.open(url, readonly=True, store_root=store).close()
    return time.perf_counter() - started


# --- the runner on each backend -----------------------------------------------------------


def noop50(args: argparse.Namespace) -> Result:
    medians: dict[str, Row] = {}
    cpu: dict[str, list[float]] = {name: [] for name in BACKENDS}
    notes = []
    roots = {}
    for name in BACKENDS:
        with backend(name) as env:
            roots[name] = (build_project(workdir(SECTION) / f"chain50-{name}", 50, chain=True), env)
            log(f"noop50 on {name}: first full run (50 steps)")
            timed([*CLI, "run", "-q"], cwd=roots[name][0], env=env)
    samples: dict[str, list[float]] = {name: [] for name in BACKENDS}
    for _ in range(args.repeats):  # the backends alternate: a burst of load on the machine hits both
        for name in BACKENDS:
            root, env = roots[name]
            samples[name].append(timed([*CLI, "run", "-q"], cwd=root, env=env, cpu=cpu[name]))
    for name in BACKENDS:
        root, env = roots[name]
        ledger = project_ledger(root, env)
        statuses = {s.status for s in ledger.runs.steps(ledger.runs.latest_id() or "")}
        ledger.close()
        notes.append(f"{name}: step statuses of the last timed run {sorted(map(str, statuses))} (expected only 'fresh')")
        medians[name] = Row.of(f"dataops-nb run -q, nothing changed, 50-step chain: {name}", samples[name])
    rows = [*medians.values(), *(Row.of(f"CPU time of that command: {name}", cpu[name]) for name in BACKENDS)]
    value = ratio(medians["postgresql"], medians["sqlite"])
    cpu_ratio = ratio(statistics.median(cpu["postgresql"]), statistics.median(cpu["sqlite"])) or 0.0
    notes.append(f"ratio of the commands' CPU time PostgreSQL / SQLite: {cpu_ratio:.2f} (the PostgreSQL server's "
                 "own CPU not counted)")
    return Result("no-op rebuild, 50-step chain: PostgreSQL vs SQLite",
                  "`dataops-nb run -q` after one full run, nothing changed, on each backend (alternating)", rows,
                  value, "ratio PostgreSQL / SQLite", "<= 2", judge(value, 2.0), notes=notes)


# Counts what the run sends to PostgreSQL: each statement `PostgresDatabase` executes (an
# executemany counts its rows, each a statement on the server); inserted into INSTRUMENT.
COUNT_STATEMENTS = """
from dataops_nb.ledger import postgres as _pg
_execute, _executemany = _pg.PostgresDatabase.execute, _pg.PostgresDatabase.executemany
def _counted(self, sql, args=()):
    T["statements"].append(1.0)
    return _execute(self, sql, args)
def _counted_many(self, sql, rows):
    rows = list(rows)
    T["statements"].append(float(len(rows)))
    return _executemany(self, sql, rows)
_pg.PostgresDatabase.execute, _pg.PostgresDatabase.executemany = _counted, _counted_many
"""


def overhead(args: argparse.Namespace) -> Result:
    per_step: dict[str, list[float]] = {}
    statements: list[float] = []
    for name in BACKENDS:
        with backend(name):
            root = overhead_project(workdir(SECTION) / f"overhead-{name}")
            log(f"overhead on {name}: warm-up run")
            timed([*CLI, "run", "-q", "--force", "-j", "1"], cwd=root)
            samples = []
            code = INSTRUMENT
            if name == "postgresql":
                code = INSTRUMENT.replace("T = defaultdict(list)\n", "T = defaultdict(list)\n" + COUNT_STATEMENTS, 1)
            for i in range(args.repeats):
                log(f"overhead on {name}: instrumented run {i + 1}")
                t = python_json(code, cwd=root)
                n = len(t["run_step"])
                worker = sum(t["run_step"]) - sum(t["acquire"]) - sum(t["execute"])
                samples.append((worker + sum(t["task"]) + sum(t["commit"]) + sum(t["is_fresh"])) / n * 1000)
                if "statements" in t:
                    statements.append(sum(t["statements"]) / n)
            per_step[name] = samples
    rows = [Row.of(f"overhead per step: {name}", per_step[name], "ms") for name in BACKENDS]
    value = ratio(rows[1], rows[0])
    notes = []
    if statements:
        notes.append(f"statements sent to PostgreSQL per step (the whole run / its steps): "
                     f"{statistics.median(statements):.0f}")
    return Result("runner overhead per step: PostgreSQL vs SQLite",
                  "an instrumented in-process run (jobs=1, --force) of a 10-step chain publishing 1,000 rows with 3 "
                  "checks a step; overhead as in bench/runner.py (everything but kernel wait and execution)",
                  rows, value, "ratio PostgreSQL / SQLite", "<= 1.5", judge(value, 1.5), notes=notes)


# --- catalog search at scale ---------------------------------------------------------------


def _server_cpu(ledger: Ledger) -> Callable[[], float]:
    """The CPU seconds used so far by the server process of this ledger's connection (0 on SQLite, in process)."""
    if ledger.db.dialect != "postgresql":
        return lambda: 0.0
    stat = Path(f"/proc/{ledger.db.query('SELECT pg_backend_pid()')[0][0]}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    return used


def search10k(args: argparse.Namespace) -> Result:
    count = 2000 if args.quick else 10_000
    rows, p95, notes = [], {}, []
    for name in BACKENDS:
        with backend(name) as env, tempfile.TemporaryDirectory() as tmp:
            log(f"catalog on {name}: {count} datasets")
            ledger, names, build_s = catalog.build(env.get("DATAOPS_LEDGER_URL") or Path(tmp) / "ledger.db", count,
                                                   store_root=Path(tmp))
            # the planner's statistics of the tables just filled, as PostgreSQL's autovacuum gathers them
            # within a minute of a bulk load (measured right after one, before it has: p95 88-137 ms)
            ledger.db.execute("ANALYZE")
            batch = catalog.queries(names, 50 if args.quick else 200)
            server_cpu = _server_cpu(ledger)
            client, server, load = time.process_time(), server_cpu(), os.getloadavg()[0]
            times, _ = catalog.measure(ledger, batch)
            client, server = time.process_time() - client, server_cpu() - server
            ledger.close()
            p95[name] = catalog.percentile(times, 0.95)
            rows += [Row(f"search p50: {name}", statistics.median(times), unit="ms"),
                     Row(f"search p95: {name}", p95[name], unit="ms"),
                     Row(f"building {count} datasets: {name}", build_s)]
            per = 1000 / len(times)
            notes.append(f"{name}: CPU per query {client * per:.2f} ms in this process"
                         + (f" + {server * per:.2f} ms in the server" if name == "postgresql" else "")
                         + f" (a warm-up of 20 included); load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    value = p95["postgresql"]
    return Result(f"catalog search over {count:,} datasets: PostgreSQL (SQLite alongside)",
                  "bench/catalog.py's queries (exact names, prefixes, words, filters) through metadata.search",
                  rows, value, "p95 ms on PostgreSQL", "<= 20 ms", judge(value, 20.0),
                  notes=[f"ratio p95 PostgreSQL / SQLite: {ratio(p95['postgresql'], p95['sqlite']) or 0:.2f}×", *notes])


# --- the server under load --------------------------------------------------------------------


def load(args: argparse.Namespace) -> list[Result]:
    figures: dict[str, dict[str, float]] = {}
    for name in BACKENDS:
        with backend(name) as env:
            log(f"server load on {name}")
            root = server_load.build(workdir(SECTION) / f"load-{name}")
            figures[name] = server_load.measure(root, env, quick=args.quick)
    search_p95 = max(f["search_p95_ms"] for f in figures.values())
    errors = sum(f["search_errors"] for f in figures.values())
    pipeline = max(f["pipeline_ms"] for f in figures.values())
    eight = sum(f["pipeline_8_errors"] for f in figures.values())
    rows_search = []
    rows_pipeline = []
    for name, f in figures.items():
        rows_search += [Row(f"search p50: {name}", f["search_p50_ms"], unit="ms"),
                        Row(f"search p95: {name}", f["search_p95_ms"], unit="ms"),
                        Row(f"search calls / errors: {name}", f["search_errors"], unit=f"errors of {f['search_calls']:.0f}"),
                        Row(f"same load on /api/status (jupyter's floor), p50: {name}", f["floor_p50_ms"], unit="ms"),
                        Row(f"same load on /api/status (jupyter's floor), p95: {name}", f["floor_p95_ms"], unit="ms")]
        rows_pipeline += [Row(f"/dataops/pipeline per call, nothing changed: {name}", f["pipeline_ms"], unit="ms"),
                          Row(f"8 concurrent calls, p95: {name}", f["pipeline_8_p95_ms"], unit="ms"),
                          Row(f"8 concurrent calls, errors: {name}", f["pipeline_8_errors"], unit="errors")]
    return [
        Result("server: catalog search, 50 concurrent clients while a run writes",
               f"{server_load.CLIENTS} clients each calling /dataops/catalog?q= every {server_load.INTERVAL_S} s "
               "against a real jupyter server, a `run --force` loop writing the same ledger", rows_search,
               search_p95, "p95 ms (worse backend)", "<= 100 ms, no errors", judge(search_p95, 100.0) and not errors),
        Result("server: /dataops/pipeline when nothing changed", "one call after the run, then 8 concurrent calls",
               rows_pipeline, pipeline, "ms per call (worse backend)", "<= 50 ms, 8 concurrent all 200",
               judge(pipeline, 50.0) and not eight),
    ]


def run(args: argparse.Namespace) -> list[Result]:
    global SERVER
    SERVER = PostgresServer().start()
    try:
        return [operations(args), noop50(args), overhead(args), search10k(args), *load(args)]
    finally:
        SERVER.stop()


if __name__ == "__main__":
    main(SECTION, __doc__ or "", run)

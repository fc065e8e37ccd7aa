"""The server under load: a real `jupyter server` with the kit's extension, over a project whose
pipeline runs (and so writes the ledger) the whole time.

- catalog search: 50 concurrent clients, each calling /dataops/catalog?q=... every 0.5 s
  (100 calls/s; p50, p95, errors), then the same load on jupyter_server's /api/status (the
  server's own floor on this machine, no kit code in it)
- /dataops/pipeline: the cost of one call when nothing changed (polled every second during a run),
  and 8 concurrent calls (all must answer 200)

    python bench/server_load.py [--quick]

Used by bench/ledger_bench.py, which runs it on each ledger backend.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

from common import PY, notebook_json

TOKEN = "dataops-bench"
CLIENTS, INTERVAL_S = 50, 0.5  # 50 people searching, each a query every half second: 100 calls/s
QUERIES = ["orders", "customer", "tag:core", "owner:sales", "revenue daily", "pii:yes", "ship", "raw.t_0001",
           "marts", "events log"]


def build(root: Path, datasets: int = 300) -> Path:
    """A project: 3 steps that publish, and `datasets` more declared in the spec (the catalog)."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    words = "orders customer revenue daily shipment events log invoice product stock".split()
    spec = ["name: load", "steps:"]
    for i in range(3):
        body = ("import dataops_nb as dn\nstep = dn.step()\n"
                f"step.publish('raw.made_{i}', 'select range as i, range * 2 as j from range(20000)')")
        (root / "notebooks" / f"s{i}.ipynb").write_text(json.dumps(notebook_json("n = 1", body)))
        spec += [f"  - {{name: s{i}, notebook: notebooks/s{i}.ipynb}}"]
    spec.append("datasets:")
    for i in range(datasets):
        schema = ("raw", "staging", "marts")[i % 3]
        spec += [f"  {schema}.t_{i:04d}:",
                 f"    description: {words[i % 10]} {words[(i * 7) % 10]} table number {i}",
                 f"    owner: {('sales', 'ops', 'growth')[i % 3]}",
                 f"    tags: [{('core', 'finance', 'web')[i % 3]}]"]
        if i % 5 == 0:
            spec += ["    columns:", "      email: {tags: [pii]}"]
    (root / "dataops.yaml").write_text("\n".join(spec) + "\n")
    return root


def start_server(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = root.parent
    env = {**os.environ, **env, "HOME": str(base / "home"), "JUPYTER_CONFIG_DIR": str(base / "config"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    process = subprocess.Popen(
        [PY, "-m", "jupyter", "server", "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", "--ServerApp.jpserver_extensions=dataops_nb.server=True"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            code, _ = call(port, "/dataops/settings")
            if code == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("jupyter server did not start")


def call(port: int, path: str, con: http.client.HTTPConnection | None = None) -> tuple[int, float]:
    own = con is None
    con = con or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    con.request("GET", path, headers={"Authorization": f"token {TOKEN}"})
    response = con.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if own:
        con.close()
    return response.status, elapsed


def concurrent(port: int, paths: list[str], clients: int, per_client: int,
               interval: float = 0.0) -> tuple[list[float], list[int]]:
    """`clients` threads, each with its own keep-alive connection, calling `per_client` paths in turn,
    one call every `interval` seconds (a person typing in the search box; 0: back to back)."""
    times: list[float] = []
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        start = time.monotonic() + interval * index / clients  # spread over one interval
        for k in range(per_client):
            pause = start + k * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            path = paths[(index + k) % len(paths)]
            try:
                code, elapsed = call(port, path, con)
            except OSError:
                code, elapsed = 599, 0.0
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                times.append(elapsed)
                codes.append(code)
        con.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, codes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(root: Path, env: dict[str, str], *, quick: bool = False) -> dict[str, float]:
    """Every figure, in ms: search p50/p95/errors under a writing run, pipeline per call, 8 concurrent."""
    subprocess.run([PY, "-m", "dataops_nb.cli", "run", "-q"], cwd=root, env={**os.environ, **env}, check=True,
                   stdout=subprocess.DEVNULL)
    process, port = start_server(root, env)
    writer = None
    stop = threading.Event()
    try:
        search_paths = [f"/dataops/catalog?q={urllib.parse.quote(q)}" for q in QUERIES]
        for path in search_paths + ["/dataops/pipeline"]:  # warm: first calls import and sync
            call(port, path)

        def write_loop() -> None:
            while not stop.is_set():
                subprocess.run([PY, "-m", "dataops_nb.cli", "run", "--force", "-q"], cwd=root,
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        writer = threading.Thread(target=write_loop, daemon=True)
        writer.start()
        time.sleep(1.0)  # the run has started writing
        times, codes = concurrent(port, search_paths, clients=CLIENTS, per_client=10 if quick else 30,
                                  interval=INTERVAL_S)
        # the same load on jupyter_server's own /api/status (no kit code): the floor this machine allows
        floor, _ = concurrent(port, ["/api/status"], clients=CLIENTS, per_client=10 if quick else 30,
                              interval=INTERVAL_S)
        stop.set()
        writer.join(timeout=300)
        writer = None
        pipeline = [call(port, "/dataops/pipeline")[1] for _ in range(5 if quick else 20)]
        eight_times, eight_codes = concurrent(port, ["/dataops/pipeline"], clients=8, per_client=3)
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=30)
    return {
        "search_p50_ms": statistics.median(times) * 1000,
        "search_p95_ms": percentile(times, 0.95) * 1000,
        "search_calls": float(len(codes)),
        "search_errors": float(sum(1 for c in codes if c != 200)),
        "floor_p50_ms": statistics.median(floor) * 1000,
        "floor_p95_ms": percentile(floor, 0.95) * 1000,
        "pipeline_ms": statistics.median(pipeline) * 1000,
        "pipeline_8_errors": float(sum(1 for c in eight_codes if c != 200)),
        "pipeline_8_p95_ms": percentile(eight_times, 0.95) * 1000,
    }


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ledger-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = build(Path(tmp) / "load")
        env = {"DATAOPS_LEDGER_URL": args.ledger_url} if args.ledger_url else {}
        print(json.dumps(measure(project, env, quick=args.quick), indent=1))

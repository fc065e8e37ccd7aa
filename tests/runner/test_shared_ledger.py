"""Two checkouts of one project (standing in for two machines) on one PostgreSQL ledger and one store.

Each checkout runs the real CLI with its own DATAOPS_HOST, so neither can judge the other's
process ids: only the lease in the ledger tells them apart. Leases live DATAOPS_LEASE_TTL=3 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ProjectFactory, run_cli
from .test_lifecycle import wait_for

pytestmark = pytest.mark.slow

SPEC = """
name: {name}
store: {store}
steps:
  - {{name: a, notebook: notebooks/a.ipynb}}
  - {{name: hold, notebook: notebooks/hold.ipynb, needs: [a]}}
"""


class Checkout:
    """One machine's clone of the project: its directory, user and host name."""

    def __init__(self, root: Path, user: str, host: str) -> None:
        self.root, self.env = root, {"DATAOPS_USER": user, "DATAOPS_HOST": host, "DATAOPS_LEASE_TTL": "3"}

    def cli(self, *args: str, check: int | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, env=self.env, check=check)

    def start(self, *args: str, log: Path) -> subprocess.Popen[str]:
        with log.open("w") as handle:
            return subprocess.Popen([sys.executable, "-m", "dataops_nb.cli", "run", *args], cwd=self.root,
                                    stdout=subprocess.DEVNULL, stderr=handle, env={**os.environ, **self.env})

    def runs(self) -> list[dict]:
        return sorted(json.loads(self.cli("runs", "--json", check=0).stdout), key=lambda r: r["run_id"])


def make_checkout(tmp_path: Path, name: str, store: Path, prefix: str) -> Path:
    """A project whose step `hold` publishes, says so in flags/, then waits for flags/release (or `seconds`)."""
    project = ProjectFactory(tmp_path / f"origin-{name}")
    flags = tmp_path / "flags"
    flags.mkdir(exist_ok=True)
    project.notebook("a", "n = 3", f"import dataops_nb as dn\ndn.step().publish('raw.{prefix}a', "
                     "f'select range as i from range({n})')")
    project.notebook(
        "hold", f"seconds = 0\nflags = {str(flags)!r}\ntag = 'x'",
        f"""
        import os, time, dataops_nb as dn
        dn.step().publish("raw.{prefix}held", "select 1 as x")
        open(os.path.join(flags, "started-" + tag), "w").close()
        deadline = time.time() + seconds
        while time.time() < deadline and not os.path.exists(os.path.join(flags, "release")):
            time.sleep(0.05)
        """,
    )
    project.spec(SPEC.format(name=name, store=store))
    return project.root


@pytest.fixture
def machines(tmp_path, pg_url, monkeypatch):
    """Two clones of pipeline `shared` (ann on machine-a, bob on machine-b) and one of pipeline `other`."""
    monkeypatch.setenv("DATAOPS_LEDGER_URL", pg_url)
    store = tmp_path / "shared-store"
    origin = make_checkout(tmp_path, "shared", store, "")
    clones = []
    for machine, user in (("machine-a", "ann"), ("machine-b", "bob")):
        shutil.copytree(origin, tmp_path / machine)
        clones.append(Checkout(tmp_path / machine, user, machine))
    other = Checkout(make_checkout(tmp_path, "other", store, "o"), "cy", "machine-c")
    return tmp_path / "flags", *clones, other


def test_two_checkouts_share_history_and_catalog_and_take_turns(machines, tmp_path):
    flags, a, b, other = machines
    a.cli("run", check=0)
    [first] = b.runs()  # machine b sees machine a's run, and its data in the catalog
    assert first["status"] == "success" and first["user"] == "ann"
    found = json.loads(b.cli("catalog", "search", "raw", "--json", check=0).stdout)
    assert {"raw.a", "raw.held"} <= {hit["name"] for hit in found}

    holding = a.start("--force", "-p", "seconds=300", "-p", "tag=a", log=tmp_path / "a.log")
    try:
        wait_for((flags / "started-a").exists, timeout=180)
        held = next(r for r in a.runs() if r["status"] == "running")
        refused = b.cli("run", "--no-wait")
        assert refused.returncode == 2, refused.stderr
        assert f"Another run is in progress: run {held['run_id']} by ann on machine-a since 20" in refused.stderr
        other.cli("run", check=0)  # another pipeline on the same ledger runs meanwhile

        waiting = b.start("--force", log=tmp_path / "b.log")
        wait_for(lambda: "Waiting for another run" in (tmp_path / "b.log").read_text(), timeout=120)
        (flags / "release").write_text("go")
        assert waiting.wait(timeout=300) == 0, (tmp_path / "b.log").read_text()
    finally:
        (flags / "release").write_text("go")
        holding.wait(timeout=300)
    assert holding.returncode == 0, (tmp_path / "a.log").read_text()

    runs = a.runs()
    assert [(r["user"], r["status"]) for r in runs] == [("ann", "success"), ("ann", "success"), ("cy", "success"),
                                                       ("bob", "success")]
    assert runs[3]["started_at"] >= runs[1]["ended_at"]  # b's run opened once a's had ended
    assert runs == b.runs()
    # nobody overwrote anybody: raw.a has one version per run of `shared`, the last one current
    versions = json.loads(b.cli("catalog", "show", "raw.a", "--json", check=0).stdout)["versions"]
    shown = {v["version"]: v["status"] for v in versions}
    assert shown == {f"raw.a@{runs[0]['run_id']}": "superseded", f"raw.a@{runs[1]['run_id']}": "superseded",
                     f"raw.a@{runs[3]['run_id']}": "current"}


def test_sigkill_of_one_machines_runner_is_recovered_by_the_other(machines, tmp_path):
    flags, a, b, _ = machines
    killed = a.start("-p", "seconds=300", "-p", "tag=a", log=tmp_path / "a.log")
    try:
        wait_for((flags / "started-a").exists, timeout=180)
        [held] = a.runs()
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
        # machine b cannot see machine a's processes: it waits for the lease to expire, then runs
        taken = b.cli("run")
        assert taken.returncode == 0, taken.stderr
    finally:
        (flags / "release").write_text("go")
    dead, recovered = b.runs()
    stored = ProjectFactory(a.root).ledger_rows(f"select status from runs where run_id = '{held['run_id']}'")
    assert stored == [("interrupted",)]  # recorded by machine b's run, not only shown so
    assert dead["run_id"] == held["run_id"]
    assert (dead["status"], recovered["status"], recovered["user"]) == ("interrupted", "success", "bob")
    assert {s["name"]: s["status"] for s in dead["steps"]} == {"a": "success", "hold": "interrupted"}
    versions = json.loads(a.cli("catalog", "show", "raw.held", "--json", check=0).stdout)["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(f"raw.held@{recovered['run_id']}", "current")]

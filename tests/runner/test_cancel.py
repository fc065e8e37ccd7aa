"""`dataops-nb cancel`: a running run stops, commits nothing of its running steps, ends cancelled,
frees the pipeline, and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

SPEC = """
name: slow
steps:
  - {name: fast, notebook: notebooks/fast.ipynb}
  - {name: stubborn, notebook: notebooks/stubborn.ipynb, needs: [fast]}
  - {name: after, notebook: notebooks/after.ipynb, needs: [stubborn]}
"""


def _status(project, sql):
    return project.ledger_rows(sql)


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_cancel_interrupts_kills_after_grace_and_the_run_resumes(project):
    hold = project.root / "hold"
    hold.parent.mkdir(parents=True, exist_ok=True)
    hold.write_text("x")
    project.notebook("fast", "x = 1", "import dataops_nb as dn\ndn.step().publish('raw.fast', 'select 1 as a')")
    # publishes, then holds on and ignores the interrupt: only the kill after the grace period stops it
    project.notebook("stubborn", f"hold = {str(hold)!r}", """
        import os, time
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.stubborn", "select 2 as b")
        while os.path.exists(hold):
            try:
                time.sleep(0.1)
            except KeyboardInterrupt:
                pass
        """)
    project.notebook("after", "x = 1", "import dataops_nb as dn\ndn.step().publish('raw.after', 'select 3 as c')")
    project.spec(SPEC)
    runner = subprocess.Popen([sys.executable, "-m", "dataops_nb.cli", "run", "-j", "1", "-q"], cwd=project.root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        # watched in the run's log, not the ledger: a reader polling a ledger being created races its WAL switch
        _wait_for(lambda: any('"step_started", "step": "stubborn"' in log.read_text()
                              for log in (project.root / ".dataops" / "runs").glob("*/run.log")))
        time.sleep(1.0)  # inside its loop
        result = project.cli("cancel", "--grace", "1s", "--json", check=0)
        done = json.loads(result.stdout)
        assert done["status"] == "cancelled"
        out, err = runner.communicate(timeout=120)
    finally:
        runner.kill()
    assert runner.returncode == 1 and f"run {done['run_id']}: cancelled" in out
    [(status, message)] = _status(project, "select status, message from runs")
    assert status == "cancelled" and "cancelled by" in message
    steps = dict(_status(project, "select step, status from step_runs"))
    assert steps == {"fast": "success", "stubborn": "interrupted", "after": "interrupted"}
    versions = _status(project, "select dataset, status from dataset_versions")
    assert versions == [("raw.fast", "current")]  # what the stopped step staged never became anything
    log = (project.root / ".dataops" / "runs" / done["run_id"] / "run.log").read_text()
    assert '"event": "run_cancelling"' in log

    again = project.cli("cancel", done["run_id"], check=2)
    assert f"Run {done['run_id']} is not running (it is cancelled)" in again.stderr
    none = project.cli("cancel", check=2)
    assert "No run is in progress" in none.stderr

    hold.unlink()  # the pipeline is free again, and the cancelled run resumes what it did not finish
    resumed = project.cli("run", "--resume", done["run_id"], "--no-wait", "--json", check=0)
    assert {s["name"]: s["status"] for s in json.loads(resumed.stdout)["steps"]} == {
        "stubborn": "success", "after": "success"}

"""Timeouts, retries, resume, one run at a time, and a runner killed mid-step."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest


def runs(project) -> list[dict]:
    return json.loads(project.cli("runs", "--json", check=0).stdout)


def test_timeout_stops_the_kernel_and_marks_timed_out(project):
    project.notebook("slow", "seconds = 60", "import time\ntime.sleep(seconds)")
    project.spec("name: t\nsteps:\n  - {name: slow, notebook: notebooks/slow.ipynb, timeout: 2s}\n")
    started = time.monotonic()
    result = project.cli("run")
    assert time.monotonic() - started < 45  # the kernel was stopped, not waited for
    assert result.returncode == 1 and "timed_out" in result.stderr and "timed out after 2 s" in result.stderr
    [run] = runs(project)
    assert run["steps"][0]["status"] == "timed_out"


def test_retries_keep_each_attempts_notebook(project):
    # fails on the first attempt, succeeds on the second (a marker file counts attempts)
    project.notebook(
        "flaky",
        "x = 1",
        """
        from pathlib import Path
        marker = Path("attempts.txt")
        marker.write_text(marker.read_text() + "x" if marker.exists() else "x")
        assert len(marker.read_text()) >= 2, "first attempt fails"
        """,
    )
    project.spec("name: r\nsteps:\n  - {name: flaky, notebook: notebooks/flaky.ipynb, retries: 2}\n")
    project.cli("run", check=0)
    [run] = runs(project)
    step = run["steps"][0]
    assert step["status"] == "success" and step["attempt"] == 2
    folder = project.root / ".dataops" / "runs" / run["run_id"]
    assert (folder / "flaky.ipynb").is_file()
    first = json.loads((folder / "flaky.attempt-1.ipynb").read_text())
    assert "first attempt fails" in json.dumps(first)
    log = [json.loads(line)["event"] for line in (folder / "run.log").read_text().splitlines()]
    assert log.count("step_retry") == 1


def test_resume_runs_only_unfinished_steps(project):
    project.notebook("a", "n = 3", "import dataops_nb as dn\ndn.step().publish('raw.a', f'select range as i from range({n})')")
    project.notebook(
        "b", "fail = True",
        "import dataops_nb as dn\nassert not fail, 'b is broken'\ndn.step().publish('raw.b', 'select count(*) as c from raw.a')",
    )
    project.notebook("c", "x = 1", "import dataops_nb as dn\ndn.step().read('raw.b')")
    project.spec(
        """
        name: res
        steps:
          - {name: a, notebook: notebooks/a.ipynb, params: {n: 4}}
          - {name: b, notebook: notebooks/b.ipynb, needs: [a]}
          - {name: c, notebook: notebooks/c.ipynb, needs: [b]}
        """
    )
    assert project.cli("run").returncode == 1
    [failed] = runs(project)
    assert [s["status"] for s in failed["steps"]] == ["success", "failed", "skipped"]
    assert failed["resume"] == f"dataops-nb run --resume {failed['run_id']}"
    shown = project.cli("show", failed["run_id"], check=0).stdout
    assert f"to redo its unfinished steps: dataops-nb run --resume {failed['run_id']}" in shown
    # fix the notebook, then resume
    nb_path = project.root / "notebooks" / "b.ipynb"
    nb_path.write_text(nb_path.read_text().replace("fail = True", "fail = False"))
    project.cli("run", "--resume", failed["run_id"], check=0)
    resumed, failed = runs(project)
    assert resumed["resumed_from"] == failed["run_id"]
    # the old run stays failed; the link shows both ways, and it is no longer offered for resuming
    assert failed["status"] == "failed" and failed["resumed_by"] == [resumed["run_id"]] and failed["resume"] is None
    listing = project.cli("runs", env={"COLUMNS": "250"}, check=0).stdout
    assert f"by {resumed['run_id']}" in listing and f"from {failed['run_id']}" in listing
    shown = project.cli("show", failed["run_id"], check=0).stdout
    assert f"resumed by run {resumed['run_id']} (dataops-nb show {resumed['run_id']})" in shown
    assert "to redo" not in shown
    shown = project.cli("show", resumed["run_id"], check=0).stdout
    assert f"resumes run {failed['run_id']} (dataops-nb show {failed['run_id']})" in shown
    assert [(s["name"], s["status"]) for s in resumed["steps"]] == [("b", "success"), ("c", "success")]
    assert project.ledger_rows("select rows from dataset_versions where dataset = 'raw.a'") == [(4,)]
    result = project.cli("run", "--resume", resumed["run_id"])
    assert result.returncode == 2 and "nothing to resume" in result.stderr


def start_run(project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dataops_nb.cli", "run", "-q", *args],
        cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def slow_project(project):
    project.notebook(
        "a", "n = 3", "import dataops_nb as dn\ndn.step().publish('raw.a', f'select range as i from range({n})')"
    )
    project.notebook(
        "slow", "seconds = 30",
        """
        import os, time, dataops_nb as dn
        step = dn.step()
        step.publish("raw.slow", "select 1 as x")
        open("published.flag", "w").close()
        deadline = time.time() + (0 if os.environ.get("SLOW_STEP_FAST") else seconds)
        while time.time() < deadline and not os.path.exists("release.flag"):
            time.sleep(0.05)
        """,
    )
    project.spec(
        """
        name: crash
        steps:
          - {name: a, notebook: notebooks/a.ipynb}
          - {name: slow, notebook: notebooks/slow.ipynb, needs: [a]}
        """
    )
    return project


def test_sigkill_mid_step_leaves_nothing_half_done(slow_project):
    project = slow_project
    flag = project.root / "notebooks" / "published.flag"
    runner = start_run(project)
    wait_for(flag.exists)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    flag.unlink()

    [run] = runs(project)  # the next command notices the dead run
    assert run["status"] == "interrupted"
    assert {s["name"]: s["status"] for s in run["steps"]} == {"a": "success", "slow": "interrupted"}
    current = project.ledger_rows("select dataset from dataset_versions where status = 'current'")
    assert current == [("raw.a",)]  # the staged raw.slow never became readable
    con = sqlite3.connect(project.root / ".dataops" / "ledger.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()

    resumed = project.cli("run", "--resume", run["run_id"], env={"SLOW_STEP_FAST": "1"})
    assert resumed.returncode == 0, resumed.stderr
    latest = runs(project)[0]
    assert [(s["name"], s["status"]) for s in latest["steps"]] == [("slow", "success")]
    assert sorted(project.ledger_rows("select dataset from dataset_versions where status = 'current'")) == [
        ("raw.a",), ("raw.slow",)
    ]


def test_second_run_waits_or_fails_with_no_wait(slow_project, tmp_path):
    project = slow_project
    flag = project.root / "notebooks" / "published.flag"
    runner = start_run(project, "-p", "seconds=300")  # holds the run until release.flag exists
    try:
        wait_for(flag.exists)
        refused = project.cli("run", "--no-wait")
        assert refused.returncode == 2 and "Another run is in progress: run 20" in refused.stderr
        log = tmp_path / "waiting.log"
        with log.open("w") as handle:
            waiting = subprocess.Popen([sys.executable, "-m", "dataops_nb.cli", "run", "--force", "-p", "seconds=0"],
                                       cwd=project.root, stdout=subprocess.DEVNULL, stderr=handle, text=True)
        wait_for(lambda: "Waiting for another run" in log.read_text(), timeout=120)
        (project.root / "notebooks" / "release.flag").write_text("go")
        assert waiting.wait(timeout=300) == 0, log.read_text()
    finally:
        (project.root / "notebooks" / "release.flag").write_text("go")
        runner.wait(timeout=120)
    assert runner.returncode == 0
    first, second = sorted(runs(project), key=lambda r: r["run_id"])
    assert [first["status"], second["status"]] == ["success", "success"]
    assert second["started_at"] >= first["ended_at"]  # the second run opened once the first had ended


def test_ctrl_c_mid_step_marks_the_run_and_its_steps_interrupted(slow_project):
    project = slow_project
    flag = project.root / "notebooks" / "published.flag"
    runner = start_run(project)
    wait_for(flag.exists)
    runner.send_signal(signal.SIGINT)
    runner.wait(timeout=60)
    flag.unlink()
    assert runner.returncode != 0
    [run] = runs(project)
    assert run["status"] == "interrupted"
    assert {s["name"]: s["status"] for s in run["steps"]} == {"a": "success", "slow": "interrupted"}
    assert project.ledger_rows("select dataset from dataset_versions where status = 'current'") == [("raw.a",)]


def test_unreachable_dask_scheduler_is_one_sentence_and_opens_no_run(slow_project):
    project = slow_project
    project.cli("run", "--only", "a", check=0)
    before = runs(project)
    result = project.cli("run", "--executor", "dask", "--dask-address", "tcp://127.0.0.1:9", "--force")
    assert result.returncode == 2, result.stderr
    assert "--dask-address tcp://127.0.0.1:9: no Dask scheduler answered there" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert runs(project) == before

"""Notifications of a run through apprise to a real local HTTP endpoint (json://)."""

from __future__ import annotations

import json
import socket

from ..conftest import ProjectFactory
from .sink import AlertSink

TOKEN = "tok-Zq8v1XbLw93Ka"  # a step's secret: never in a message
SPEC = """
name: alerts
steps:
  - {name: make, notebook: notebooks/make.ipynb, params: {token: {secret: ALERTS_TOKEN}}}
  - {name: boom, notebook: notebooks/boom.ipynb, needs: [make]}
datasets:
  raw.people:
    owner: data-eng
    columns:
      email: {tags: [pii]}
      nickname: {checks: [not_null]}
    checks:
      - row_count: {min: 100, severity: warn}
notify:
  channels: {data-eng: {url_env: DATAENG_URL, timeout: 5}, oncall: {url_env: ONCALL_URL}}
  rules:
    - {on: [run_failed, step_failed, error_check, quarantine], to: owners}
    - {on: [warn_check], to: [data-eng]}
    - {on: [run_failed], to: [oncall]}
owners: {data-eng: {notify: [data-eng]}}
"""


def alerting_project(project: ProjectFactory, spec: str = SPEC) -> ProjectFactory:
    project.notebook(
        "make", "token = None",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.people", "select range as id, 'alice@example.com' as email, "
                     "case when range < 3 then null else 'x' end as nickname from range(10)")
        """,
    )
    project.notebook("boom", "x = 1", 'raise ValueError("no such person: bob.smith@example.org")')
    project.spec(spec)
    return project


def test_a_failing_run_tells_the_owners_what_and_where_without_secrets_or_pii(project):
    alerting_project(project)
    with AlertSink() as sink:
        result = project.cli("run", "-j", "1", env={"DATAENG_URL": sink.url("hooks/data-eng"), "ALERTS_TOKEN": TOKEN})
        assert result.returncode == 1, result.stderr
        run_id = json.loads(project.cli("runs", "--json", check=0).stdout)[0]["run_id"]

    by_title = {m["title"]: m for m in sink.received}
    assert set(by_title) == {
        "[alerts] warn check failed: raw.people", "[alerts] error check failed: raw.people",
        "[alerts] versions quarantined: make", "[alerts] step failed: make", "[alerts] run failed",
    }, sink.titles()
    error = by_title["[alerts] error check failed: raw.people"]
    assert error["type"] == "failure"
    lines = error["message"].splitlines()
    assert f"run: {run_id}" in lines and "step: make" in lines and "dataset: raw.people" in lines
    assert "check: not_null(nickname)" in lines or any(line.startswith("check: not_null") for line in lines)
    assert "failing rows: 3 of 10" in lines
    report = next(line for line in lines if line.startswith("report: "))
    assert report.endswith(f"/.dataops/reports/{run_id}.html")
    assert (project.root / ".dataops" / "reports" / f"{run_id}.html").is_file()  # the link resolves
    assert "failed step(s): make" in by_title["[alerts] run failed"]["message"]
    assert by_title["[alerts] warn check failed: raw.people"]["type"] == "warning"
    # the boom step was skipped (make failed its gate): nothing ran that could mention bob
    everything = b"".join(sink.raw)
    assert b"alice@example.com" not in everything and TOKEN.encode() not in everything
    assert set(sink.paths) == {"/hooks/data-eng"}

    # the unset channel of the rule: a warning in the run, recorded, never a failure of its own
    assert "warning: notification 'run_failed' to channel 'oncall' not sent: the environment variable ONCALL_URL is not set" in result.stdout
    rows = project.ledger_rows("select event, channel, status, attempts, run_id from notifications order by id")
    assert ("run_failed", "oncall", "unset", 0, run_id) in rows
    assert sorted(r[0] for r in rows if r[2] == "sent") == [
        "error_check", "quarantine", "run_failed", "step_failed", "warn_check"]
    log = (project.root / ".dataops" / "runs" / run_id / "run.log").read_text()
    assert [json.loads(line)["alert"] for line in log.splitlines() if '"notification"' in line].count("run_failed") == 2
    port = str(sink.port)
    assert port not in log and all(port not in str(row) for row in project.ledger_rows("select * from notifications"))


def test_a_step_error_is_one_line_with_personal_data_masked(project):
    alerting_project(project, SPEC.replace("nickname: {checks: [not_null]}", "nickname: {}"))
    with AlertSink() as sink:
        project.cli("run", "-j", "1", env={"DATAENG_URL": sink.url(), "ALERTS_TOKEN": TOKEN}, check=1)
    [failed] = [m for m in sink.received if m["title"] == "[alerts] step failed: boom"]
    assert "ValueError: no such person: ********" in failed["message"]
    assert b"bob.smith@example.org" not in b"".join(sink.raw)
    # `to: owners` for a step that never published: the owners of what the run published
    assert "[alerts] run failed" in sink.titles()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


ONE_STEP = """
name: alerts
steps:
  - {name: make, notebook: notebooks/make.ipynb}
notify:
  channels: {flaky: {url_env: FLAKY_URL, timeout: 5}, dead: {url_env: DEAD_URL, timeout: 2}}
  rules:
    - {on: [run_succeeded], to: [flaky, dead]}
"""


def test_a_failed_send_is_retried_once_logged_and_never_fails_the_run(project):
    project.notebook("make", "x = 1", "import dataops_nb as dn\ndn.step().publish('raw.one', 'select 1 as a')")
    project.spec(ONE_STEP)
    with AlertSink(fail_first=1) as sink:
        result = project.cli("run", env={"FLAKY_URL": sink.url(), "DEAD_URL": f"json://127.0.0.1:{_closed_port()}/x"})
    assert result.returncode == 0, result.stderr
    assert len(sink.raw) == 2 and sink.titles() == ["[alerts] run succeeded"]  # the retry got through
    assert sink.received[0]["type"] == "success"
    rows = project.ledger_rows("select channel, status, attempts, error from notifications order by channel")
    assert rows[0][:3] == ("dead", "failed", 2) and "could not be reached" in rows[0][3]
    assert rows[1] == ("flaky", "sent", 2, None)
    run_id = json.loads(project.cli("runs", "--json", check=0).stdout)[0]["run_id"]
    log = [json.loads(line) for line in (project.root / ".dataops" / "runs" / run_id / "run.log").read_text().splitlines()]
    assert {(e["channel"], e["status"]) for e in log if e["event"] == "notification"} == {("dead", "failed"), ("flaky", "sent")}


def test_notify_test_sends_one_message_and_refuses_what_it_cannot_send(project):
    project.notebook("make", "x = 1", "pass")
    project.spec(ONE_STEP)
    with AlertSink() as sink:
        result = project.cli("notify", "test", "flaky", "--json", env={"FLAKY_URL": sink.url()}, check=0)
    assert json.loads(result.stdout)["status"] == "sent"
    [message] = sink.received
    assert message["title"] == "[alerts] test message" and "notify test flaky" in message["message"]

    unknown = project.cli("notify", "test", "flakey", check=2)
    assert "Unknown notification channel 'flakey' (did you mean 'flaky'?)" in unknown.stderr
    unset = project.cli("notify", "test", "flaky", env={"FLAKY_URL": ""}, check=2)
    assert "the environment variable FLAKY_URL is not set" in unset.stderr and "Traceback" not in unset.stderr
    dead = project.cli("notify", "test", "dead", env={"DEAD_URL": f"json://127.0.0.1:{_closed_port()}/x"}, check=1)
    assert "was not sent: the service refused the message or could not be reached" in dead.stderr

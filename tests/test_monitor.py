"""`dataops-nb monitor`: freshness, row-count anomalies and an overdue schedule, judged over a real
ledger (SQLite and PostgreSQL), notified once per breach and again on recovery, exit 1 on an error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dataops_nb.project import Project

from .notify.sink import AlertSink
from .seed import publish, run_id

SPEC = """
name: watched
schedule: '@daily'
environments: {test: {}}
steps: []
datasets:
  raw.events:
    owner: data-eng
    freshness: {column: ts, warn_after: 1d, error_after: 7d}
notify:
  channels: {data-eng: {url_env: DATAENG_URL}}
  rules:
    - {on: [freshness_error, pipeline_overdue], to: owners}
    - {on: [freshness_error, volume_anomaly, pipeline_overdue], to: [data-eng]}
owners: {data-eng: {notify: [data-eng]}}
"""
SLA = {"column": "ts", "warn_after": 86400.0, "error_after": 604800.0}


def _monitor(project, sink, *args, check):
    result = project.cli("monitor", "--json", *args, env={"DATAENG_URL": sink.url()}, check=check)
    return json.loads(result.stdout)


def test_monitor_notifies_once_per_breach_and_on_recovery(project, ledger_backend):
    project.spec(SPEC)
    ledger = Project(project.root).writable_ledger()
    now = datetime.now(timezone.utc)
    publish(ledger, "raw.events", run_id(1), rows=100, newest=now - timedelta(days=10), freshness=SLA, owner="data-eng")
    for index, rows in enumerate([100, 101, 99, 100, 102, 100, 9]):
        publish(ledger, "raw.volume", run_id(10 + index), rows=rows, newest=now)

    with AlertSink() as sink:
        first = _monitor(project, sink, check=1)
        found = {(f["kind"], f["subject"]): f for f in first["findings"]}
        assert found[("freshness", "raw.events")]["status"] == "error"
        assert "past error_after 7.0 d" in found[("freshness", "raw.events")]["message"]
        assert found[("volume", "raw.volume")]["status"] == "warn"
        assert found[("volume", "raw.volume")]["message"].startswith("9 rows vs median 100")
        assert found[("overdue", "pipeline")]["status"] == "error"
        assert "no successful run yet" in found[("overdue", "pipeline")]["message"]
        assert {f["change"] for f in first["findings"]} == {"breach"}
        assert sorted(sink.titles()) == [
            "[watched (prod)] data is stale: raw.events", "[watched (prod)] pipeline overdue",
            "[watched (prod)] row count anomaly: raw.volume",
        ]  # one message each: the owner's channel and the rule's channel are the same one
        stale = next(m for m in sink.received if m["title"] == "[watched (prod)] data is stale: raw.events")
        assert "dataset: raw.events" in stale["message"] and "10.0 d old (max(ts))" in stale["message"]

        again = _monitor(project, sink, check=1)  # nothing changed: nothing sent
        assert again["changed"] == 0 and len(sink.received) == 3 and again["notifications"] == []

        publish(ledger, "raw.events", run_id(2), rows=100, newest=now, freshness=SLA, owner="data-eng")
        ledger.runs.open(run_id(3), environment=None)
        ledger.runs.end(run_id(3), "success")
        recovered = _monitor(project, sink, check=0)
    assert recovered["status"] == "warn"  # the volume anomaly is still there, and only a warning
    assert {(f["kind"], f["change"]) for f in recovered["findings"]} == {
        ("freshness", "recovered"), ("overdue", "recovered"), ("volume", None)}
    assert sorted(sink.titles()[3:]) == ["[watched (prod)] recovered: data is stale: raw.events",
                                         "[watched (prod)] recovered: pipeline overdue"]
    assert all(m["type"] == "success" for m in sink.received[3:])
    sweeps = project.ledger_rows("select checked, warn, error, changed from monitor_sweeps order by id")
    assert sweeps == [(3, 1, 2, 3), (3, 1, 2, 0), (3, 1, 0, 2)]


def test_monitor_by_environment_and_its_bad_input(project):
    project.spec(SPEC)
    with AlertSink() as sink:
        found = _monitor(project, sink, "--env", "test", check=1)
        assert found["environment"] == "test"
        assert [(f["subject"], f["status"]) for f in found["findings"]] == [("raw.events", "error"), ("pipeline", "error")]
        assert "no current version" in found["findings"][0]["message"]
        unknown = project.cli("monitor", "--env", "tset", check=2)
        assert "Unknown environment 'tset' (did you mean 'test'?)" in unknown.stderr
        bad = project.cli("monitor", "--grace", "soon", check=2)
        assert "--grace" in bad.stderr and "'soon' is not a duration" in bad.stderr

        # each environment judges its own current versions (and its base's for what it does not build)
        ledger = Project(project.root).writable_ledger()
        now = datetime.now(timezone.utc)
        publish(ledger, "raw.events", run_id(1), rows=5, newest=now, freshness=SLA, owner="data-eng")
        publish(ledger, "raw.events", run_id(2), rows=5, newest=now - timedelta(days=9), freshness=SLA,
                owner="data-eng", environment="test")
        publish(ledger, "raw.base", run_id(3), rows=5, newest=now - timedelta(days=2), freshness=SLA)
        ledger.runs.open(run_id(4), environment="prod")
        ledger.runs.end(run_id(4), "success")
        prod = _monitor(project, sink, check=0)
        test = _monitor(project, sink, "--env", "test", check=1)
    assert prod["environment"] == "prod"
    assert {(f["subject"], f["status"]) for f in prod["findings"]} == {("raw.base", "warn")}
    assert {(f["subject"], f["status"]) for f in test["findings"]} == {
        ("raw.events", "error"), ("raw.base", "warn"), ("pipeline", "error")}  # no run of its own in test
    assert "[watched (test)] data is stale: raw.events" in sink.titles()

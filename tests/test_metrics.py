"""`dataops-nb metrics`: Prometheus' text format, parsed back with prometheus_client's parser."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from dataops_nb.project import Project

from .metrics_data import fill
from .seed import publish, run_id

SPEC = "name: shop\nsteps: []\n"


def families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family, name: str | None = None) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if name is None or s.name == name}


def check_exposition(text: str) -> dict[str, object]:
    """The families and their types, the naming rules, and label values without run ids."""
    found = families(text)
    assert {name: f.type for name, f in found.items()} == {
        "dataops_runs": "counter", "dataops_step_duration_seconds": "histogram", "dataops_rows_published": "counter",
        "dataops_check_results": "counter", "dataops_open_failures": "gauge",
        "dataops_dataset_freshness_age_seconds": "gauge", "dataops_dataset_freshness_threshold_seconds": "gauge",
        "dataops_last_successful_run_timestamp_seconds": "gauge",
    }
    for family in found.values():
        for sample in family.samples:
            assert sample.labels["pipeline"] == "shop"
            assert all(run_id(1)[:8] not in value and "@" not in value for value in sample.labels.values())
    return found


def test_metrics_of_a_ledger(project, ledger_backend):
    project.spec(SPEC)
    fill(Project(project.root).writable_ledger())
    found = check_exposition(project.cli("metrics", check=0).stdout)

    runs = samples(found["dataops_runs"], "dataops_runs_total")
    assert runs == {(("environment", "other"), ("pipeline", "shop"), ("status", "failed")): 1.0,
                    (("environment", "prod"), ("pipeline", "shop"), ("status", "success")): 2.0}
    buckets = {dict(k)["le"]: v for k, v in samples(found["dataops_step_duration_seconds"],
                                                    "dataops_step_duration_seconds_bucket").items()
               if dict(k)["environment"] == "prod"}
    assert buckets["1.0"] == 0 and buckets["5.0"] == 1 and buckets["60.0"] == 2 and buckets["+Inf"] == 2
    durations = samples(found["dataops_step_duration_seconds"], "dataops_step_duration_seconds_sum")
    assert durations[(("environment", "prod"), ("pipeline", "shop"), ("step", "make"))] == 42.5
    assert all(dict(k)["step"] == "make" for k in durations)  # a skipped step did not run
    rows = samples(found["dataops_rows_published"], "dataops_rows_published_total")
    assert rows == {(("dataset", "raw.customers"), ("environment", "prod"), ("pipeline", "shop")): 50.0,
                    (("dataset", "raw.orders"), ("environment", "prod"), ("pipeline", "shop")): 2200.0}
    checks = samples(found["dataops_check_results"], "dataops_check_results_total")
    assert checks[(("pipeline", "shop"), ("severity", "error"), ("status", "error"))] == 1.0
    assert checks[(("pipeline", "shop"), ("severity", "warn"), ("status", "warn"))] == 1.0
    assert samples(found["dataops_open_failures"]) == {(("pipeline", "shop"), ("status", "error")): 1.0,
                                                       (("pipeline", "shop"), ("status", "warn")): 1.0}
    ages = samples(found["dataops_dataset_freshness_age_seconds"])
    assert 3500 < ages[(("dataset", "raw.orders"), ("environment", "prod"), ("pipeline", "shop"))] < 3700  # 1 h ago
    thresholds = samples(found["dataops_dataset_freshness_threshold_seconds"])
    assert thresholds[(("dataset", "raw.orders"), ("pipeline", "shop"), ("threshold", "error_after"))] == 604800.0
    last = samples(found["dataops_last_successful_run_timestamp_seconds"])
    assert list(last) == [(("environment", "prod"), ("pipeline", "shop"))]


def test_metrics_by_environment_bounded_to_the_declared_ones(project):
    """Each declared environment (and the default) is a label value with its own datasets' ages;
    an ad hoc one counts as `other`; --env shows one environment; an unknown --env is a typo."""
    project.spec("name: shop\nenvironments: {dev: {}}\nsteps: []\n")
    ledger = Project(project.root).writable_ledger()
    fill(ledger)
    now = datetime.now(timezone.utc)
    sla = {"column": "ts", "warn_after": 86400.0, "error_after": 604800.0}
    publish(ledger, "raw.orders", run_id(7), rows=10, newest=now - timedelta(days=3), environment="dev", freshness=sla)
    publish(ledger, "raw.orders", run_id(8), rows=10, newest=now, environment="pr-17", freshness=sla)
    ledger.runs.open(run_id(9), environment="pr-17")
    ledger.runs.end(run_id(9), "success")
    found = check_exposition(project.cli("metrics", check=0).stdout)
    runs = samples(found["dataops_runs"], "dataops_runs_total")
    assert {(dict(k)["environment"], dict(k)["status"]): v for k, v in runs.items()} == {
        ("dev", "failed"): 1.0, ("prod", "success"): 2.0, ("other", "success"): 1.0}
    ages = {(dict(k)["environment"], dict(k)["dataset"]): v
            for k, v in samples(found["dataops_dataset_freshness_age_seconds"]).items()}
    assert set(ages) == {("prod", "raw.orders"), ("dev", "raw.orders")}  # pr-17 is no label value
    assert 3 * 86400 - 60 < ages[("dev", "raw.orders")] < 3 * 86400 + 60 and ages[("prod", "raw.orders")] < 3700

    dev = check_exposition(project.cli("metrics", "--env", "dev", check=0).stdout)
    assert {dict(k)["environment"] for f in dev.values() for k in samples(f) if "environment" in dict(k)} == {"dev"}
    assert samples(dev["dataops_runs"], "dataops_runs_total") == {
        (("environment", "dev"), ("pipeline", "shop"), ("status", "failed")): 1.0}
    unknown = project.cli("metrics", "--env", "deev", check=2)
    assert "Unknown environment 'deev' (did you mean 'dev'?)" in unknown.stderr


def test_metrics_to_a_file_for_the_textfile_collector(project):
    project.spec(SPEC)
    fill(Project(project.root).writable_ledger())
    target = project.root / "textfile" / "shop.prom"
    project.cli("metrics", "-o", str(target), check=0)
    check_exposition(target.read_text())
    assert not list(target.parent.glob("*.tmp"))


def test_metrics_of_a_project_without_a_ledger_are_empty_and_write_nothing(project):
    project.spec(SPEC)
    before = project.snapshot()
    found = check_exposition(project.cli("metrics", check=0).stdout)
    assert samples(found["dataops_runs"]) == {}
    assert project.snapshot() == before


def test_prometheus_client_is_imported_only_for_metrics():
    code = "import sys, dataops_nb.cli, dataops_nb.service, dataops_nb.runner.run; print('prometheus_client' in sys.modules, 'apprise' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["False", "False"]


def test_the_grafana_dashboard_queries_only_metrics_the_kit_exposes(project):
    import json
    import re
    from pathlib import Path

    project.spec(SPEC)
    fill(Project(project.root).writable_ledger())
    exposed = {s.name for f in families(project.cli("metrics", check=0).stdout).values() for s in f.samples}
    dashboard = json.loads((Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    named = {name for query in queries for name in re.findall(r"\bdataops_[a-z_]+", query)}
    assert named and named <= exposed, named - exposed

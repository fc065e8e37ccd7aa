"""Prometheus metrics of a project, from its ledger: `GET /dataops/metrics` and `dataops-nb metrics`.

Every metric is named `dataops_*` with Prometheus' unit and type suffixes (`_seconds`, `_total`)
and carries the pipeline's name. Label values are bounded by the spec and the ledger's
vocabularies: pipeline, environment, step, dataset, status, severity; never a run id or a
version. Each family is one aggregate query, however many datasets and runs the ledger holds.
prometheus_client is imported only here, when metrics are asked for.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

# step durations: from a second to a day
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
NO_ENV = "default"  # the label of runs without an environment


def _env(value: str | None) -> str:
    return value or NO_ENV


def _timestamp(value: Any) -> float | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


class LedgerCollector:
    """A prometheus_client collector reading the project's ledger at each scrape."""

    def __init__(self, project: Any) -> None:
        self.project = project

    def describe(self) -> list[Any]:
        return []  # the families depend on the ledger: nothing to check at registration

    def collect(self) -> Any:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        from .monitor import freshness_age

        pipeline = self.project.spec.name
        has_ledger = self.project.has_ledger()
        stats = self.project.ledger.stats if has_ledger else None

        runs = CounterMetricFamily("dataops_runs", "Pipeline runs by environment and final status.",
                                   labels=["pipeline", "env", "status"])
        for env, status, count in stats.runs_by_status() if stats else []:
            runs.add_metric([pipeline, _env(env), status], count)
        yield runs

        durations = HistogramMetricFamily("dataops_step_duration_seconds", "Time each executed step run took.",
                                          labels=["pipeline", "env", "step"])
        for item in stats.step_durations(DURATION_BUCKETS) if stats else []:
            buckets = [(repr(bound), count) for bound, count in zip(DURATION_BUCKETS, item.cumulative)]
            durations.add_metric([pipeline, _env(item.environment), item.step], buckets + [("+Inf", item.count)],
                                 item.total)
        yield durations

        published = CounterMetricFamily("dataops_rows_published", "Rows of the versions that became current.",
                                        labels=["pipeline", "dataset"])
        for dataset, rows in stats.rows_published() if stats else []:
            published.add_metric([pipeline, dataset], rows)
        yield published

        checks = CounterMetricFamily("dataops_check_results", "Quality check results by status and severity.",
                                     labels=["pipeline", "status", "severity"])
        for status, severity, count in stats.check_results() if stats else []:
            checks.add_metric([pipeline, status, severity], count)
        yield checks

        failures = GaugeMetricFamily("dataops_open_failures",
                                     "Failing checks on current or quarantined versions nobody waived or accepted.",
                                     labels=["pipeline", "status"])
        open_ = dict(stats.open_failures()) if stats else {}
        for status in ("warn", "error"):
            failures.add_metric([pipeline, status], open_.get(status, 0))
        yield failures

        age = GaugeMetricFamily("dataops_dataset_freshness_age_seconds",
                                "Age of each dataset's newest data (its SLA column's max, else its last publish).",
                                labels=["pipeline", "dataset"])
        sla = GaugeMetricFamily("dataops_dataset_freshness_threshold_seconds",
                                "The freshness SLA of each dataset (warn_after, error_after).",
                                labels=["pipeline", "dataset", "threshold"])
        now = datetime.now(timezone.utc)
        for state in stats.datasets() if stats else []:
            seconds, _ = freshness_age(state, now)
            if seconds is not None and state.version_id is not None:
                age.add_metric([pipeline, state.name], round(seconds, 3))
            for threshold in ("warn_after", "error_after"):
                if state.sla and state.sla.get(threshold) is not None:
                    sla.add_metric([pipeline, state.name, threshold], float(state.sla[threshold]))
        yield age
        yield sla

        last = GaugeMetricFamily("dataops_last_successful_run_timestamp_seconds",
                                 "When the newest successful run of each environment ended (Unix time).",
                                 labels=["pipeline", "env"])
        for env, ended in stats.last_success() if stats else []:
            stamp = _timestamp(ended)
            if stamp is not None:
                last.add_metric([pipeline, _env(env)], stamp)
        yield last


def exposition(project: Any) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(project))
    return generate_latest(registry), CONTENT_TYPE_LATEST

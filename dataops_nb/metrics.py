"""Prometheus metrics of a project, from its ledger: `GET /dataops/metrics` and `dataops-nb metrics`.

Every metric is named `dataops_*` with Prometheus' unit and type suffixes (`_seconds`, `_total`)
and carries the pipeline's name. Label values are bounded by the spec and the ledger's
vocabularies: pipeline, environment, step, dataset, status, severity; never a run id or a
version. Each family is one aggregate query, however many datasets and runs the ledger holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# step durations: from a second to a day
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
NO_ENV = "default"  # the label of runs without an environment
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format, as Prometheus asks for it


def _env(value: str | None) -> str:
    return value or NO_ENV


def _timestamp(value: Any) -> float | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass
class Family:
    """One metric family: its name (counters without `_total`), type, help and samples."""

    name: str
    kind: str  # counter, gauge, histogram
    help: str
    labels: tuple[str, ...]
    samples: list[tuple[str, tuple[str, ...], float]] = field(default_factory=list)  # (suffix, values, value)

    def add(self, values: list[str], value: float, suffix: str = "") -> None:
        self.samples.append((suffix, tuple(values), value))


@dataclass(frozen=True)
class Readings:
    """What the families are made of, read from the ledger in one go (kept while the ledger is unchanged)."""

    runs: list[tuple[str, str, int]]
    durations: list[Any]
    published: list[tuple[str, int]]
    checks: list[tuple[str, str, int]]
    failures: dict[str, int]
    newest: list[tuple[str, float]]  # dataset, Unix time of its newest data
    thresholds: list[tuple[str, str, float]]
    last_success: list[tuple[str, float]]


_READ: dict[str, tuple[tuple[Any, ...], Readings]] = {}  # ledger URL -> (change token, readings)


def readings(project: Any) -> Readings:
    """The ledger's aggregates; read again only when its change token moved (a scrape every 15 s of a
    ledger that changes once an hour reads it once an hour)."""
    from .monitor import freshness_age

    if not project.has_ledger():
        return Readings([], [], [], [], {}, [], [], [])
    stats = project.ledger.stats
    token = stats.change_token()
    cached = _READ.get(project.ledger_url)
    if cached is not None and cached[0] == token:
        return cached[1]
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    newest, thresholds = [], []
    for state in stats.datasets():
        seconds, _ = freshness_age(state, epoch)  # its age at the epoch: minus its Unix time
        if seconds is not None and state.version_id is not None:
            newest.append((state.name, -seconds))
        for threshold in ("warn_after", "error_after"):
            if state.sla and state.sla.get(threshold) is not None:
                thresholds.append((state.name, threshold, float(state.sla[threshold])))
    last = [(env, stamp) for env, ended in stats.last_success() if (stamp := _timestamp(ended)) is not None]
    found = Readings(stats.runs_by_status(), stats.step_durations(DURATION_BUCKETS), stats.rows_published(),
                     stats.check_results(), dict(stats.open_failures()), newest, thresholds, last)
    _READ[project.ledger_url] = (token, found)
    return found


def families(project: Any, *, at: datetime | None = None) -> list[Family]:
    """Every family, from the project's ledger (empty families when it has none); ages as of `at`."""
    read = readings(project)
    return [*lasting(read, project.spec.name), ages(read, project.spec.name, at)]


def lasting(read: Readings, pipeline: str) -> list[Family]:
    """The families that change only when the ledger does (all but the ages)."""

    runs = Family("dataops_runs", "counter", "Pipeline runs by environment and final status.",
                  ("pipeline", "env", "status"))
    for env, status, count in read.runs:
        runs.add([pipeline, _env(env), status], count, "_total")

    durations = Family("dataops_step_duration_seconds", "histogram", "Time each executed step run took.",
                       ("pipeline", "env", "step", "le"))
    for item in read.durations:
        labels = [pipeline, _env(item.environment), item.step]
        for bound, count in zip(DURATION_BUCKETS, item.cumulative):
            durations.add([*labels, _number(bound)], count, "_bucket")
        durations.add([*labels, "+Inf"], item.count, "_bucket")
        durations.add(labels, item.count, "_count")
        durations.add(labels, item.total, "_sum")

    published = Family("dataops_rows_published", "counter", "Rows of the versions that became current.",
                       ("pipeline", "dataset"))
    for dataset, rows in read.published:
        published.add([pipeline, dataset], rows, "_total")

    checks = Family("dataops_check_results", "counter", "Quality check results by status and severity.",
                    ("pipeline", "status", "severity"))
    for status, severity, count in read.checks:
        checks.add([pipeline, status, severity], count, "_total")

    failures = Family("dataops_open_failures", "gauge",
                      "Failing checks on current or quarantined versions nobody waived or accepted.",
                      ("pipeline", "status"))
    for status in ("warn", "error"):
        failures.add([pipeline, status], read.failures.get(status, 0))

    sla = Family("dataops_dataset_freshness_threshold_seconds", "gauge",
                 "The freshness SLA of each dataset (warn_after, error_after).", ("pipeline", "dataset", "threshold"))
    for dataset, threshold, seconds in read.thresholds:
        sla.add([pipeline, dataset, threshold], seconds)

    last = Family("dataops_last_successful_run_timestamp_seconds", "gauge",
                  "When the newest successful run of each environment ended (Unix time).", ("pipeline", "env"))
    for env, stamp in read.last_success:
        last.add([pipeline, _env(env)], stamp)
    return [runs, durations, published, checks, failures, sla, last]


def ages(read: Readings, pipeline: str, at: datetime | None = None) -> Family:
    """Each dataset's freshness age as of `at` (now)."""
    now = (at or datetime.now(timezone.utc)).timestamp()
    age = Family("dataops_dataset_freshness_age_seconds", "gauge",
                 "Age of each dataset's newest data (its SLA column's max, else its last publish).",
                 ("pipeline", "dataset"))
    age.samples = [("", (pipeline, dataset), round(now - stamp, 3)) for dataset, stamp in read.newest]
    return age


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escaped(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def render(found: list[Family]) -> str:
    """Prometheus' text exposition format (0.0.4), as prometheus_client writes it.

    Written here rather than by `prometheus_client.generate_latest`: its per-sample checks made
    a scrape of 10,000 datasets (40,000 samples) take seconds; what this writes is checked by
    parsing it with prometheus_client's parser."""
    lines: list[str] = []
    for family in found:
        shown = family.name + ("_total" if family.kind == "counter" else "")
        help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {shown} {help_text}")
        lines.append(f"# TYPE {shown} {family.kind}")
        names = family.labels
        for suffix, values, value in family.samples:
            labels = ",".join(f'{name}="{_escaped(item)}"' for name, item in zip(names, values))
            lines.append(f"{family.name}{suffix}{{{labels}}} {_number(value)}")
    return "\n".join(lines) + "\n"


_AGE = Family("dataops_dataset_freshness_age_seconds", "gauge",
              "Age of each dataset's newest data (its SLA column's max, else its last publish).", ("pipeline", "dataset"))


@dataclass(frozen=True)
class _Written:
    """What a scrape of an unchanged ledger repeats: the text of every family but the ages, and each
    age sample's line up to its value."""

    read: Readings
    lasting: bytes
    ages: list[tuple[str, float]]  # (the sample's line without its value, Unix time of the newest data)


_STATIC: dict[tuple[str, str], _Written] = {}  # (ledger URL, pipeline) -> what was written from its readings


def exposition(project: Any) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type.

    Only the ages change from one scrape to the next of an unchanged ledger: the rest is kept
    with the readings it was written from."""
    read = readings(project)
    pipeline = project.spec.name
    key = (project.ledger_url if project.has_ledger() else "", pipeline)
    kept = _STATIC.get(key)
    if kept is None or kept.read is not read:
        header = render([_AGE]).rstrip("\n")
        ages_ = [(f'{_AGE.name}{{pipeline="{_escaped(pipeline)}",dataset="{_escaped(dataset)}"}} ', stamp)
                 for dataset, stamp in read.newest]
        kept = _Written(read, (render(lasting(read, pipeline)) + header + "\n").encode(), ages_)
        _STATIC[key] = kept
    now = datetime.now(timezone.utc).timestamp()
    ages_text = "".join(f"{line}{round(now - stamp, 3)!r}\n" for line, stamp in kept.ages)
    return kept.lasting + ages_text.encode(), CONTENT_TYPE

"""Prometheus metrics of a project, from its ledger: `GET /dataops/metrics` and `dataops-nb metrics`.

Every metric is named `dataops_*` with Prometheus' unit and type suffixes (`_seconds`, `_total`)
and carries the pipeline's name. Label values are bounded by the spec and the ledger's
vocabularies: pipeline, environment, step, dataset, status, severity; never a run id or a
version. The `environment` label is one the spec declares or the default one (`prod`): runs in
ad hoc environments (`--env pr-123`) count as `other`, and their datasets are not shown. Each
family is one aggregate query, however many datasets and runs the ledger holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

# step durations: from a second to a day
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
OTHER_ENV = "other"  # the label of every environment the spec does not declare
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format, as Prometheus asks for it


@dataclass(frozen=True)
class Environments:
    """The environment label's values: the spec's declared environments and its default one."""

    default: str
    declared: frozenset[str]

    @classmethod
    def of(cls, spec: Any) -> Environments:
        return cls(spec.default_environment, frozenset([*spec.environments, spec.default_environment]))

    def label(self, value: str | None) -> str:
        """A run's environment as a label (runs recorded without one ran in the default)."""
        name = value or self.default
        return name if name in self.declared else OTHER_ENV


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

    runs: list[tuple[str, str, int]]  # environment label, status, count
    durations: list[Any]  # DurationBuckets, environment as its label
    published: list[tuple[str, str, int]]  # environment label, dataset, rows
    checks: list[tuple[str, str, int]]
    failures: dict[str, int]
    newest: list[tuple[str, str, float]]  # environment, dataset, Unix time of its newest data
    thresholds: list[tuple[str, str, float]]
    last_success: list[tuple[str, float]]

    def of(self, environment: str) -> Readings:
        """Only the samples of one environment (what `dataops-nb metrics --env E` shows)."""
        return Readings([r for r in self.runs if r[0] == environment],
                        [d for d in self.durations if d.environment == environment],
                        [p for p in self.published if p[0] == environment], self.checks, self.failures,
                        [n for n in self.newest if n[0] == environment], self.thresholds,
                        [s for s in self.last_success if s[0] == environment])


_READ: dict[tuple[str, Environments, str | None], tuple[tuple[Any, ...], Readings]] = {}  # -> (token, readings)


def readings(project: Any, environment: str | None = None) -> Readings:
    """The ledger's aggregates (of one `environment`, or all); read again only when its change token
    moved (a scrape every 15 s of a ledger that changes once an hour reads it once an hour)."""
    if not project.has_ledger():
        return Readings([], [], [], [], {}, [], [], [])
    envs = Environments.of(project.spec)
    stats = project.ledger.stats
    token = stats.change_token()
    key = (project.ledger_url, envs, environment)
    cached = _READ.get(key)
    if cached is None or cached[0] != token:
        found = _read(stats, envs)
        cached = (token, found if environment is None else found.of(environment))
        _READ[key] = cached
    return cached[1]


def _read(stats: Any, envs: Environments) -> Readings:
    from .monitor import freshness_age

    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    newest, thresholds = [], []
    for state in stats.pointed():
        seconds, _ = freshness_age(state, epoch)  # its age at the epoch: minus its Unix time
        if seconds is not None and state.environment in envs.declared:
            newest.append((state.environment, state.name, -seconds))
        if state.environment == envs.default:  # the SLA is the spec's: once per dataset
            for threshold in ("warn_after", "error_after"):
                if state.sla and state.sla.get(threshold) is not None:
                    thresholds.append((state.name, threshold, float(state.sla[threshold])))
    runs: dict[tuple[str, str], int] = {}
    for env, status, count in stats.runs_by_status():
        runs[(envs.label(env), status)] = runs.get((envs.label(env), status), 0) + count
    durations: dict[tuple[str, str], Any] = {}
    for item in stats.step_durations(DURATION_BUCKETS):
        label = envs.label(item.environment)
        kept = durations.get((item.step, label))
        durations[(item.step, label)] = replace(item, environment=label) if kept is None else replace(
            kept, count=kept.count + item.count, total=kept.total + item.total,
            cumulative=tuple(a + b for a, b in zip(kept.cumulative, item.cumulative)))
    published: dict[tuple[str, str], int] = {}
    for env, dataset, rows in stats.rows_published():
        published[(envs.label(env), dataset)] = published.get((envs.label(env), dataset), 0) + rows
    last: dict[str, float] = {}
    for env, ended in stats.last_success():
        if (stamp := _timestamp(ended)) is not None:
            last[envs.label(env)] = max(stamp, last.get(envs.label(env), stamp))
    return Readings([(env, status, n) for (env, status), n in sorted(runs.items())],
                    [durations[key] for key in sorted(durations)],
                    [(env, dataset, n) for (env, dataset), n in sorted(published.items())],
                    stats.check_results(), dict(stats.open_failures()), newest, thresholds, sorted(last.items()))


def families(project: Any, *, at: datetime | None = None, environment: str | None = None) -> list[Family]:
    """Every family, from the project's ledger (empty families when it has none); ages as of `at`."""
    read = readings(project, environment)
    return [*lasting(read, project.spec.name), ages(read, project.spec.name, at)]


def lasting(read: Readings, pipeline: str) -> list[Family]:
    """The families that change only when the ledger does (all but the ages)."""

    runs = Family("dataops_runs", "counter", "Pipeline runs by environment and final status.",
                  ("pipeline", "environment", "status"))
    for env, status, count in read.runs:
        runs.add([pipeline, env, status], count, "_total")

    durations = Family("dataops_step_duration_seconds", "histogram", "Time each executed step run took.",
                       ("pipeline", "environment", "step", "le"))
    for item in read.durations:
        labels = [pipeline, item.environment, item.step]
        for bound, count in zip(DURATION_BUCKETS, item.cumulative):
            durations.add([*labels, _number(bound)], count, "_bucket")
        durations.add([*labels, "+Inf"], item.count, "_bucket")
        durations.add(labels, item.count, "_count")
        durations.add(labels, item.total, "_sum")

    published = Family("dataops_rows_published", "counter", "Rows of the versions that became current.",
                       ("pipeline", "environment", "dataset"))
    for env, dataset, rows in read.published:
        published.add([pipeline, env, dataset], rows, "_total")

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
                  "When the newest successful run of each environment ended (Unix time).", ("pipeline", "environment"))
    for env, stamp in read.last_success:
        last.add([pipeline, env], stamp)
    return [runs, durations, published, checks, failures, sla, last]


def ages(read: Readings, pipeline: str, at: datetime | None = None) -> Family:
    """Each dataset's freshness age as of `at` (now)."""
    now = (at or datetime.now(timezone.utc)).timestamp()
    age = Family("dataops_dataset_freshness_age_seconds", "gauge",
                 "Age of each dataset's newest data (its SLA column's max, else its last publish).",
                 ("pipeline", "environment", "dataset"))
    age.samples = [("", (pipeline, env, dataset), round(now - stamp, 3)) for env, dataset, stamp in read.newest]
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
              "Age of each dataset's newest data (its SLA column's max, else its last publish).",
              ("pipeline", "environment", "dataset"))


@dataclass(frozen=True)
class _Written:
    """What a scrape of an unchanged ledger repeats: the text of every family but the ages, and each
    age sample's line up to its value."""

    read: Readings
    lasting: bytes
    ages: list[tuple[str, float]]  # (the sample's line without its value, Unix time of the newest data)


_STATIC: dict[tuple[str, str, str | None], _Written] = {}  # (ledger URL, pipeline, environment) -> what was written


def exposition(project: Any, environment: str | None = None) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format (of one `environment`, or all), and its content type.

    Only the ages change from one scrape to the next of an unchanged ledger: the rest is kept
    with the readings it was written from."""
    read = readings(project, environment)
    pipeline = project.spec.name
    key = (project.ledger_url if project.has_ledger() else "", pipeline, environment)
    kept = _STATIC.get(key)
    if kept is None or kept.read is not read:
        header = render([_AGE]).rstrip("\n")
        ages_ = [((f'{_AGE.name}{{pipeline="{_escaped(pipeline)}",environment="{_escaped(env)}",'
                   f'dataset="{_escaped(dataset)}"}} '), stamp) for env, dataset, stamp in read.newest]
        kept = _Written(read, (render(lasting(read, pipeline)) + header + "\n").encode(), ages_)
        _STATIC[key] = kept
    now = datetime.now(timezone.utc).timestamp()
    ages_text = "".join(f"{line}{round(now - stamp, 3)!r}\n" for line, stamp in kept.ages)
    return kept.lasting + ages_text.encode(), CONTENT_TYPE

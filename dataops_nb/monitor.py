"""`dataops-nb monitor`: one sweep over every dataset and the pipeline's schedule.

It judges each dataset's freshness (`warn_after` / `error_after` against the newest value of
the SLA's column, else the last publish), its row count against its own history (a robust
z-score, as the `volume_anomaly` check computes it), and whether the pipeline is overdue:
no run started (and succeeded, or still running) since the last time its `schedule:`
fired, allowing `grace`. A subject's status is compared with the one the ledger kept from
the sweep before: an alert goes out when a breach starts or worsens, and once more when it
is over; a sweep that finds what the last one found sends nothing. Made for cron, a CI
schedule or an Airflow task: it writes only the states that changed and one sweep row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .ledger.monitoring import MonitorState
from .quality.builtin import DEFAULT_MIN_HISTORY, DEFAULT_SENSITIVITY, robust_score

if TYPE_CHECKING:  # loaded only when a sweep has something to send: most sweeps find what the last one did
    from .notify.alert import Alert

PIPELINE = "pipeline"
EVENT = {("freshness", "warn"): "freshness_warn", ("freshness", "error"): "freshness_error",
         ("volume", "warn"): "volume_anomaly", ("volume", "error"): "volume_anomaly",
         ("overdue", "warn"): "pipeline_overdue", ("overdue", "error"): "pipeline_overdue"}
RANK = {"ok": 0, "warn": 1, "error": 2}


@dataclass(frozen=True)
class Finding:
    kind: str  # freshness, volume, overdue
    subject: str  # a dataset, or "pipeline"
    status: str  # ok, warn, error
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    change: str | None = None  # breach, worse, better, recovered (None: as the sweep before found it)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "status": self.status, "message": self.message,
                "change": self.change, **self.detail}


def sweep(project: Any, *, environment: str | None = None, grace: float = 1800.0,
          moment: datetime | None = None) -> dict[str, Any]:
    """Judge everything, record what changed, notify; the findings that are not ok or just changed."""
    started = time.perf_counter()
    moment = moment or datetime.now(timezone.utc)
    from .metadata.model import sync_spec

    sync_spec(project)
    ledger = project.writable_ledger()
    chain = project.spec.environment_chain(environment)
    default = chain[0] == project.spec.default_environment
    env_key = "" if default else chain[0]  # the default environment's states are those kept before environments
    findings = [*_freshness(ledger, chain, moment), *_volume(ledger, chain),
                *_overdue(project, ledger, chain[0], default, grace, moment)]
    before = ledger.monitor.states(env_key)
    stamp = moment.isoformat(timespec="milliseconds")
    judged, changed, alerts = [], [], []
    for finding in findings:
        previous = before.get((finding.kind, finding.subject))
        was = previous.status if previous else "ok"
        if finding.status != was:
            change = ("recovered" if finding.status == "ok" else "breach" if was == "ok"
                      else "worse" if RANK[finding.status] > RANK[was] else "better")
            finding = Finding(finding.kind, finding.subject, finding.status, finding.message, finding.detail, change)
            changed.append(MonitorState(finding.kind, finding.subject, finding.status, stamp,
                                        {"message": finding.message}))
            if change in ("breach", "worse"):
                alerts.append(_alert(project, finding, finding.status, chain[0]))
            elif change == "recovered":
                alerts.append(_alert(project, finding, was, chain[0], recovered=True))
        judged.append(finding)
    counts = {status: sum(1 for f in judged if f.status == status) for status in ("warn", "error")}
    sweep_id = ledger.monitor.record_sweep(env_key, changed, checked=len(judged), warn=counts["warn"],
                                           error=counts["error"], duration_s=time.perf_counter() - started)
    deliveries: list[dict[str, Any]] = []
    warnings: list[str] = []
    if alerts:
        from .notify.notifier import Notifier

        notifier = Notifier(project, environment=chain[0], ledger=project.writable_ledger)
        for alert in alerts:
            notifier.deliver(alert)
        deliveries, warnings = [d.as_dict() for d in notifier.deliveries], notifier.warnings
    shown = [f for f in judged if f.status != "ok" or f.change]
    worst = max((f.status for f in judged), key=RANK.__getitem__, default="ok")
    return {
        "sweep": sweep_id, "environment": chain[0], "at": stamp, "status": worst,
        "checked": len(judged), "warn": counts["warn"], "error": counts["error"], "changed": len(changed),
        "findings": [f.as_dict() for f in sorted(shown, key=lambda f: (-RANK[f.status], f.kind, f.subject))],
        "errors": [f"{f.kind} {f.subject}" for f in judged if f.status == "error"],
        "notifications": deliveries, "warnings": warnings,
    }


def _alert(project: Any, finding: Finding, status: str, environment: str | None, *, recovered: bool = False) -> Alert:
    from .notify.alert import Alert

    dataset = None if finding.subject == PIPELINE else finding.subject
    return Alert(EVENT[(finding.kind, status)], project.spec.name, environment=environment, dataset=dataset,
                 detail=finding.message, recovered=recovered)


# --- what is judged -------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"


def freshness_age(state: Any, moment: datetime) -> tuple[float | None, str]:
    """Seconds since the dataset's newest data (its SLA column's max, else its last publish), and by what."""
    newest = _moment(state.newest_value)
    measured = f"max({state.sla.get('column')})" if newest is not None and state.sla else "last publish"
    newest = newest or _moment(state.published_at)
    return (None if newest is None else (moment - newest).total_seconds()), measured


def _freshness(ledger: Any, chain: list[str], moment: datetime) -> list[Finding]:
    found = []
    for state in ledger.stats.datasets(chain):
        sla = state.sla or {}
        warn_after, error_after = sla.get("warn_after"), sla.get("error_after")
        if warn_after is None and error_after is None:
            continue
        age, measured = freshness_age(state, moment)
        if state.version_id is None or age is None:
            found.append(Finding("freshness", state.name, "error" if error_after is not None else "warn",
                                 "no current version to judge freshness by", {"age_s": None}))
            continue
        status = ("error" if error_after is not None and age > float(error_after)
                  else "warn" if warn_after is not None and age > float(warn_after) else "ok")
        limit = error_after if status == "error" else warn_after
        message = (f"newest data {_age(age)} old ({measured})"
                   + (f", past {'error' if status == 'error' else 'warn'}_after {_age(float(limit))}" if status != "ok"
                      else ""))
        found.append(Finding("freshness", state.name, status, message,
                             {"age_s": round(age, 1), "measured_by": measured}))
    return found


def _volume(ledger: Any, chain: list[str]) -> list[Finding]:
    found = []
    for dataset, counts in ledger.stats.row_history(2 * DEFAULT_MIN_HISTORY + 1, chain).items():
        *history, current = counts
        if len(history) < DEFAULT_MIN_HISTORY:
            continue
        score, median = robust_score(float(current), [float(c) for c in history])
        status = "warn" if score > DEFAULT_SENSITIVITY else "ok"
        found.append(Finding("volume", dataset, status,
                             f"{current} rows vs median {median:g} of the last {len(history)} versions "
                             f"(robust z {score:.1f}, limit {DEFAULT_SENSITIVITY:g})",
                             {"rows": current, "median": median}))
    return found


def _overdue(project: Any, ledger: Any, environment: str, default: bool, grace: float,
             moment: datetime) -> list[Finding]:
    schedule = project.spec.schedule
    if not schedule:
        return []
    from .cron import parse_cron

    cron = parse_cron(schedule)
    expected = cron.previous((moment - timedelta(seconds=grace)).replace(tzinfo=None))
    if expected is None:
        return []
    expected = expected.replace(tzinfo=timezone.utc)
    last = ledger.stats.last_runs(environment, default=default)
    success, running = _moment(last["success"]), _moment(last["running"])
    if (success and success >= expected) or (running and running >= expected):
        return [Finding("overdue", PIPELINE, "ok", f"ran since {expected.isoformat()} ({schedule})",
                        {"expected_at": expected.isoformat()})]
    since = f"last successful run started {success.isoformat()}" if success else "no successful run yet"
    return [Finding("overdue", PIPELINE, "error",
                    f"no successful run since it was due at {expected.isoformat()} ({schedule}); {since}",
                    {"expected_at": expected.isoformat(), "last_success": last["success"]})]

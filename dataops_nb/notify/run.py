"""The alerts of a run: a listener on the runner's events that turns them into `Alert`s.

After each step: its failure or timeout, each failing error and warn check (with its
failing count) and the quarantine of its versions; at the end, the run failed or
succeeded. What a message says comes from the ledger's records of the step, not from the
event's free text. The run's end waits (bounded) for the queued messages.
"""

from __future__ import annotations

from typing import Any

from ..quality.checks import check_label
from ..runlog import RunLog
from .alert import Alert
from .notifier import Notifier


class RunAlerts:
    """A runner listener (`Runner.listeners`): `self(record)` for every event of the run."""

    def __init__(self, project: Any, environment: str | None) -> None:
        self.project = project
        self.environment = environment
        self.run_id: str | None = None
        self.notifier: Notifier | None = None
        self.warnings: list[str] = []

    def __call__(self, record: dict[str, Any]) -> None:
        if not self.project.spec.notify.rules:
            return
        try:
            self._handle(record)
        except Exception:  # noqa: BLE001 - a notification never fails the run
            import logging

            logging.getLogger(__name__).warning("dataops-nb: could not prepare the alerts of a run event")

    def _handle(self, record: dict[str, Any]) -> None:
        event = record.get("event")
        if event == "run_started":
            self.run_id = record["run_id"]
            runlog = RunLog(self.project.store.run_dir(self.run_id) / "run.log")
            self.notifier = Notifier(self.project, environment=self.environment,
                                     ledger=self.project.writable_ledger, log_event=runlog.event)
        elif self.notifier is None:
            return
        elif event in ("step_finished", "step_error"):
            for alert in self._step_alerts(record):
                self.notifier.notify(alert)
        elif event == "run_finished" and record.get("status") not in ("success", "failed"):
            self.notifier.close()  # interrupted or cancelled: what is queued still goes
        elif event == "run_finished":
            failed = self.project.ledger.runs.steps(self.run_id) if record["status"] == "failed" else []
            steps = [s.step for s in failed if s.status in ("failed", "timed_out")]
            datasets = tuple(ds for step in steps for ds in self._datasets_of(step, record))
            self.notifier.notify(self._alert(
                "run_failed" if record["status"] == "failed" else "run_succeeded",
                detail=f"failed step(s): {', '.join(steps)}" if steps else None, datasets=datasets,
            ))
            self.notifier.close()
            self.warnings = list(self.notifier.warnings)

    def _alert(self, event: str, **fields: Any) -> Alert:
        return Alert(event, self.project.spec.name, environment=self.environment, run_id=self.run_id,
                     link=self.notifier.link(self.run_id) if self.notifier else None, **fields)

    def _datasets_of(self, step: str, record: dict[str, Any]) -> list[str]:
        """What a failing step puts at risk: the datasets it has published before, else those of the run."""
        ledger = self.project.writable_ledger()
        return ledger.stats.datasets_of_step(step) or sorted({v.dataset for v in ledger.versions_of_run(self.run_id)})

    def _message(self, row: Any) -> str | None:
        """A check's message as an alert carries it: PII values masked (a channel is nobody's member)."""
        from ..metadata.pii import NOBODY, message_for

        return message_for(self.project, NOBODY, row["dataset"], row["version_id"], row["message"])

    def _step_alerts(self, record: dict[str, Any]) -> list[Alert]:
        step, status = record["step"], record.get("status")
        ledger = self.project.writable_ledger()
        alerts: list[Alert] = []
        results = [r for r in ledger.checks.of_run(self.run_id) if r["step"] == step]
        latest: dict[tuple[str, str, str], Any] = {}
        for row in results:
            latest[(row["version_id"], row["origin"], row["check_name"])] = row
        for row in latest.values():
            if row["status"] in ("error", "warn"):
                counted = row["kind"] not in ("row_count", "schema", "freshness") and row["failing"] is not None
                alerts.append(self._alert(
                    "error_check" if row["status"] == "error" else "warn_check", step=step, dataset=row["dataset"],
                    check=check_label(row["origin"], row["check_name"]), failing=row["failing"] if counted else None,
                    rows=row["rows"] if counted else None,
                    detail=f"severity {row['severity']}" + (f": {self._message(row)}" if row["message"] else ""),
                ))
        quarantined = sorted({v.dataset for v in ledger.versions_of_run(self.run_id)
                              if v.step == step and v.status == "quarantined"})
        if quarantined:
            alerts.append(self._alert("quarantine", step=step, datasets=tuple(quarantined),
                                      detail="quarantined for review: " + ", ".join(quarantined)))
        if status in ("failed", "timed_out"):
            alerts.append(self._alert(
                "step_timed_out" if status == "timed_out" else "step_failed", step=step,
                datasets=tuple(self._datasets_of(step, record)), detail=record.get("error"),
            ))
        return alerts

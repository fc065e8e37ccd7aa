"""One thing worth telling someone about, and the message that says it.

A message says what happened and where (environment, run, step, dataset, check with its
failing count) and links the run's report. It is built from the ledger's structured
fields, never from failing rows; free text that does reach it (a step's error) is cut to
one line, masked for every secret and credential the spec names, and stripped of
anything that looks like personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..metadata.pii import kind_of
from ..secrets import MASK, Redactor

RECOVERED = "recovered"
_TITLES = {
    "run_failed": "run failed", "run_succeeded": "run succeeded", "step_failed": "step failed",
    "step_timed_out": "step timed out", "error_check": "error check failed", "warn_check": "warn check failed",
    "quarantine": "versions quarantined", "freshness_warn": "data is getting stale",
    "freshness_error": "data is stale", "volume_anomaly": "row count anomaly",
    "pipeline_overdue": "pipeline overdue", "promotion": "promotion", "test": "test message",
}
_TOKEN = re.compile(r"[^\s'\"`,;()<>\[\]{}]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
MAX_TEXT = 300


@dataclass(frozen=True)
class Alert:
    event: str  # one of spec.EVENTS, or "test"
    pipeline: str
    environment: str | None = None
    run_id: str | None = None
    step: str | None = None
    dataset: str | None = None
    check: str | None = None
    failing: int | None = None
    rows: int | None = None
    detail: str | None = None  # one line of context: an age, a row count, an error's first line
    datasets: tuple[str, ...] = ()  # affected datasets: `to: owners` reaches their owners
    link: str | None = None
    recovered: bool = False  # the breach this event names is over
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        """apprise's notification type: how a chat client colours it."""
        if self.recovered or self.event in ("run_succeeded", "promotion"):
            return "success"
        if self.event in ("warn_check", "freshness_warn", "volume_anomaly"):
            return "warning"
        return "info" if self.event == "test" else "failure"

    @property
    def subject(self) -> str | None:
        return self.dataset or self.step

    @property
    def affected(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*((self.dataset,) if self.dataset else ()), *self.datasets)))

    def title(self) -> str:
        what = _TITLES.get(self.event, self.event.replace("_", " "))
        if self.recovered:
            what = f"recovered: {what}"
        env = f" ({self.environment})" if self.environment else ""
        about = f": {self.dataset}" if self.dataset else f": {self.step}" if self.step else ""
        return f"[{self.pipeline}{env}] {what}{about}"

    def body(self) -> str:
        lines = [self.title()]
        if self.recovered:
            lines.append("The breach reported earlier is over.")
        where = [("environment", self.environment), ("run", self.run_id), ("step", self.step),
                 ("dataset", self.dataset), ("check", self.check)]
        lines += [f"{name}: {value}" for name, value in where if value]
        if self.failing is not None:
            lines.append(f"failing rows: {self.failing}" + (f" of {self.rows}" if self.rows is not None else ""))
        if self.detail:
            lines.append(self.detail)
        if self.link:
            lines.append(f"report: {self.link}")
        return "\n".join(lines)

    def masked(self, redactor: Redactor) -> Alert:
        """This alert with its free text cut to one line and masked (secrets, personal data)."""
        detail = None if self.detail is None else scrub(self.detail, redactor)
        return replace(self, detail=detail)


def scrub(text: str, redactor: Redactor) -> str:
    """One line of `text`, secrets masked, and every token that looks like personal data masked."""
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    line = redactor.text(line)
    line = _EMAIL.sub(MASK, line)
    line = _DIGITS.sub(lambda m: MASK if kind_of(m.group(0)) else m.group(0), line)
    line = _TOKEN.sub(lambda m: MASK if kind_of(m.group(0).strip(".:")) else m.group(0), line)
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1] + "…"

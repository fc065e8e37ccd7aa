"""Which review decision closes a check result.

A decision applies to the check results it names, never to more:

A check is its origin (declared in the spec, or `step.check` in a notebook) and its name: a
declared check and a notebook check of the same name are two checks, decided apart.

- on a check result (`#42`) or with `--check NAME`: that check of that version (a re-check of
  the same version stays decided; the data did not change);
- on a version (`staging.t@RUN`, or a dataset: its quarantined, else current version): the
  checks failing on it when the decision was made. A check added later, or one that passed
  then and fails on a re-check, is open;
- a standing decision ("known issue": `--until DATE`, `--for-runs N`, `--while "failing <= 5%"`)
  names one check of a dataset and also closes its warnings on the versions later runs make,
  while every condition it was given holds: before the date, within the next N versions, while
  the failing rows stay within the bound. An error is never closed by a standing decision: the
  gate quarantines that version and it needs a decision of its own.

Decisions recorded before decisions named their checks cover their whole version, as they did.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..errors import DataOpsError
from ..ledger import now
from .checks import check_label

STATES = {"accept": "accepted", "waive": "waived"}
_CONDITION = re.compile(r"^\s*failing\s*(<=|<|>=|>|==|=)\s*(\d+(?:\.\d+)?)\s*(%?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Condition:
    """`failing <= 5%` (a share of the rows) or `failing < 100` (a count of rows)."""

    text: str
    op: str
    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _CONDITION.match(text or "")
        if not match:
            raise DataOpsError(f"--while {text!r} is not a condition on the failing rows "
                               "(write e.g. \"failing <= 5%\" or \"failing < 100\").")
        op = "==" if match.group(1) == "=" else match.group(1)
        return cls(" ".join(f"failing {op} {match.group(2)}{match.group(3)}".split()), op, float(match.group(2)),
                   bool(match.group(3)))

    def holds(self, failing: int | None, rows: int | None) -> bool:
        failing = failing or 0
        value = (100.0 * failing / rows if rows else 0.0) if self.percent else float(failing)
        return {"<=": value <= self.value, "<": value < self.value, ">=": value >= self.value,
                ">": value > self.value, "==": value == self.value}[self.op]


def parse_until(text: str, *, today: date | None = None) -> str:
    """`--until` as the ISO UTC moment the decision stops at: a date means through that day (UTC)."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text) + timedelta(days=1), datetime.min.time(),
                                      tzinfo=timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise DataOpsError(f"--until {text!r} is not a date (2026-12-31) or a time (2026-12-31T18:00).") from None
    if moment <= datetime.now(timezone.utc):
        raise DataOpsError(f"--until {text} is in the past: a standing decision needs a date still to come.")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Decision:
    """A closing decision (accept or waive) as read from the ledger."""

    id: int
    decision: str
    dataset: str
    version_id: str | None
    check_id: int | None
    check_origin: str | None  # None: a decision recorded before checks had origins (names either)
    check_name: str | None
    checks: tuple[tuple[str | None, str], ...] | None  # (origin, name); origin None as for check_origin
    reason: str
    user: str
    created_at: str
    expires_at: str | None
    for_runs: int | None
    condition: Condition | None

    @classmethod
    def of(cls, row: Any) -> Decision:
        checks = row["checks"]
        condition = row["while_condition"]
        return cls(
            id=int(row["id"]), decision=row["decision"], dataset=row["dataset"], version_id=row["version_id"],
            check_id=row["check_id"], check_origin=row["check_origin"], check_name=row["check_name"],
            checks=None if checks is None else tuple(_named(c) for c in json.loads(checks)), reason=row["reason"], user=row["user"],
            created_at=row["created_at"], expires_at=row["expires_at"], for_runs=row["for_runs"],
            condition=Condition.parse(condition) if condition else None,
        )

    @property
    def standing(self) -> bool:
        return bool(self.expires_at or self.for_runs or self.condition)

    def terms(self) -> str:
        """The standing decision's conditions, as a reader would say them."""
        parts = []
        if self.expires_at:
            moment = datetime.fromisoformat(self.expires_at)
            if moment.time() == datetime.min.time():  # given as a date: through the day before
                parts.append(f"through {(moment.date() - timedelta(days=1)).isoformat()}")
            else:
                parts.append(f"until {self.expires_at[:16].replace('T', ' ')} UTC")
        if self.for_runs:
            parts.append(f"for {self.for_runs} run{'s' if self.for_runs != 1 else ''}")
        if self.condition:
            parts.append(f"while {self.condition.text}")
        return ", ".join(parts)

    def is_check(self, origin: str | None, check: str) -> bool:
        """Whether the one check this decision names is `check` from `origin`."""
        return self.check_name == check and self.check_origin in (None, origin)

    def names(self, version_id: str, origin: str | None, check: str) -> bool:
        """Whether this (not standing) decision names `check` (from `origin`) of `version_id`."""
        if self.version_id != version_id:
            return False
        if self.check_name is not None:
            return self.is_check(origin, check)
        if self.checks is None:  # recorded before decisions named checks
            return True
        return any(name == check and found in (None, origin) for found, name in self.checks)


class Decisions:
    """The closing decisions on some datasets; `versions_since(dataset, moment)` lists the versions
    later runs made (the ledger's `reviews.versions_since`), for `--for-runs`."""

    def __init__(self, rows: list[Any], versions_since: Any) -> None:
        self.all = [Decision.of(row) for row in rows]  # newest first
        self._versions_since = versions_since
        self._later: dict[int, list[str]] = {}

    def _runs_after(self, decision: Decision) -> list[str]:
        if decision.id not in self._later:
            self._later[decision.id] = list(self._versions_since(decision.dataset, decision.created_at))
        return self._later[decision.id]

    def expired(self, decision: Decision, *, moment: str | None = None) -> bool:
        """Whether a standing decision has run out (its date passed, or its runs were used)."""
        if decision.expires_at and (moment or now()) >= decision.expires_at:
            return True
        return bool(decision.for_runs and len(self._runs_after(decision)) > decision.for_runs)

    def runs_left(self, decision: Decision) -> int | None:
        if not decision.for_runs:
            return None
        return max(decision.for_runs - len(self._runs_after(decision)), 0)

    def closing(self, result: dict[str, Any]) -> Decision | None:
        """The newest decision that closes `result` (a check result: dataset, version, origin, check,
        status, failing, rows, and its id when it is stored)."""
        for decision in self.all:
            if decision.dataset != result["dataset"]:
                continue
            if not decision.standing:
                if decision.check_id is not None and decision.check_id == result.get("id"):
                    return decision
                if decision.names(result["version"], result.get("origin"), result["check"]):
                    return decision
                continue
            if not decision.is_check(result.get("origin"), result["check"]) or result["status"] != "warn":
                continue
            if decision.expires_at and now() >= decision.expires_at:
                continue  # expired
            if decision.for_runs and result["version"] in self._runs_after(decision)[decision.for_runs:]:
                continue  # a version after the N it was given
            if decision.condition and not decision.condition.holds(result.get("failing"), result.get("rows")):
                continue
            return decision
        return None

    def label(self, result: dict[str, Any]) -> dict[str, Any] | None:
        """What closes `result`, for every place that shows checks: None while it is open."""
        decision = self.closing(result)
        if decision is None:
            return None
        terms = decision.terms()
        state = STATES[decision.decision]
        return {"id": decision.id, "decision": decision.decision, "state": state, "user": decision.user,
                "reason": decision.reason, "at": decision.created_at, "standing": terms or None,
                "text": f"{state} by {decision.user} (#{decision.id}" + (f"; known issue {terms})" if terms else ")")}

    def standing(self) -> list[dict[str, Any]]:
        """Every standing decision, newest first, with whether it still holds."""
        listed = []
        for decision in self.all:
            if not decision.standing:
                continue
            listed.append({
                "id": decision.id, "dataset": decision.dataset, "check": decision.check_name,
                "origin": decision.check_origin, "label": check_label(decision.check_origin, decision.check_name or ""),
                "decision": decision.decision, "terms": decision.terms(), "reason": decision.reason,
                "user": decision.user, "created_at": decision.created_at, "runs_left": self.runs_left(decision),
                "expired": self.expired(decision),
            })
        return listed


def _named(entry: Any) -> tuple[str | None, str]:
    """One entry of a decision's `checks`: `[origin, name]`, or a bare name (written before checks had origins)."""
    return (None, str(entry)) if isinstance(entry, str) else (entry[0], str(entry[1]))


def of_ledger(ledger: Any, datasets: Any = None) -> Decisions:
    """The closing decisions on `datasets` (None: on every dataset), read from the ledger."""
    rows = ledger.reviews.decisions(closing=True) if datasets is None else ledger.reviews.closing_for(datasets)
    return Decisions(rows, ledger.reviews.versions_since)


def labelled(result: dict[str, Any], decisions: Decisions) -> dict[str, Any]:
    """`result` with `label` (the check as a user names it: `notebook:NAME` for a notebook's check),
    `decision` ("accepted", "waived", or None while open) and `decided` (which review: id, user,
    reason, standing terms)."""
    label = decisions.label(result)
    return {**result, "label": check_label(result.get("origin"), result["check"]),
            "decision": label["state"] if label else None, "decided": label}


def open_status(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The worst status among results no decision closes (None without results), and how many are closed."""
    open_ = [r["status"] for r in results if not r.get("decision")]
    status = None if not results else "error" if "error" in open_ else "warn" if "warn" in open_ else "pass"
    return {"status": status, "accepted": sum(1 for r in results if r.get("decision") == "accepted"),
            "waived": sum(1 for r in results if r.get("decision") == "waived")}


def warning_lines(ledger: Any, results: dict[str, list[Any]]) -> list[str]:
    """The summaries of a run's warnings (results by version id); one a standing decision keeps
    closed says so, so a known issue does not read as a new failure on every run."""
    warned = {vid: [r for r in found if r.status == "warn"] for vid, found in results.items()}
    if not any(warned.values()):
        return []
    decisions = of_ledger(ledger, {r.check.dataset for found in warned.values() for r in found})
    lines = []
    for version_id, found in warned.items():
        for r in found:
            label = decisions.label({"dataset": r.check.dataset, "version": version_id, "origin": r.check.origin,
                                     "check": r.check.name, "status": r.status, "failing": r.failing, "rows": r.rows})
            lines.append(r.summary() + (f", {label['text']}" if label else ""))
    return lines

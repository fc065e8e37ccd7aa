"""Review: open failures, quarantined versions, and decisions recorded in the ledger.

A decision (accept, waive, quarantine, comment) names its target: a dataset version
(`staging.flights@<run>`), a dataset (its quarantined version, else its current one),
or a check result (`#42`); `check` narrows a version to one of its checks (`NAME`, or
`spec:NAME` / `notebook:NAME` where a declared check and a notebook check share the name). Accept and waive
may stand ("known issue": `until`, `for_runs`, `condition`) and then also close that check's
warnings on later versions (see `decisions.py` for what each decision closes). Who and when
come from the caller; why is required. Accepting a quarantined version promotes it once no
error of it is left open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import AccessDeniedError, ConflictError, DataOpsError, NotFoundError
from ..ledger import Ledger, VersionStatus
from ..security import may
from ..spec import DATASET_NAME, Spec
from .checks import check_label, parse_label
from .decisions import Condition, labelled, of_ledger, parse_until

DECISIONS = ("accept", "waive", "quarantine", "comment")
MAX_ID = 2**63 - 1  # larger ids fit no ledger column (SQLite INTEGER, PostgreSQL BIGINT)


@dataclass(frozen=True)
class Resolved:
    dataset: str
    version_id: str
    check_id: int | None
    version_status: str
    check: tuple[str, str] | None = None  # a check result's check: origin, name


def resolve(ledger: Ledger, target: str) -> Resolved:
    target = target.strip()
    if target.lstrip("#").isdigit():
        number = int(target.lstrip("#"))
        row = ledger.reviews.result(number) if number <= MAX_ID else None
        if row is None:
            raise NotFoundError("check result", target)
        return Resolved(row["dataset"], row["version_id"], row["id"], row["version_status"],
                        (row["origin"], row["check_name"]))
    if "@" in target:
        version = ledger.versions.get(target)
        if version is None:
            dataset = target.split("@", 1)[0]
            known = [v.version_id for v in ledger.versions.of_dataset(dataset)] if DATASET_NAME.match(dataset) else []
            raise NotFoundError("version", target, known)
        return Resolved(version.dataset, version.version_id, None, version.status)
    if not DATASET_NAME.match(target):
        raise DataOpsError(
            f"Review target {target!r} is not a dataset, a version (dataset@run) or a check result (#id)."
        )
    versions = ledger.versions.of_dataset(target)
    chosen = next((v for v in versions if v.status == "quarantined"), None) or next(
        (v for v in versions if v.status == "current"), None
    )
    if chosen is None:
        raise NotFoundError("dataset", target, ledger.dataset_names())
    return Resolved(chosen.dataset, chosen.version_id, None, chosen.status)


def _standing_terms(decision: str, until: str | None, for_runs: int | None,
                    condition: str | None) -> tuple[str | None, Condition | None]:
    if not (until or for_runs or condition):
        return None, None
    if decision not in ("accept", "waive"):
        raise DataOpsError("--until, --for-runs and --while keep a check closed on later runs: "
                           "they go with accept or waive.")
    if for_runs is not None and for_runs < 1:
        raise DataOpsError("--for-runs needs a number of runs of at least 1.")
    return (parse_until(until) if until else None), (Condition.parse(condition) if condition else None)


def _check_of(ledger: Ledger, found: Resolved, check: str | None) -> tuple[str, str] | None:
    """The one check (origin, name) the decision names, if any (from `#ID` or `--check NAME`)."""
    if check is None:
        return found.check
    if found.check is not None:
        raise DataOpsError(f"#{found.check_id} is one check result already ({check_label(*found.check)}): "
                           "drop --check.")
    known = ledger.reviews.checks_of(found.dataset)
    matches = [k for k in known if k[1] == check]  # a name that itself has a colon
    if not matches:
        origin, name = parse_label(check)
        matches = [k for k in known if k[1] == name and origin in (None, k[0])]
    if not matches:
        raise NotFoundError(f"check of {found.dataset}", check, [check_label(*k) for k in known])
    if len(matches) > 1:
        name = matches[0][1]
        raise DataOpsError(
            f"{found.dataset} has two checks named '{name}', one declared in dataops.yaml and one from a notebook: "
            f"name one with --check spec:{name} or --check notebook:{name} (or give its result #ID)."
        )
    return matches[0]


def decide(ledger: Ledger, spec: Spec, *, target: str, decision: str, reason: str, user: str,
           origin: str | None = None, check: str | None = None, until: str | None = None,
           for_runs: int | None = None, condition: str | None = None) -> dict[str, Any]:
    """Record one decision (and its audit entry); an accept that leaves no error of a quarantined
    version open promotes it."""
    from .. import audit

    if decision not in DECISIONS:
        raise NotFoundError("decision", decision, DECISIONS)
    if not reason.strip():
        raise DataOpsError("A review decision needs a reason (--reason TEXT).")
    expires_at, parsed = _standing_terms(decision, until, for_runs, condition)
    standing = bool(expires_at or for_runs or parsed)
    found = resolve(ledger, target)
    named = _check_of(ledger, found, check)
    check_name = check_label(*named) if named else None
    if standing and named is None:
        raise DataOpsError("A standing decision names one check: give a check result (#ID) or --check NAME.")
    if decision == "quarantine" and named is not None:
        raise DataOpsError("Quarantine applies to a whole version: name the version or the dataset, not a check.")
    if not may(spec, user, found.dataset, "review"):
        raise AccessDeniedError(f"User '{user}' may not review {found.dataset} (see access.roles in dataops.yaml).")
    if decision == "accept" and found.version_status == "superseded" and named is None:
        raise ConflictError(f"{found.version_id} was superseded by a newer version; accept that one instead.")
    failing = ledger.reviews.latest([found.version_id], failing=True)
    covered = None if named is not None else [(row["origin"], row["check_name"]) for row in failing]
    effect = "recorded"
    with ledger.transaction():
        review_id = ledger.reviews.record(
            target=target, dataset=found.dataset, version_id=found.version_id, check_id=found.check_id,
            check=named, checks=covered, decision=decision, reason=reason, user=user,
            expires_at=expires_at, for_runs=for_runs, while_condition=parsed.text if parsed else None,
        )
        if decision == "accept" and found.version_status == "quarantined":
            decisions = of_ledger(ledger, [found.dataset])
            still = sorted(check_label(r["origin"], r["check_name"]) for r in failing if r["status"] == "error"
                           and decisions.closing(_failure(r)) is None)
            if still:
                effect = f"recorded; {found.version_id} stays quarantined: still open: {', '.join(still)}"
            else:
                accepted_step = ledger.versions.accept_quarantined(found.version_id)
                effect = "promoted to current" + ("; its step is fresh for this version" if accepted_step else "")
        elif decision == "quarantine" and found.version_status == "current":
            changes = ledger.versions.transition([found.version_id], VersionStatus.QUARANTINED)
            back = next((c.version_id for c in changes if c.after == VersionStatus.CURRENT), None)
            effect = "quarantined; " + (f"{back} is current again" if back else "no version is current")
        if standing:
            terms = of_ledger(ledger, [found.dataset]).all[0].terms()
            effect += f"; known issue: warnings of {check_name} on {found.dataset} stay closed {terms}"
        listed = None if covered is None else [check_label(*c) for c in covered]
        details = {"decision": decision, "reason": reason, "dataset": found.dataset, "version": found.version_id,
                   "check_id": found.check_id, "check": check_name, "checks": listed, "effect": effect}
        if standing:
            details.update(expires_at=expires_at, for_runs=for_runs, condition=parsed.text if parsed else None)
        audit.record(ledger, audit.REVIEW, user=user, origin=origin, target=target, details=details)
        if effect.startswith(("promoted", "quarantined")):
            audit.record(ledger, audit.STATUS_CHANGED, user=user, origin=origin, target=found.version_id,
                         details={"versions": [found.version_id], "why": f"review: {decision}", "effect": effect})
    return {
        "id": review_id, "target": target, "dataset": found.dataset, "version": found.version_id,
        "check_id": found.check_id, "check": named[1] if named else None, "origin": named[0] if named else None,
        "label": check_name, "checks": listed, "decision": decision,
        "reason": reason, "user": user, "effect": effect, "standing": standing,
    }


def open_items(ledger: Ledger, dataset: str | None = None) -> dict[str, Any]:
    """Failures no decision closes, on current or quarantined versions; quarantined versions;
    standing decisions (known issues) with whether they still hold; recent decisions."""
    decisions = of_ledger(ledger, [dataset] if dataset else None)
    failures, closed = [], []
    for row in ledger.reviews.failing(dataset):
        failure = labelled(_failure(row), decisions)
        (closed if failure["decision"] else failures).append(failure)
    quarantined = [
        {"dataset": v.dataset, "version": v.version_id, "run_id": v.run_id, "step": v.step, "rows": v.rows,
         "created_at": v.created_at}
        for v in sorted(ledger.versions.with_status(VersionStatus.QUARANTINED), key=lambda v: v.created_at,
                        reverse=True)
        if dataset is None or v.dataset == dataset
    ]
    recent = [
        {key: row[key] for key in ("id", "target", "dataset", "version_id", "check_id", "check_origin", "check_name",
                                   "decision", "reason", "user", "created_at")}
        for row in ledger.reviews.decisions(dataset, limit=50)
    ]
    return {"failures": failures, "quarantined": quarantined, "standing": decisions.standing(), "closed": closed,
            "decisions": recent}


def _failure(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "dataset": row["dataset"], "version": row["version_id"],
        "version_status": row["version_status"], "run_id": row["run_id"], "step": row["step"],
        "origin": row["origin"], "check": row["check_name"], "column": row["column_name"], "status": row["status"],
        "failing": row["failing"],
        "fraction": row["fraction"], "rows": row["rows"], "message": row["message"],
        "sample": json.loads(row["sample"]), "created_at": row["created_at"],
    }

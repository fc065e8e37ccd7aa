"""Review: open failures, quarantined versions, and decisions recorded in the ledger.

A decision (accept, waive, quarantine, comment) names its target: a dataset version
(`staging.flights@<run>`), a dataset (its quarantined version, else its current one),
or a check result (`#42`). Who and when come from the caller; why is required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import AccessDeniedError, ConflictError, DataOpsError, NotFoundError
from ..ledger import Ledger, now
from ..security import may
from ..spec import DATASET_NAME, Spec

DECISIONS = ("accept", "waive", "quarantine", "comment")
MAX_ID = 2**63 - 1  # larger ids fit no ledger column (SQLite INTEGER, PostgreSQL BIGINT)


@dataclass(frozen=True)
class Resolved:
    dataset: str
    version_id: str
    check_id: int | None
    version_status: str


def resolve(ledger: Ledger, target: str) -> Resolved:
    target = target.strip()
    if target.lstrip("#").isdigit():
        if int(target.lstrip("#")) > MAX_ID:
            raise NotFoundError("check result", target)
        rows = ledger.query(
            "SELECT c.id, c.dataset, c.version_id, v.status FROM check_results c "
            "JOIN dataset_versions v USING (version_id) WHERE c.id = ?",
            (int(target.lstrip("#")),),
        )
        if not rows:
            raise NotFoundError("check result", target)
        row = rows[0]
        return Resolved(row["dataset"], row["version_id"], row["id"], row["status"])
    if "@" in target:
        rows = ledger.query("SELECT dataset, version_id, status FROM dataset_versions WHERE version_id = ?", (target,))
        if not rows:
            dataset = target.split("@", 1)[0]
            known = [v.version_id for v in ledger.versions.of_dataset(dataset)] if DATASET_NAME.match(dataset) else []
            raise NotFoundError("version", target, known)
        row = rows[0]
        return Resolved(row["dataset"], row["version_id"], None, row["status"])
    if not DATASET_NAME.match(target):
        raise DataOpsError(
            f"Review target {target!r} is not a dataset, a version (dataset@run) or a check result (#id)."
        )
    versions = ledger.versions.of_dataset(target)
    chosen = next((v for v in versions if v.status == "quarantined"), None) or next(
        (v for v in versions if v.status == "current"), None
    )
    if chosen is None:
        known = [r["name"] for r in ledger.query("SELECT name FROM datasets")]
        raise NotFoundError("dataset", target, known)
    return Resolved(chosen.dataset, chosen.version_id, None, chosen.status)


def decide(ledger: Ledger, spec: Spec, *, target: str, decision: str, reason: str, user: str,
           origin: str | None = None) -> dict[str, Any]:
    """Record one decision (and its audit entry); accepting a quarantined version promotes it."""
    from .. import audit

    if decision not in DECISIONS:
        raise NotFoundError("decision", decision, DECISIONS)
    if not reason.strip():
        raise DataOpsError("A review decision needs a reason (--reason TEXT).")
    found = resolve(ledger, target)
    if not may(spec, user, found.dataset, "review"):
        raise AccessDeniedError(f"User '{user}' may not review {found.dataset} (see access.roles in dataops.yaml).")
    effect = "recorded"
    with ledger.transaction() as con:
        if decision == "accept" and found.version_status == "quarantined":
            accepted_step = ledger.accept_quarantined(con, found.version_id)
            effect = "promoted to current" + ("; its step is fresh for this version" if accepted_step else "")
        elif decision == "quarantine" and found.version_status == "current":
            con.execute("UPDATE dataset_versions SET status = 'quarantined' WHERE version_id = ?", (found.version_id,))
            previous = con.execute(
                "SELECT version_id FROM dataset_versions WHERE dataset = ? AND status = 'superseded' "
                "ORDER BY promoted_at DESC, version_id DESC LIMIT 1",
                (found.dataset,),
            ).fetchone()
            if previous:
                con.execute("UPDATE dataset_versions SET status = 'current' WHERE version_id = ?", (previous[0],))
            effect = "quarantined; " + (f"{previous[0]} is current again" if previous else "no version is current")
        elif decision == "accept" and found.version_status == "superseded" and found.check_id is None:
            raise ConflictError(f"{found.version_id} was superseded by a newer version; accept that one instead.")
        cursor = con.execute(
            "INSERT INTO reviews (target, dataset, version_id, check_id, decision, reason, user, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (target, found.dataset, found.version_id, found.check_id, decision, reason, user, now()),
        )
        review_id = cursor.lastrowid
        audit.record(ledger, audit.REVIEW, user=user, origin=origin, target=target, con=con, details={
            "decision": decision, "reason": reason, "dataset": found.dataset, "version": found.version_id,
            "check_id": found.check_id, "effect": effect,
        })
        if effect != "recorded":
            audit.record(ledger, audit.STATUS_CHANGED, user=user, origin=origin, target=found.version_id, con=con,
                         details={"versions": [found.version_id], "why": f"review: {decision}", "effect": effect})
    return {
        "id": review_id, "target": target, "dataset": found.dataset, "version": found.version_id,
        "check_id": found.check_id, "decision": decision, "reason": reason, "user": user, "effect": effect,
    }


def open_items(ledger: Ledger, dataset: str | None = None) -> dict[str, Any]:
    """Failures without a closing decision, on current or quarantined versions; and decisions."""
    args: tuple[Any, ...] = ()
    where = ""
    if dataset:
        where, args = " AND c.dataset = ?", (dataset,)
    rows = ledger.query(
        "SELECT c.*, v.status AS version_status FROM check_results c JOIN dataset_versions v USING (version_id) "
        "WHERE c.status IN ('warn', 'error') AND v.status IN ('current', 'quarantined')"
        f"{where} AND c.id IN (SELECT max(id) FROM check_results GROUP BY version_id, check_name) "
        "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.decision IN ('waive', 'accept') AND "
        "(r.check_id = c.id OR (r.check_id IS NULL AND r.version_id = c.version_id))) "
        "ORDER BY c.dataset, c.version_id, c.id",
        args,
    )
    failures = [_failure(row) for row in rows]
    quarantined = [
        {"dataset": r["dataset"], "version": r["version_id"], "run_id": r["run_id"], "step": r["step"], "rows": r["rows"],
         "created_at": r["created_at"]}
        for r in ledger.query(
            "SELECT * FROM dataset_versions WHERE status = 'quarantined'" + (" AND dataset = ?" if dataset else "")
            + " ORDER BY created_at DESC",
            args,
        )
    ]
    decisions = [
        dict(r) for r in ledger.query(
            "SELECT id, target, dataset, version_id, check_id, decision, reason, user, created_at FROM reviews"
            + (" WHERE dataset = ?" if dataset else "") + " ORDER BY id DESC LIMIT 50",
            args,
        )
    ]
    return {"failures": failures, "quarantined": quarantined, "decisions": decisions}


def _failure(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "dataset": row["dataset"], "version": row["version_id"],
        "version_status": row["version_status"], "run_id": row["run_id"], "step": row["step"],
        "check": row["check_name"], "column": row["column_name"], "status": row["status"], "failing": row["failing"],
        "fraction": row["fraction"], "rows": row["rows"], "message": row["message"],
        "sample": json.loads(row["sample"]), "created_at": row["created_at"],
    }

"""The audit log: who did what, when, and from where (the CLI or the server).

Every entry is appended to the ledger's `audit_log` with the hash of the entry before it
(sha256 over the canonical JSON of the entry and that hash), so a changed or removed entry
breaks the chain that `verify` walks. The runner, review, gc, exports and the interfaces'
access denials call `record`; nothing else writes the log, and nothing ever rewrites it.

Details never hold secret values: run parameters are recorded as the runner keeps them
(secrets as `{secret: ENV}` references), and any value given in `secrets` is masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import DataOpsError
from .ledger import Ledger
from .ledger.audit import GENESIS_HASH, AuditRecord

RUN_STARTED = "run_started"
RUN_ENDED = "run_ended"
REVIEW = "review"
STATUS_CHANGED = "status_changed"
GC_DELETED = "gc_deleted"
ACCESS_DENIED = "access_denied"
EXPORT = "export"
CATALOG_FORGET = "catalog_forget"
PROMOTED = "promoted"  # an environment's versions made current in another
ROLLED_BACK = "rolled_back"  # earlier versions made current again
ENV_DROPPED = "env_dropped"  # an environment's pointers removed
CI_TESTED = "ci_tested"  # slim CI built an environment from a commit (what a merge may promote)
ACTIONS = (RUN_STARTED, RUN_ENDED, REVIEW, STATUS_CHANGED, GC_DELETED, ACCESS_DENIED, EXPORT, CATALOG_FORGET, PROMOTED,
           ROLLED_BACK, ENV_DROPPED, CI_TESTED)


class AuditChainError(DataOpsError):
    """`audit --verify` found an entry that was changed, or a gap where one was removed."""

    exit_code = 1

    def __init__(self, entry_id: int, problem: str) -> None:
        super().__init__(f"Audit entry #{entry_id} {problem}.")
        self.entry_id = entry_id
        self.problem = problem


def record(ledger: Ledger, action: str, *, user: str | None = None, origin: str | None = None,
           target: str | None = None, details: dict[str, Any] | None = None,
           secrets: list[str] | None = None, con: Any = None) -> AuditRecord:
    """Append one entry. `user` and `origin` default to the CLI's (DATAOPS_USER or the login,
    "cli"); the server always passes its authenticated user and "server". With `con`, the entry
    joins the caller's transaction (`con` is kept for callers that name theirs), so it is written
    exactly when what it records is."""
    from .security import current_origin, current_user, redact

    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    details = redact(details or {}, sorted(secrets or [], key=len, reverse=True))
    fields = {"user": user or current_user(), "origin": origin or current_origin(), "action": action,
              "target": target, "details": details}
    return ledger.audit.append(**fields)  # inside the caller's transaction, it joins it


def entries(ledger: Ledger, *, since: str | None = None, user: str | None = None) -> list[AuditRecord]:
    """Entries oldest first; `since` is an ISO date or time (UTC unless it says) or an age (30m, 12h, 7d)."""
    return ledger.audit.entries(since=parse_since(since) if since else None, user=user)


@dataclass(frozen=True)
class Verified:
    entries: int
    head: str  # the newest entry's hash: keep it elsewhere to detect a truncated tail too


def verify(ledger: Ledger) -> Verified:
    """Walk the chain from the first entry; raise AuditChainError at the first broken one."""
    previous_id, previous_hash = 0, GENESIS_HASH
    found = ledger.audit.entries()
    for entry in found:
        if entry.id != previous_id + 1:
            missing = f"#{previous_id + 1}" if entry.id == previous_id + 2 else f"#{previous_id + 1} to #{entry.id - 1}"
            raise AuditChainError(entry.id, f"follows #{previous_id}: {missing} was removed")
        if entry.prev_hash != previous_hash:
            raise AuditChainError(entry.id, "does not carry the hash of the entry before it")
        if entry.hash != entry.expected_hash():
            raise AuditChainError(entry.id, f"({entry.action} by {entry.user} at {entry.at}) was changed: "
                                            "its hash does not match its contents")
        previous_id, previous_hash = entry.id, entry.hash
    return Verified(entries=len(found), head=previous_hash)


AGE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> str:
    """`text` as the ISO UTC timestamp the ledger's `at` column compares with."""
    text = text.strip()
    age = AGE.match(text)
    if age:
        moment = datetime.now(timezone.utc) - timedelta(**{UNITS[age.group(2)]: int(age.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            message = f"--since '{text}' is not a date, a time (2026-12-01T09:30) or an age (30m, 12h, 7d)."
            raise DataOpsError(message) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")

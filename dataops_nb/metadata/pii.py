"""Personal data: find it on publish, and mask it wherever rows are shown.

Classification looks at a sample of the string columns of a version and flags a column
when most of its non-null sampled values look like one kind of personal data: e-mail
addresses, phone numbers, payment card numbers (Luhn-valid) or national identifiers
(US social security numbers). Its confidence is the share of sampled values that match.

Masking has one policy and one function. The columns to mask are the union of the
columns tagged `pii` in the spec and those flagged automatically, unless a role of the
current user may unmask the dataset (`access.roles.<role>.unmask` patterns). Without an
`access` section nobody may unmask. `mask_rows` is what previews, failing-row samples,
widgets and JSON output all go through.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..security import MASK

SAMPLE_ROWS = 1000
MIN_CONFIDENCE = 0.5
MAX_LENGTH = 200

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_CARD = re.compile(r"^\d{4}([ -]?)\d{4,6}\1\d{4,5}(\1\d{1,4})?$|^\d{13,19}$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?$|^\d{1,3}(\.\d{1,3}){3}$")

KINDS = ("email", "national_id", "card_number", "phone")


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def kind_of(value: str) -> str | None:
    """The kind of personal data one value looks like, or None."""
    text = value.strip()
    if not text or len(text) > MAX_LENGTH:
        return None
    if "@" in text:
        return "email" if _EMAIL.match(text) else None
    if _SSN.match(text):
        return "national_id"
    if _CARD.match(text):
        digits = re.sub(r"[ -]", "", text)
        if 13 <= len(digits) <= 19 and luhn(digits) and len(set(digits)) > 1:
            return "card_number"
    if _PHONE.match(text) and not _DATE_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        separated = text.startswith("+") or any(c in text for c in " ()-.")
        if 7 <= len(digits) <= 15 and separated and text.count("(") == text.count(")"):
            return "phone"
    return None


def classify_values(values: Iterable[Any]) -> tuple[str, float] | None:
    """(kind, confidence) for one column's sampled values, or None when it is not PII."""
    texts = [v for v in values if isinstance(v, str) and v.strip()]
    if not texts:
        return None
    kinds = Counter(kind_of(text) for text in texts)
    kinds.pop(None, None)
    if not kinds:
        return None
    kind, hits = kinds.most_common(1)[0]
    confidence = round(hits / len(texts), 2)
    return (kind, confidence) if confidence >= MIN_CONFIDENCE else None


def classify(path: Path | str, schema: list[dict[str, str]], con: Any = None, *, rows: int | None = None) -> dict[str, dict[str, Any]]:
    """{column: {"kind", "confidence"}} for the string columns of a parquet file that look like PII."""
    from ..store import scratch

    strings = [c["name"] for c in schema if c["type"].upper() in ("VARCHAR", "TEXT", "STRING")]
    if not strings:
        return {}
    own = con is None
    con = con or scratch()
    idents = ", ".join('"' + name.replace('"', '""') + '"' for name in strings)
    source = "read_parquet('" + str(path).replace("'", "''") + "')"
    sample = "" if rows is not None and rows <= SAMPLE_ROWS else f" USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (7)"
    try:
        records = con.sql(f"SELECT {idents} FROM {source}{sample}").fetchall()
    finally:
        if own:
            con.close()
    found = {}
    for index, name in enumerate(strings):
        verdict = classify_values(record[index] for record in records)
        if verdict:
            found[name] = {"kind": verdict[0], "confidence": verdict[1]}
    return found


def describe_file(path: Path | str, schema: list[dict[str, str]], con: Any = None, *, rows: int | None = None) -> dict[str, Any]:
    """What a publish adds to its manifest entry: the profile and the auto-flagged PII."""
    from .profile import profile

    return {"profile": profile(path, schema, con), "pii": classify(path, schema, con, rows=rows)}


# --- policy and masking ------------------------------------------------------------------


def may_unmask(spec: Any, user: str, dataset: str) -> bool:
    """A role of `user` has an `unmask` pattern matching `dataset` (never without `access`)."""
    from ..security import may

    return may(spec, user, dataset, "unmask")


def pii_columns(spec: Any, dataset: str, auto: Iterable[str] = ()) -> set[str]:
    """Spec-tagged `pii` columns plus automatically flagged ones."""
    meta = spec.datasets.get(dataset) if spec is not None else None
    return set(meta.pii_columns if meta else ()) | set(auto)


def masked_columns(spec: Any, dataset: str, auto: Iterable[str] = (), user: str | None = None) -> set[str]:
    """The columns of `dataset` that `user` (default: the current user) must not see."""
    from ..security import current_user

    columns = pii_columns(spec, dataset, auto)
    if columns and may_unmask(spec, user or current_user(), dataset):
        return set()
    return columns


def hidden(spec: Any, ledger: Any, dataset: str, version_id: str | None = None, *,
           auto: Iterable[str] | None = None, user: str | None = None) -> set[str]:
    """The masking policy for rows of one dataset version: what `user` may not see.

    `auto` are the columns flagged on publish when the caller has them (a staged
    version's manifest); otherwise they come from the ledger (the version's profile and
    the dataset's current flags).
    """
    if auto is None:
        auto = ledger.auto_pii(dataset, version_id) if ledger is not None else ()
    return masked_columns(spec, dataset, auto, user)


def mask_rows(rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> list[dict[str, Any]]:
    """`rows` with every non-null value of `columns` replaced by the mask."""
    hidden = set(columns)
    return [
        {name: (MASK if name in hidden and value is not None else value) for name, value in row.items()}
        for row in rows
    ]


def described(item: Mapping[str, Any], path: Path | str) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """(profile, pii) of a published manifest entry; computed now when the step could not."""
    if isinstance(item.get("profile"), list):
        return item["profile"], dict(item.get("pii") or {})
    try:
        found = describe_file(path, list(item.get("schema") or []), rows=item.get("rows"))
    except Exception:  # noqa: BLE001 - a version without a profile is still a version
        return None, None
    return found["profile"], found["pii"]

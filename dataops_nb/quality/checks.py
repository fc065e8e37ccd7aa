"""Check definitions: parsed from `dataops.yaml` or recorded by `step.check(...)`.

What a kind accepts, its SQL and its judgement belong to the kind (`kind.py`, `builtin.py`,
found through `registry.py`); this module holds what every check has.

A check in the spec is a bare name (`not_null`) or `{name: {arguments}}`. Every check
has a severity (warn or error; default error) and optional thresholds `warn_if` /
`error_if`: a count or a fraction of rows (`">0"`, `">=5"`, `">1%"`,
`"between 5 and 10"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DataOpsError, did_you_mean

if TYPE_CHECKING:
    from .kind import CheckKind


COMMON = {"severity", "warn_if", "error_if", "column", "name", "description"}
SEVERITIES = ("warn", "error")
_THRESHOLD = re.compile(
    r"^\s*(?:(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>\d+(?:\.\d+)?)(?P<pct>%)?"
    r"|between\s+(?P<lo>\d+(?:\.\d+)?)(?P<lopct>%)?\s+and\s+(?P<hi>\d+(?:\.\d+)?)(?P<hipct>%)?)\s*$"
)


class CheckDefinitionError(DataOpsError):
    """A check that cannot be used; `field` says where inside the check (`kind.argument`), if known."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Threshold:
    """A condition on the failing count (or fraction, for %)."""

    text: str
    op: str
    low: float
    high: float | None
    fraction: bool

    @classmethod
    def parse(cls, text: Any) -> Threshold:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = f">{text}"
        match = _THRESHOLD.match(str(text))
        if not match:
            raise CheckDefinitionError(
                f"threshold {text!r} is malformed (use e.g. '>0', '>=5', '>1%' or 'between 5 and 10')"
            )
        if match.group("op"):
            return cls(str(text), match.group("op"), float(match.group("value")), None, bool(match.group("pct")))
        if bool(match.group("lopct")) != bool(match.group("hipct")):
            raise CheckDefinitionError(f"threshold {text!r} mixes a count and a percentage")
        return cls(str(text), "between", float(match.group("lo")), float(match.group("hi")), bool(match.group("lopct")))

    def matches(self, failing: int, rows: int) -> bool:
        value = (100.0 * failing / rows if rows else 0.0) if self.fraction else float(failing)
        if self.op == "between":
            return self.low <= value <= (self.high or 0)
        return {
            ">": value > self.low, ">=": value >= self.low, "<": value < self.low,
            "<=": value <= self.low, "==": value == self.low, "!=": value != self.low,
        }[self.op]


@dataclass(frozen=True)
class Check:
    kind: str
    dataset: str
    column: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    severity: str = "error"
    warn_if: Threshold | None = None
    error_if: Threshold | None = None
    origin: str = "spec"  # spec or notebook
    label: str | None = None  # the check's own `name:`, when it has one

    @property
    def handler(self) -> CheckKind:
        """The kind's implementation: its SQL and its judgement."""
        from .registry import find

        found = find(self.kind)
        if found is None:
            raise CheckDefinitionError(f"check kind '{self.kind}' is not installed")
        return found

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        columns = self.args.get("columns")
        target = ",".join(columns) if columns else self.column
        return f"{self.kind}({target})" if target else self.kind

    @property
    def qualified(self) -> str:
        """The name a user sees: `notebook:NAME` for a notebook's check (see `check_label`)."""
        return check_label(self.origin, self.name)

    def outcome(self, failing: int, rows: int) -> str:
        """pass, warn or error for a failing count (dbt's severity semantics)."""
        error_if = self.error_if or (Threshold.parse(">0") if self.severity == "error" else None)
        warn_if = self.warn_if or Threshold.parse(">0")
        if error_if is not None and error_if.matches(failing, rows):
            return "error"
        if warn_if.matches(failing, rows):
            return "warn"
        return "pass"

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "dataset": self.dataset, "column": self.column, "args": self.args,
            "severity": self.severity, "name": self.label,
            "warn_if": self.warn_if.text if self.warn_if else None,
            "error_if": self.error_if.text if self.error_if else None,
        }


ORIGINS = ("spec", "notebook")


def check_label(origin: str | None, name: str) -> str:
    """How a check is named to a user: a declared check by its name, a notebook check as
    `notebook:NAME` (a declared check and a notebook check may share a name; both are shown)."""
    return name if origin in (None, "spec") else f"{origin}:{name}"


def parse_label(text: str) -> tuple[str | None, str]:
    """`spec:NAME` or `notebook:NAME` as (origin, name); a bare name has no origin."""
    origin, sep, name = text.partition(":")
    return (origin, name) if sep and origin in ORIGINS and name else (None, text)


def parse_check(entry: Any, *, dataset: str, column: str | None = None, origin: str = "spec") -> Check:
    """One spec entry (`name` or `{name: {args}}`) as a Check; raises CheckDefinitionError."""
    from .registry import find, unknown_kind

    if isinstance(entry, str):
        name, args = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, args = next(iter(entry.items()))
        args = dict(args or {}) if isinstance(args, dict) else None
        if args is None:
            raise CheckDefinitionError(f"the arguments of check '{name}' must be a mapping")
    else:
        raise CheckDefinitionError("a check is a name or a mapping {name: {arguments}}")
    kind = find(str(name))
    if kind is None:
        raise CheckDefinitionError(unknown_kind(str(name)))
    column = args.pop("column", column)
    common = {key: args.pop(key) for key in list(args) if key in COMMON}
    own = _arguments(kind, args)
    if kind.needs_column(own) and column is None:
        raise CheckDefinitionError(f"check '{kind.name}' needs a column (declare it under columns, or give column:)")
    severity = str(common.get("severity", "error"))
    if severity not in SEVERITIES:
        raise CheckDefinitionError(f"severity '{severity}' must be warn or error")
    warn_if = Threshold.parse(common["warn_if"]) if "warn_if" in common else None
    error_if = Threshold.parse(common["error_if"]) if "error_if" in common else None
    label = common.get("name")
    kind.prepare(own)
    return Check(kind.name, dataset, column, own, severity, warn_if, error_if, origin, str(label) if label else None)


def _arguments(kind: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The kind's own arguments, validated by its model; `min: null` is the same as leaving it out."""
    from pydantic import ValidationError

    model = kind.Arguments
    for key in args:
        if key not in model.model_fields:
            raise CheckDefinitionError(
                f"check '{kind.name}' has no argument '{key}'{did_you_mean(key, set(model.model_fields) | COMMON)}",
                field=f"{kind.name}.{key}",
            )
    given = {key: value for key, value in args.items() if value is not None}
    try:
        validated = model.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "missing":
            raise CheckDefinitionError(f"check '{kind.name}' needs '{key}'") from exc
        info = model.model_fields.get(key)
        expected = info.description if info is not None and info.description else error["msg"]
        raise CheckDefinitionError(
            f"check '{kind.name}' argument '{key}' must be {expected} (got {given.get(key)!r})",
            field=f"{kind.name}.{key}",
        ) from exc
    return {key: value for key, value in validated.model_dump(exclude_unset=True).items() if value is not None}


def from_record(record: dict[str, Any]) -> Check:
    """A check recorded in a step's manifest by `step.check(...)`."""
    entry = {record["kind"]: {**record.get("args", {}), "severity": record.get("severity", "error")}}
    if record.get("name"):
        entry[record["kind"]]["name"] = record["name"]
    for key in ("warn_if", "error_if"):
        if record.get(key):
            entry[record["kind"]][key] = record[key]
    return parse_check(entry, dataset=record["dataset"], column=record.get("column"), origin="notebook")

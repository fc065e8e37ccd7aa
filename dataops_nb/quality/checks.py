"""Check definitions: parsed from `dataops.yaml` or recorded by `step.check(...)`.

A check in the spec is a bare name (`not_null`) or `{name: {arguments}}`. Every check
has a severity (warn or error; default error) and optional thresholds `warn_if` /
`error_if`: a count or a fraction of rows (`">0"`, `">=5"`, `">1%"`,
`"between 5 and 10"`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import DataOpsError, did_you_mean
from ..spec import parse_duration


@dataclass(frozen=True)
class Argument:
    """What a check argument must be: `convert` returns the value to use, or raises ValueError."""

    expected: str
    convert: Callable[[Any], Any]


def _kept_if(test: Callable[[Any], bool]) -> Callable[[Any], Any]:
    """A conversion that keeps a value passing `test` as it is."""

    def convert(value: Any) -> Any:
        if not test(value):
            raise ValueError(value)
        return value

    return convert


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_number(value) and isinstance(value, int) and value >= 0


def _is_bound(value: Any) -> bool:
    """A number, a date or timestamp (YAML parses unquoted ones), or an ISO string of one."""
    if _is_number(value) or isinstance(value, date):
        return True
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(name, str) for name in value)


COUNT = Argument("a whole number of 0 or more", _kept_if(_is_count))
POSITIVE = Argument("a positive number", _kept_if(lambda value: _is_number(value) and value > 0))
FLAG = Argument("true or false", _kept_if(lambda value: isinstance(value, bool)))
TEXT = Argument("a string", _kept_if(lambda value: isinstance(value, str)))
BOUND = Argument("a number or an ISO date or timestamp", _kept_if(_is_bound))
VALUES = Argument("a list of values", _kept_if(lambda value: isinstance(value, list)))
NAMES = Argument("a list of column names", _kept_if(_is_names))
DURATION = Argument("a duration such as 30s, 10m, 2h or 7d", parse_duration)
ANOMALY = {"sensitivity": POSITIVE, "min_history": COUNT}

# kind -> (applies to a column?, required arguments, allowed arguments and what each must be)
KINDS: dict[str, tuple[bool, set[str], dict[str, Argument]]] = {
    "not_null": (True, set(), {}),
    "unique": (True, set(), {"columns": NAMES}),
    "accepted_values": (True, {"values"}, {"values": VALUES}),
    "range": (
        True, set(), {"min": BOUND, "max": BOUND, "min_inclusive": FLAG, "max_inclusive": FLAG}
    ),
    "regex": (True, {"pattern"}, {"pattern": TEXT}),
    "relationships": (True, {"to", "field"}, {"to": TEXT, "field": TEXT}),
    "row_count": (False, set(), {"min": COUNT, "max": COUNT}),
    "freshness": (True, set(), {"warn_after": DURATION, "error_after": DURATION}),
    "schema": (False, set(), {"allow_added": FLAG}),
    "sql": (False, {"query"}, {"query": TEXT}),
    "volume_anomaly": (False, set(), ANOMALY),
    "null_rate_anomaly": (True, set(), ANOMALY),
}
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
    def name(self) -> str:
        if self.label:
            return self.label
        columns = self.args.get("columns")
        target = ",".join(columns) if columns else self.column
        return f"{self.kind}({target})" if target else self.kind

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


def parse_check(entry: Any, *, dataset: str, column: str | None = None, origin: str = "spec") -> Check:
    """One spec entry (`name` or `{name: {args}}`) as a Check; raises CheckDefinitionError."""
    if isinstance(entry, str):
        kind, args = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        kind, args = next(iter(entry.items()))
        args = dict(args or {}) if isinstance(args, dict) else None
        if args is None:
            raise CheckDefinitionError(f"the arguments of check '{kind}' must be a mapping")
    else:
        raise CheckDefinitionError("a check is a name or a mapping {name: {arguments}}")
    if kind not in KINDS:
        raise CheckDefinitionError(f"unknown check type '{kind}'{did_you_mean(kind, KINDS)}")
    on_column, required, allowed = KINDS[kind]
    column = args.pop("column", column)
    for key, value in list(args.items()):
        if key in COMMON:
            continue
        if key not in allowed:
            raise CheckDefinitionError(
                f"check '{kind}' has no argument '{key}'{did_you_mean(key, set(allowed) | COMMON)}",
                field=f"{kind}.{key}",
            )
        if value is None:  # `min: null` is the same as leaving it out
            del args[key]
            continue
        try:
            args[key] = allowed[key].convert(value)
        except (TypeError, ValueError) as exc:
            raise CheckDefinitionError(
                f"check '{kind}' argument '{key}' must be {allowed[key].expected} (got {value!r})",
                field=f"{kind}.{key}",
            ) from exc
    missing = sorted(required - set(args))
    if missing:
        raise CheckDefinitionError(f"check '{kind}' needs '{missing[0]}'")
    if on_column and column is None and not (kind == "unique" and args.get("columns")):
        raise CheckDefinitionError(f"check '{kind}' needs a column (declare it under columns, or give column:)")
    severity = str(args.pop("severity", "error"))
    if severity not in SEVERITIES:
        raise CheckDefinitionError(f"severity '{severity}' must be warn or error")
    warn_if = Threshold.parse(args.pop("warn_if")) if "warn_if" in args else None
    error_if = Threshold.parse(args.pop("error_if")) if "error_if" in args else None
    label = args.pop("name", None)
    args.pop("description", None)
    if kind == "regex":
        try:
            re.compile(str(args["pattern"]))
        except re.error as exc:
            raise CheckDefinitionError(f"regex pattern {args['pattern']!r} is invalid ({exc})") from exc
    return Check(kind, dataset, column, args, severity, warn_if, error_if, origin, str(label) if label else None)


def from_record(record: dict[str, Any]) -> Check:
    """A check recorded in a step's manifest by `step.check(...)`."""
    entry = {record["kind"]: {**record.get("args", {}), "severity": record.get("severity", "error")}}
    if record.get("name"):
        entry[record["kind"]]["name"] = record["name"]
    for key in ("warn_if", "error_if"):
        if record.get(key):
            entry[record["kind"]][key] = record[key]
    return parse_check(entry, dataset=record["dataset"], column=record.get("column"), origin="notebook")

"""The kit's check kinds: not_null, unique, accepted_values, range, regex, relationships,
row_count, freshness, schema, sql, volume_anomaly and null_rate_anomaly."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ..errors import did_you_mean
from ..spec import DURATION_SCHEMA, parse_duration
from .checks import CheckDefinitionError
from .kind import Argument, CheckKind
from .sql import THIS, ident, literal, source

if TYPE_CHECKING:
    from ..spec import Spec
    from .checks import Check
    from .results import CheckResult, Target

_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")
_OPENED_FILE = re.compile(r'Cannot access (?:file|directory) "([^"]*)"')
DEFAULT_SENSITIVITY = 3.5
DEFAULT_MIN_HISTORY = 5


def _kept_if(test: Callable[[Any], bool]) -> Callable[[Any], Any]:
    """A conversion that keeps a value passing `test` as it is."""

    def convert(value: Any) -> Any:
        if not test(value):
            raise ValueError(value)
        return value

    return convert


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_bound(value: Any) -> bool:
    """A number, a date or timestamp (YAML parses unquoted ones), or an ISO string of one."""
    if _is_number(value) or isinstance(value, date):
        return True
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


_NUMBER = {"type": "number"}
COUNT = Argument("a whole number of 0 or more",
                 _kept_if(lambda v: _is_number(v) and isinstance(v, int) and v >= 0), {"type": "integer", "minimum": 0})
POSITIVE = Argument("a positive number", _kept_if(lambda v: _is_number(v) and v > 0), {**_NUMBER, "exclusiveMinimum": 0})
FLAG = Argument("true or false", _kept_if(lambda v: isinstance(v, bool)), {"type": "boolean"})
TEXT = Argument("a string", _kept_if(lambda v: isinstance(v, str)), {"type": "string"})
BOUND = Argument("a number or an ISO date or timestamp", _kept_if(_is_bound),
                 {"anyOf": [_NUMBER, {"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})
VALUES = Argument("a list of values", _kept_if(lambda v: isinstance(v, list)), {"type": "array"})
NAMES = Argument("a list of column names",
                 _kept_if(lambda v: isinstance(v, list) and bool(v) and all(isinstance(n, str) for n in v)),
                 {"type": "array", "items": {"type": "string"}, "minItems": 1})
DURATION = Argument("a duration such as 30s, 10m, 2h or 7d", parse_duration, DURATION_SCHEMA)


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotNull(CheckKind):
    name, on_column, description = "not_null", True, "No NULL values in the column."

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        return f"{ident(check.column)} IS NULL"


class UniqueArguments(_Arguments):
    columns: NAMES = None


class Unique(CheckKind):
    """Exact: rows repeating an earlier row's key (NULL keys do not count); composite with `columns`."""

    name, on_column, description = "unique", True, "No two rows share the key (one column, or `columns`)."
    Arguments = UniqueArguments

    def needs_column(self, args: dict[str, Any]) -> bool:
        return not args.get("columns")

    def columns(self, check: Check) -> list[str]:
        return list(check.args.get("columns") or [check.column])

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        columns = self.columns(check)
        names = ", ".join(ident(c) for c in columns)
        key = names if len(columns) == 1 else f"row({names})"
        return f"{key} IN (SELECT {key} FROM {THIS} GROUP BY {names} HAVING count(*) > 1)"

    def expression(self, check: Check, refs: dict[str, str], path: str) -> str | None:
        # A distinct count next to streaming aggregates makes DuckDB materialize every scanned
        # column; as a scalar subquery it reads the key columns only, in the same statement.
        return f"({self.duplicates(check, path)})"

    def duplicates(self, check: Check, path: str) -> str:
        """The exact number of rows repeating an earlier row's key."""
        columns = self.columns(check)
        key = ", ".join(ident(c) for c in columns)
        counted = f"count({key}) - count(DISTINCT {key})" if len(columns) == 1 else (
            f"count(*) - count(DISTINCT row({key}))")
        return f"SELECT {counted} FROM {source(path)}"

    def key_hashes(self, check: Check, path: str) -> str:
        """One 64-bit hash per counted key: equal keys hash alike, so as many distinct hashes
        as keys proves the key unique without a distinct count over the keys themselves."""
        columns = self.columns(check)
        where = f" WHERE {ident(columns[0])} IS NOT NULL" if len(columns) == 1 else ""
        return f'SELECT hash({", ".join(ident(c) for c in columns)}) AS "h" FROM {source(path)}{where}'


class AcceptedValuesArguments(_Arguments):
    values: VALUES


class AcceptedValues(CheckKind):
    name, on_column, description = "accepted_values", True, "Every non-NULL value is one of `values`."
    Arguments = AcceptedValuesArguments

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        col = ident(check.column)
        return f"{col} IS NOT NULL AND {col} NOT IN ({', '.join(literal(v) for v in check.args['values'])})"


class RangeArguments(_Arguments):
    min: BOUND = None
    max: BOUND = None
    min_inclusive: FLAG = None
    max_inclusive: FLAG = None


class Range(CheckKind):
    name, on_column, description = "range", True, "Values between `min` and `max` (inclusive unless told)."
    Arguments = RangeArguments

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        col, args, parts = ident(check.column), check.args, []
        if args.get("min") is not None:
            parts.append(f"{col} {'<' if args.get('min_inclusive', True) else '<='} {literal(args['min'])}")
        if args.get("max") is not None:
            parts.append(f"{col} {'>' if args.get('max_inclusive', True) else '>='} {literal(args['max'])}")
        return " OR ".join(parts) or "FALSE"


class RegexArguments(_Arguments):
    pattern: TEXT


class Regex(CheckKind):
    name, on_column, description = "regex", True, "Every non-NULL value matches `pattern` in full."
    Arguments = RegexArguments

    def prepare(self, args: dict[str, Any]) -> None:
        try:
            re.compile(str(args["pattern"]))
        except re.error as exc:
            raise CheckDefinitionError(f"regex pattern {args['pattern']!r} is invalid ({exc})") from exc

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        col = ident(check.column)
        return f"{col} IS NOT NULL AND NOT regexp_full_match(CAST({col} AS VARCHAR), {literal(check.args['pattern'])})"


class RelationshipsArguments(_Arguments):
    to: TEXT
    field: TEXT


class Relationships(CheckKind):
    name, on_column, description = "relationships", True, "Every non-NULL value appears in `to`'s `field`."
    Arguments = RelationshipsArguments

    def datasets(self, check: Check) -> list[str]:
        return [str(check.args["to"])]

    def validate(self, check: Check, spec: Spec) -> None:
        target = str(check.args["to"])
        if target not in spec.datasets:
            raise CheckDefinitionError(
                f"relationships points to {target}, which is not declared under datasets: in the spec"
                f"{did_you_mean(target, spec.datasets)}; a dataset a check refers to must be declared there "
                "(a description is enough), even when a step publishes it"
            )
        target_columns = spec.datasets[target].columns
        if target_columns and check.args["field"] not in target_columns:
            raise CheckDefinitionError(f"{target} does not declare column '{check.args['field']}'")

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        col, field = ident(check.column), ident(check.args["field"])
        return f"{col} IS NOT NULL AND {col} NOT IN (SELECT {field} FROM {refs[check.args['to']]} WHERE {field} IS NOT NULL)"


class RowCountArguments(_Arguments):
    min: COUNT = None
    max: COUNT = None


class RowCount(CheckKind):
    name, description = "row_count", "The number of rows is at least `min` and at most `max`."
    Arguments = RowCountArguments

    def judge(self, check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
        from .results import CheckResult

        low, high = check.args.get("min"), check.args.get("max")
        bad = (low is not None and rows < low) or (high is not None and rows > high)
        bounds = " and ".join(part for part in (f">= {low}" if low is not None else "",
                                                f"<= {high}" if high is not None else "") if part)
        return CheckResult(check, check.severity if bad else "pass", rows, failing=int(bad), observed=rows,
                           message=f"{rows} rows, expected {bounds}" if bad else f"{rows} rows", duration_s=duration)


class FreshnessArguments(_Arguments):
    warn_after: DURATION = None
    error_after: DURATION = None


class Freshness(CheckKind):
    name, on_column, description = "freshness", True, "The newest value is younger than `warn_after` / `error_after`."
    Arguments = FreshnessArguments

    def expression(self, check: Check, refs: dict[str, str], path: str) -> str | None:
        return f"max({ident(check.column)})"

    def judge(self, check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
        from .results import CheckResult

        if value is None:
            return CheckResult(check, check.severity, rows, message="no values to judge freshness by")
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        else:
            return CheckResult(check, "error", rows, message=f"column {check.column} is not a date or timestamp")
        age = (datetime.now(timezone.utc) - moment).total_seconds()
        status = "pass"
        if check.args.get("error_after") and age > float(check.args["error_after"]):
            status = "error"
        elif check.args.get("warn_after") and age > float(check.args["warn_after"]):
            status = "warn"
        return CheckResult(check, status, rows, observed=age, duration_s=duration,
                           message=f"newest {moment.isoformat()} ({age / 86400:.1f} days old)")


class SchemaArguments(_Arguments):
    allow_added: FLAG = None


class Schema(CheckKind):
    name, description = "schema", "No column removed or retyped since the last version (nor added, unless allowed)."
    Arguments = SchemaArguments

    def judge(self, check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
        from .results import CheckResult

        if target.previous_schema is None:
            return CheckResult(check, "pass", rows, failing=0, message="no earlier version to compare with")
        old = {c["name"]: c["type"] for c in target.previous_schema}
        new = {c["name"]: c["type"] for c in target.schema}
        changes = [f"removed {name}" for name in old if name not in new]
        changes += [f"{name} {old[name]} -> {new[name]}" for name in old if name in new and old[name] != new[name]]
        if not check.args.get("allow_added", True):
            changes += [f"added {name}" for name in new if name not in old]
        return CheckResult(check, check.severity if changes else "pass", rows, failing=len(changes),
                           message="; ".join(changes) or "unchanged")


class SqlArguments(_Arguments):
    query: TEXT


class Sql(CheckKind):
    """A query returning the failing rows; `{this}` is the dataset under check."""

    name, description = "sql", "A SELECT returning the failing rows; {this} is the dataset."
    Arguments = SqlArguments

    def validate(self, check: Check, spec: Spec) -> None:
        import duckdb  # only specs with SQL checks pay for it

        from ..store import scratch

        parser = scratch()  # DuckDB's own parser decides what is SQL
        try:
            statements = parser.extract_statements(self.query(check))
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise CheckDefinitionError(f"the check's SQL does not parse: {first}", field="sql.query") from exc
        finally:
            parser.close()
        kinds = [statement.type.name for statement in statements]  # a WITH query is a SELECT too
        if kinds != ["SELECT"]:
            raise CheckDefinitionError(
                f"the check's SQL must be exactly one SELECT or WITH query (got {', '.join(kinds) or 'none'})",
                field="sql.query",
            )

    def bind(self, check: Check, columns: dict[str, str | None]) -> None:
        """Bound on an empty relation of `columns`, so it costs no data; an untyped column is a
        NULL, which DuckDB casts to whatever the query compares it with."""
        import duckdb

        from ..store import sealed

        what = f"sql check '{check.label}'" if check.label else "the sql check"
        con = sealed()  # a query that opens a file (read_csv('/etc/passwd')) does not bind
        try:
            for typed in (True, False):
                empty = ", ".join((f"CAST(NULL AS {kind})" if typed and kind else "NULL") + f" AS {ident(name)}"
                                  for name, kind in columns.items())
                try:
                    con.sql(f"WITH {THIS} AS (SELECT {empty} LIMIT 0) SELECT * FROM ({self.query(check)}) LIMIT 0")
                    return
                except duckdb.Error as exc:
                    first = str(exc).splitlines()[0]
                    if typed and "Type with name" in first:  # a declared type DuckDB does not know: names only
                        continue
                    break
        finally:
            con.close()
        missing, table = _MISSING_COLUMN.search(first), _MISSING_TABLE.search(first)
        opened = _OPENED_FILE.search(first)
        if opened:
            problem = (f"{what} on {check.dataset} opens the file {opened.group(1)}: a check reads only "
                       "{this} (and, for relationships, the dataset it names)")
        elif missing:
            problem = (f"{what} on {check.dataset} refers to column '{missing.group(1)}', which {check.dataset} "
                       f"does not have{did_you_mean(missing.group(1), columns)}")
        elif table:
            problem = (f"{what} on {check.dataset} reads table {table.group(1)}, which a check cannot see "
                       "(write {this} for the dataset under check)")
        else:
            problem = f"{what} on {check.dataset} does not bind: {first.split(': ', 1)[-1]}"
        raise CheckDefinitionError(problem, field="sql.query")

    @staticmethod
    def query(check: Check) -> str:
        return str(check.args["query"]).replace("{this}", THIS)

    def expression(self, check: Check, refs: dict[str, str], path: str) -> str | None:
        return f"(SELECT count(*) FROM ({self.query(check)}))"

    def sample(self, check: Check, path: str, refs: dict[str, str], limit: int) -> str | None:
        return f"WITH {THIS} AS (SELECT * FROM {source(path)}) SELECT * FROM ({self.query(check)}) LIMIT {int(limit)}"


def _median(ordered: list[float]) -> float:
    """The median of a sorted, non-empty list (statistics.median without its checks: a monitoring
    sweep scores every dataset)."""
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def robust_score(measured: float, history: list[float]) -> tuple[float, float]:
    """How far `measured` lies from the median of `history`, in robust standard deviations (MAD); and the median."""
    median = _median(sorted(history))
    mad = _median(sorted([abs(x - median) for x in history]))
    scale = 1.4826 * mad if mad else max(abs(median) * 0.01, 1e-9)
    return abs(measured - median) / scale, median


class AnomalyArguments(_Arguments):
    sensitivity: POSITIVE = None
    min_history: COUNT = None


class _Anomaly(CheckKind):
    """Robust z-score of a measure against the dataset's own history (median and MAD)."""

    what = ""
    Arguments = AnomalyArguments

    def measure(self, value: Any, rows: int) -> float:
        raise NotImplementedError

    def judge(self, check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
        from .results import CheckResult

        measured = self.measure(value, rows)
        history = target.history.get((check.origin, check.name), [])
        minimum = int(check.args.get("min_history", DEFAULT_MIN_HISTORY))
        if len(history) < minimum:
            return CheckResult(check, "pass", rows, observed=measured,
                               message=f"{len(history)} of {minimum} versions of history: no judgement yet")
        score, median = robust_score(measured, history)
        sensitivity = float(check.args.get("sensitivity", DEFAULT_SENSITIVITY))
        return CheckResult(check, check.severity if score > sensitivity else "pass", rows, observed=measured,
                           message=f"{self.what} {measured:g} vs median {median:g} "
                                   f"(robust z {score:.1f}, limit {sensitivity:g})")


class VolumeAnomaly(_Anomaly):
    name, what, description = "volume_anomaly", "row count", "The row count is not an outlier against history."

    def measure(self, value: Any, rows: int) -> float:
        return float(rows)


class NullRateAnomaly(_Anomaly):
    name, on_column, what = "null_rate_anomaly", True, "null rate"
    description = "The column's null rate is not an outlier against history."

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        return f"{ident(check.column)} IS NULL"

    def measure(self, value: Any, rows: int) -> float:
        return (int(value or 0) / rows) if rows else 0.0


BUILTIN: tuple[type[CheckKind], ...] = (
    NotNull, Unique, AcceptedValues, Range, Regex, Relationships, RowCount, Freshness, Schema, Sql,
    VolumeAnomaly, NullRateAnomaly,
)

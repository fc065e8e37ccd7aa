"""A check kind: its arguments (a pydantic model), its SQL and its judgement.

Every check in `dataops.yaml` or from `step.check(...)` names a kind. The kit's own kinds
are in `builtin.py`; a project adds its own by subclassing `CheckKind` and naming the
class under the Python entry point group `dataops_nb.checks` (see `registry.py`):

    class Positive(CheckKind):
        name = "positive"
        on_column = True

        class Arguments(BaseModel):
            model_config = ConfigDict(extra="forbid")
            strict: bool = True

        def predicate(self, check, refs):
            op = "<=" if check.args.get("strict", True) else "<"
            return f"{ident(check.column)} {op} 0"

A kind that counts failing rows only writes `predicate` (a WHERE condition true for
failing rows): the fused scan counts them, samples are those rows, and severity and
thresholds judge the count. Kinds that measure something else write `expression` (the
aggregate they add to the fused scan) and `judge`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .sql import THIS, ident, literal, source

if TYPE_CHECKING:
    from ..spec import Spec
    from .checks import Check
    from .results import CheckResult, Target

__all__ = ["Argument", "CheckKind", "NoArguments", "ident", "literal"]


def Argument(expected: str, convert: Callable[[Any], Any], schema: dict[str, Any]) -> Any:
    """The type of one check argument: `convert` returns the value to keep or raises ValueError;
    `expected` says what it must be (in messages and the JSON Schema); `schema` types it for editors."""
    return Annotated[
        Any, BeforeValidator(convert), WithJsonSchema({**schema, "description": expected}), Field(description=expected)
    ]


class NoArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckKind:
    """Base of every check kind; subclasses set `name` and fill the hooks they need."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    on_column: ClassVar[bool] = False  # needs a column (declared under `columns:` or given as `column:`)
    Arguments: ClassVar[type[BaseModel]] = NoArguments

    # --- what the check refers to ------------------------------------------------------

    def needs_column(self, args: dict[str, Any]) -> bool:
        return self.on_column

    def columns(self, check: Check) -> list[str]:
        """The columns of the dataset the check reads (a missing one is an error result)."""
        return [check.column] if check.column else []

    def datasets(self, check: Check) -> list[str]:
        """Other datasets the check reads (each needs a current version)."""
        return []

    def prepare(self, args: dict[str, Any]) -> None:
        """More rules on validated arguments (raise CheckDefinitionError)."""

    def validate(self, check: Check, spec: Spec) -> None:
        """Rules against the spec when it loads (raise CheckDefinitionError)."""

    def bind(self, check: Check, columns: dict[str, str | None]) -> None:
        """Raise CheckDefinitionError when the check's own SQL cannot run on a dataset of these
        columns (name -> type, or None); called when the spec loads, for kinds that take SQL."""

    # --- its SQL ---------------------------------------------------------------------

    def predicate(self, check: Check, refs: dict[str, str]) -> str | None:
        """A WHERE condition true for the rows that fail; None for table-level checks."""
        return None

    def expression(self, check: Check, refs: dict[str, str], path: str) -> str | None:
        """The aggregate this check adds to the fused scan (None: needs no scan)."""
        predicate = self.predicate(check, refs)
        return f"count(*) FILTER (WHERE {predicate})" if predicate else None

    def sample(self, check: Check, path: str, refs: dict[str, str], limit: int) -> str | None:
        """The failing rows of a failed check, at most `limit` of them (None: no rows to show)."""
        predicate = self.predicate(check, refs)
        if predicate is None:
            return None
        return (f"WITH {THIS} AS (SELECT * FROM {source(path)}) SELECT * FROM {THIS} "
                f"WHERE {predicate} LIMIT {int(limit)}")

    # --- its judgement ---------------------------------------------------------------

    def judge(self, check: Check, value: Any, rows: int, target: Target, duration: float) -> CheckResult:
        """The result from the scan's value: by default a failing count judged by severity and thresholds."""
        from .results import CheckResult

        failing = int(value or 0)
        return CheckResult(check, check.outcome(failing, rows), rows, failing=failing, observed=failing,
                           duration_s=duration)

    def __repr__(self) -> str:
        return f"<check kind {self.name}>"

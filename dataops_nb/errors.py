"""One error root. Each error carries what a user needs to fix the problem.

Interfaces (the CLI, the server) translate these; nothing else prints them.
`exit_code` follows the CLI contract: 2 for bad input, 1 for a failed step or check.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest valid name to a typo, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    match = nearest(name, candidates)
    return f" (did you mean '{match}'?)" if match else ""


class DataOpsError(Exception):
    """Root of every error the kit raises on purpose."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SpecError(DataOpsError):
    """The pipeline spec is malformed: names the file, line and field."""

    def __init__(
        self,
        problem: str,
        *,
        file: Path | str,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = str(file) + (f":{line}" if line else "")
        at = f" at '{field}'" if field else ""
        super().__init__(f"{where}: {problem}{at}.".replace("..", "."))
        self.problem = problem
        self.file = str(file)
        self.line = line
        self.field = field


class DatasetNameError(DataOpsError):
    """A dataset name that is not `schema.table` of lower-case identifiers."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Dataset name {name!r} is not valid: use schema.table with lower-case "
            "letters, digits and underscores (for instance staging.flights)."
        )
        self.name = name


class NotFoundError(DataOpsError):
    """A named thing (step, dataset, run, template, version) does not exist."""

    def __init__(self, kind: str, name: str, candidates: Iterable[str] = ()) -> None:
        candidates = sorted(candidates)
        hint = did_you_mean(name, candidates)
        if not hint and 0 < len(candidates) <= 8:
            hint = " (known: " + ", ".join(candidates) + ")"
        super().__init__(f"Unknown {kind} '{name}'{hint}.")
        self.kind = kind
        self.name = name


class ParameterError(DataOpsError):
    """A parameter that the notebook does not define, or of the wrong type."""


class NotebookError(DataOpsError):
    """A step notebook that cannot be used (missing, unreadable, no parameters cell)."""


class ConflictError(DataOpsError):
    """The request conflicts with what exists (a step that exists, a run in progress)."""


class AccessDeniedError(DataOpsError):
    """The user's roles (`access` in dataops.yaml) do not allow this."""


class LedgerUnreadableError(DataOpsError):
    """A ledger file exists but is not a database the kit can read (empty, truncated, another format).

    It is never replaced: it may be the only record of the project's history.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(
            f"The ledger {path} {problem}; it was left untouched: restore it from a backup, "
            "or move it aside to start a new, empty ledger."
        )
        self.path = str(path)
        self.problem = problem


class StepFailedError(DataOpsError):
    """One or more steps failed during a run."""

    exit_code = 1

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class CiFailedError(DataOpsError):
    """`ci` built the changed steps, and a step, an error-severity check or a notebook test failed."""

    exit_code = 1

    def __init__(self, environment: str, problems: list[str]) -> None:
        super().__init__(f"ci in {environment} failed: " + " ".join(problems))
        self.environment = environment
        self.problems = problems


class PublishError(DataOpsError):
    """A step could not publish a dataset."""


class NotebookTestsFailedError(DataOpsError):
    """nbval found notebooks whose outputs or execution changed."""

    exit_code = 1


class LintError(DataOpsError):
    """`lint` found errors (or, with --strict, warnings)."""

    exit_code = 1


class QualityGateError(DataOpsError):
    """Error-severity checks failed on staged versions; `quarantined`: they stay in quarantine."""

    exit_code = 1

    def __init__(self, message: str, *, quarantined: bool = False) -> None:
        super().__init__(message)
        self.quarantined = quarantined


class DifferencesFoundError(DataOpsError):
    """`diff --fail-on-diff` found differences (named)."""

    exit_code = 1

    def __init__(self, a: str, b: str, datasets: list[str]) -> None:
        super().__init__(f"{a} and {b} differ in {len(datasets)} dataset(s): {', '.join(datasets)}.")
        self.a, self.b, self.datasets = a, b, datasets


class NotReproducedError(DataOpsError):
    """`replay --verify`: the replay of a run did not reproduce it (the datasets that differ, and why)."""

    exit_code = 1

    def __init__(self, run_id: str, datasets: list[str], reasons: list[str]) -> None:
        what = f"differs in {', '.join(datasets)}" if datasets else "did not complete"
        super().__init__(f"The replay of run {run_id} {what}" + (f": {reasons[0]}." if reasons else "."))
        self.run_id, self.datasets, self.reasons = run_id, datasets, reasons


class FreshnessError(DataOpsError):
    """A dataset is older than its SLA's error_after."""

    exit_code = 1


class MonitorError(DataOpsError):
    """A monitoring sweep found something in error (exit 1, for cron and CI); `errors` names each."""

    exit_code = 1

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} problem(s) in error: {', '.join(errors[:20])}"
                         + (" ..." if len(errors) > 20 else "") + ".")
        self.errors = errors


class LedgerError(DataOpsError):
    """The ledger cannot be opened or used as asked (newer schema, needs migrating, read-only)."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class IllegalTransitionError(DataOpsError):
    """A dataset version asked to move to a status its current status does not allow."""

    def __init__(self, version_id: str, current: str, wanted: str) -> None:
        super().__init__(
            f"Version {version_id} is {current}; it cannot become {wanted}."
        )
        self.version_id = version_id
        self.current = current
        self.wanted = wanted


class CheckFileAccessError(DataOpsError):
    """A check's SQL tried to open a file other than its dataset's own (or a relationship's)."""

    def __init__(self, dataset: str, detail: str) -> None:
        super().__init__(
            f"A check of {dataset} tried to open a file other than the dataset's own ({detail}): "
            "checks read only {this} and, for relationships, the dataset they name."
        )
        self.dataset = dataset
        self.detail = detail


# --- errors between processes (the run worker and whoever started it) -----------------

_PLAIN = (str, int, float, bool, type(None))


def error_record(exc: BaseException) -> dict[str, Any]:
    """An error as data another process can rebuild: its type, message, exit code and plain fields."""
    fields = {k: v for k, v in vars(exc).items() if k != "message" and isinstance(v, _PLAIN)}
    return {"type": type(exc).__name__, "message": str(exc), "exit_code": getattr(exc, "exit_code", 1),
            "fields": fields}


def _subclasses(cls: type) -> dict[str, type]:
    found = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        found.update(_subclasses(sub))
    return found


def rebuilt_error(record: dict[str, Any]) -> DataOpsError:
    """The `DataOpsError` an `error_record` describes, as its own class where this process knows it
    (so an interface maps it as it would have in the worker: 409 for a conflict, 404 for a name)."""
    cls = _subclasses(DataOpsError).get(str(record.get("type")), DataOpsError)
    error = cls.__new__(cls)
    DataOpsError.__init__(error, str(record.get("message", "the run failed")))
    error.__dict__.update(record.get("fields") or {})
    if record.get("exit_code") is not None and record["exit_code"] != cls.exit_code:
        error.exit_code = int(record["exit_code"])
    return error

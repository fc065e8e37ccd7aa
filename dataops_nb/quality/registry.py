"""Check kinds by name: the kit's own, and those projects add through the entry point group
`dataops_nb.checks` (`name = "package.module:KindClass"` in the package's pyproject).

Built-in kinds win over an entry point of the same name. Entry points are looked up only
for a name that is not built in (and for the JSON Schema), so specs that use the kit's
kinds never scan the installed packages.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import DataOpsError, did_you_mean
from .builtin import BUILTIN
from .kind import CheckKind

GROUP = "dataops_nb.checks"
_BUILTIN: dict[str, CheckKind] = {kind.name: kind() for kind in BUILTIN}
_plugins: dict[str, CheckKind] = {}
_lock = threading.Lock()


class CheckKindError(DataOpsError):
    """An entry point of `dataops_nb.checks` that is not a usable check kind."""

    def __init__(self, message: str, *, entry_point: str) -> None:
        super().__init__(message)
        self.entry_point = entry_point


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP) if ep.name not in _BUILTIN}


def _load(entry_point: Any) -> CheckKind:
    where = f"{entry_point.name} = {entry_point.value}"
    try:
        loaded = entry_point.load()
    except Exception as exc:  # a plugin's import error is reported as its own, not the kit's
        raise CheckKindError(f"Check kind '{where}' ({GROUP}) cannot be imported: {exc}", entry_point=where) from exc
    kind = loaded() if isinstance(loaded, type) and issubclass(loaded, CheckKind) else loaded
    if not isinstance(kind, CheckKind):
        raise CheckKindError(f"Check kind '{where}' ({GROUP}) is not a dataops_nb CheckKind.", entry_point=where)
    if kind.name != entry_point.name:
        raise CheckKindError(
            f"Check kind '{where}' ({GROUP}) calls itself '{kind.name}'; the entry point must use the same name.",
            entry_point=where,
        )
    return kind


def find(name: str) -> CheckKind | None:
    """The kind called `name`, or None when neither the kit nor an installed package has it."""
    kind = _BUILTIN.get(name)
    if kind is not None:
        return kind
    with _lock:
        if name not in _plugins:
            entry_point = _entry_points().get(name)
            if entry_point is None:
                return None
            _plugins[name] = _load(entry_point)
        return _plugins[name]


def names() -> list[str]:
    """Every kind's name, the kit's first (plugins by name, unloaded)."""
    return [*_BUILTIN, *sorted(_entry_points())]


def kinds() -> list[CheckKind]:
    """Every kind, plugins loaded."""
    found = [find(name) for name in names()]
    return [kind for kind in found if kind is not None]


def unknown_kind(name: str) -> str:
    return f"unknown check type '{name}'{did_you_mean(name, names())}"


def check_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of one check item (a union: a bare kind name, or `{kind: arguments}` for
    each kind) and the definitions it refers to, one model per kind with its arguments."""
    from pydantic import Field, create_model

    common: dict[str, Any] = {
        "column": (str | None, Field(None, description="The column, when the check is not declared under one.")),
        "severity": (str, Field("error", json_schema_extra={"enum": ["warn", "error"]})),
        "warn_if": (str | float | None, Field(None, description="A count or fraction of rows: '>0', '>1%', 'between 5 and 10'.")),
        "error_if": (str | float | None, Field(None, description="As warn_if, for the error outcome.")),
        "name": (str | None, Field(None, description="The check's own name in results and reviews.")),
        "description": (str | None, None),
    }
    defs: dict[str, Any] = {}
    objects, bare = [], []
    for kind in kinds():
        title = "".join(part.title() for part in kind.name.split("_")) + "Check"
        model = create_model(title, __base__=kind.Arguments, __doc__=kind.description or None, **common)
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[title] = schema
        ref = {"$ref": f"#/$defs/{title}"}
        objects.append({"type": "object", "properties": {kind.name: {"anyOf": [ref, {"type": "null"}]}},
                        "required": [kind.name], "additionalProperties": False})
        if not any(info.is_required() for info in kind.Arguments.model_fields.values()):
            bare.append(kind.name)
    item = {"anyOf": [{"type": "string", "enum": bare}, *objects],
            "description": "A check: a kind's name, or {kind: {arguments}}."}
    return item, defs

"""Step parameters: read a notebook's `parameters` cell, resolve and type-check values.

Resolution order: the step's `params` in the spec, then the `--env` overlay, then
`-p KEY=VALUE` (`-p STEP.KEY=VALUE` targets one step). Every name must be defined in
the notebook's parameters cell, and a value must fit the type of the default there.
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ..errors import NotebookError, ParameterError, did_you_mean
from ..spec import Spec, Step

_UNKNOWN = object()


@dataclass(frozen=True)
class NotebookParams:
    """The names a notebook's parameters cell defines, with their literal defaults."""

    notebook: Path
    defaults: dict[str, Any]

    def check(self, step: str, name: str, value: Any, *, origin: str | Callable[[], str]) -> None:
        """Raise if `value` cannot be parameter `name`; `origin` names where it was set (a callable:
        asked only then)."""
        if isinstance(value, YamlText) and name in self.defaults and not isinstance(self.defaults[name], str):
            raise ParameterError(
                f"{_text(origin)}: YAML reads {str(value)!r} as {value.kind}, which a notebook parameter cannot "
                f"take; quote it to pass a string (-p '{name}=\"{value}\"')."
            )
        if name in self.defaults and _fits(self.defaults[name], value):
            return
        origin = _text(origin)
        if name not in self.defaults:
            raise ParameterError(
                f"{origin}: parameter '{name}' of step '{step}' is not defined in the "
                f"parameters cell of {self.notebook}{did_you_mean(name, self.defaults)}."
            )
        default = self.defaults[name]
        raise ParameterError(
            f"{origin}: parameter '{name}' of step '{step}' must be "
            f"{_type_name(default)} like its default {default!r}, not {value!r}."
        )


class YamlText(str):
    """A `-p` value that YAML reads as something a parameter cannot hold (a date, a set, bytes, NaN,
    infinity): kept as the text typed, passed as a string only where the notebook's default is one."""

    kind: str

    def __new__(cls, text: str, kind: str) -> Self:
        value = super().__new__(cls, text)
        value.kind = kind
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (YamlText, (str(self), self.kind))


def _unrepresentable(value: Any) -> str | None:
    """What YAML made of a value that JSON and a parameters cell cannot hold, or None when it is plain."""
    import datetime
    import math

    if isinstance(value, datetime.datetime):
        return "a timestamp"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, (set, frozenset)):
        return "a set"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a number" if math.isnan(value) else "infinity"
    if isinstance(value, (list, tuple)):
        return next((kind for item in value if (kind := _unrepresentable(item))), None)
    if isinstance(value, dict):
        return next((kind for item in [*value, *value.values()] if (kind := _unrepresentable(item))), None)
    return None


def _text(origin: str | Callable[[], str]) -> str:
    return origin() if callable(origin) else origin


def load_notebook_json(path: Path, *, shown: Path | str | None = None) -> dict[str, Any]:
    """The notebook's JSON (`shown` is how messages name it)."""
    name = shown or path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotebookError(f"Notebook {name} does not exist.") from exc
    except (OSError, ValueError) as exc:
        raise NotebookError(f"Notebook {name} is not a readable .ipynb file ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        raise NotebookError(f"Notebook {name} is not a readable .ipynb file (no list of cells).")
    return data


def parameters_cell(nb: Mapping[str, Any]) -> dict[str, Any] | None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return dict(cell)
    return None


def cell_source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# CPython 3.11's AST constructor keeps its recursion depth in interpreter-wide state: two threads
# parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (the server
# answers requests in threads). Every parse of the kit goes through this lock.
_PARSE_LOCK = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """`ast.parse`, one thread at a time."""
    with _PARSE_LOCK:
        return ast.parse(source)


def inspect_notebook(path: Path, *, shown: Path | None = None) -> NotebookParams:
    """Parse the `parameters` cell of the notebook at `path` (`shown` is how to name it)."""
    name = shown or path
    cell = parameters_cell(load_notebook_json(path, shown=name))
    if cell is None:
        raise NotebookError(
            f"Notebook {name} has no cell tagged 'parameters' "
            "(add the tag to the cell that sets the step's parameters)."
        )
    try:
        tree = parse_python(cell_source(cell))
    except SyntaxError as exc:
        raise NotebookError(
            f"The parameters cell of {name} is not valid Python (line {exc.lineno}: {exc.msg})."
        ) from exc
    defaults: dict[str, Any] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value_node: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value_node = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value_node = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    defaults[target.id] = ast.literal_eval(value_node) if value_node else None
                except ValueError:
                    defaults[target.id] = _UNKNOWN
    return NotebookParams(notebook=name, defaults=defaults)


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """`-p KEY=VALUE` pairs; values are YAML scalars or lists (`n=5` gives an int)."""
    pairs = list(pairs)
    if not pairs:
        return {}
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"-p {pair!r}: expected KEY=VALUE (for instance -p sample_rows=500).")
        try:
            value = yaml.load(raw) if raw.strip() else ""
        except YAMLError:
            value = raw
        kind = _unrepresentable(value)
        result[key] = YamlText(raw.strip(), kind) if kind else value
    return result


def resolve(
    spec: Spec,
    steps: Iterable[Step],
    notebooks: Mapping[str, NotebookParams],
    *,
    env: str | None,
    overrides: Mapping[str, Any],
    where: Callable[..., str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The parameters to inject into each step, after every check.

    `where(*loc)` gives `dataops.yaml:LINE:` of a spec field for messages (`Project.where`)."""

    def at(*loc: Any) -> str:
        return where(*loc) if where else "dataops.yaml:"

    steps = list(steps)
    env_params: dict[str, Any] = {}
    if env is not None and env in spec.environments:  # an ad hoc environment overlays nothing
        env_params = dict(spec.environment(env).params)
    all_names = {name for params in notebooks.values() for name in params.defaults}
    for key in env_params:
        if key not in all_names:
            raise ParameterError(
                f"{at('environments', env, 'params', key)} environments.{env}.params: no step notebook "
                f"defines parameter '{key}'{did_you_mean(key, all_names)}."
            )
    step_names = {step.name for step in steps}
    for key in overrides:
        target, dot, name = key.partition(".")
        if dot and target in step_names:
            continue
        if dot and target in spec.step_names:
            raise ParameterError(f"-p {key}: step '{target}' is not among the selected steps.")
        if dot:  # parameter names are identifiers: what comes before the dot names a step
            raise ParameterError(f"-p {key}: unknown step '{target}'{did_you_mean(target, spec.step_names)}.")
        if key not in all_names:
            raise ParameterError(
                f"-p {key}: no selected step defines this parameter{did_you_mean(key, all_names)}."
            )
    resolved: dict[str, dict[str, Any]] = {}
    for step in steps:
        nb = notebooks[step.name]
        secrets = step.secrets()
        values: dict[str, Any] = {}
        index = spec.step_names.index(step.name)
        # a secret need not be in the parameters cell: its value reaches the kernel's
        # environment, read with step.secret(NAME), never a notebook cell
        for name, value in step.plain_params().items():
            nb.check(step.name, name, value,
                     origin=lambda n=name, i=index, s=step.name: f"{at('steps', i, 'params', n)} steps[{s}].params")
            if name not in secrets:
                values[name] = value
        layers = [
            (f"environments.{env}.params", env_params),
            ("-p ", {k: v for k, v in overrides.items() if "." not in k}),
            (f"-p {step.name}.", _targeted(overrides, step.name)),
        ]
        for label, layer in layers:
            for name, value in layer.items():
                if name not in nb.defaults and not label.endswith("."):
                    continue  # a global value for parameters other steps define
                origin: str | Callable[[], str] = f"{label}{name}"  # `-p KEY` as typed
                if layer is env_params:  # a line in the spec, looked up only for a message
                    origin = lambda n=name, label=label: f"{at('environments', env, 'params', n)} {label}"
                if name in secrets:
                    raise ParameterError(
                        f"{_text(origin)}: parameter '{name}' of step '{step.name}' is a secret; "
                        f"set the environment variable {secrets[name]} instead."
                    )
                nb.check(step.name, name, value, origin=origin)
                values[name] = value
        resolved[step.name] = values
    return resolved


def _targeted(overrides: Mapping[str, Any], step: str) -> dict[str, Any]:
    prefix = step + "."
    return {key[len(prefix) :]: value for key, value in overrides.items() if key.startswith(prefix)}


def _fits(default: Any, value: Any) -> bool:
    if default is _UNKNOWN or default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _type_name(default: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", tuple: "a list", dict: "a mapping"}
    return names.get(type(default), f"a {type(default).__name__}")

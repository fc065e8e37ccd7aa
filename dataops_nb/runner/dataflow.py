"""What a step notebook visibly reads, publishes and opens, read from its source alone.

Nothing is executed. A dataset name counts when the call's argument certainly is a string:
a literal, an f-string of literals, or a name bound by a simple constant assignment or by
the parameters cell (whose values the caller may replace, as papermill injects them).
`lint`, the run's refusal of two publishers, and `new` (names from templates) read this.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fingerprint import parse_code
from .params import cell_source, load_notebook_json

_DATASET = r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*"
_LOOKS_LIKE_FILE = re.compile(r"^[\w.\-/]+\.[A-Za-z0-9]{1,8}$")
_PATH_LITERAL = re.compile(r"'([^'\s]+)'")  # a quoted path in SQL text: select * from 'data/x.csv'
_SQL_TABLE = re.compile(r'\b(?:from|join)\s+("?[A-Za-z_][A-Za-z0-9_]*"?\s*\.\s*"?[A-Za-z_][A-Za-z0-9_]*"?)', re.IGNORECASE)


@dataclass
class Dataflow:
    """Where a notebook reads and publishes datasets: name -> (cell, line) of the first use."""

    reads: dict[str, tuple[int, int]] = field(default_factory=dict)
    publishes: dict[str, tuple[int, int]] = field(default_factory=dict)
    surely: set[str] = field(default_factory=set)  # read through the kit (`dn.read`, `step.read`), not any `.read`
    names: dict[str, str] = field(default_factory=dict)  # simple constant assignments (parameters too)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # literal paths: text -> (cell, line)
    declared: set[str] = field(default_factory=set)  # literal paths passed to step.input()
    publish_names: set[str] = field(default_factory=set)  # variables passed as publish's dataset
    secrets: set[str] = field(default_factory=set)  # step.secret("NAME") with a known NAME


def scan(tree: ast.Module, cell: int, flow: Dataflow) -> None:
    """Reads, publishes and opened files of one cell, in cell order."""
    for statement in tree.body:  # `src = "raw.x"` and parameters: what a later `step.read(src)` means
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = text_of(statement.value, flow.names)
            for target in targets:
                if isinstance(target, ast.Name):
                    if value is None:
                        flow.names.pop(target.id, None)
                    else:
                        flow.names[target.id] = value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            first = node.args[0] if node.args else None
            literal = text_of(first, flow.names) if first is not None else None
            dataset = dataset_name(literal)
            if name == "read" and dataset:
                flow.reads.setdefault(dataset, (cell, node.lineno))
                if _is_kit(node.func):
                    flow.surely.add(dataset)
            elif name == "publish" and dataset:
                flow.publishes.setdefault(dataset, (cell, node.lineno))
                if isinstance(first, ast.Name):
                    flow.publish_names.add(first.id)
                if len(node.args) > 1:
                    _sql_reads(node.args[1], cell, flow)
            elif name == "sql" and first is not None:
                _sql_reads(first, cell, flow)
            elif name == "input" and literal:
                flow.declared.add(literal)
            elif name == "secret" and literal:
                flow.secrets.add(literal)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for found in _PATH_LITERAL.findall(node.value) if "'" in node.value else [node.value]:
                if _LOOKS_LIKE_FILE.match(found):
                    flow.files.setdefault(found, (cell, node.lineno))


def is_parameters(cell: dict[str, Any]) -> bool:
    return "parameters" in cell.get("metadata", {}).get("tags", [])


def read_dataflow(notebook: Path, values: dict[str, Any] | None = None) -> Dataflow:
    """A whole notebook's dataflow, with `values` replacing its parameters' defaults."""
    flow = Dataflow()
    for index, cell in enumerate(load_notebook_json(notebook).get("cells", []), start=1):
        tree = parse_code(cell_source(cell)) if cell.get("cell_type") == "code" else None
        if tree is None:
            continue
        scan(tree, index, flow)
        if is_parameters(cell) and values:
            flow.names.update({k: v for k, v in values.items() if isinstance(v, str)})
    return flow


def published_datasets(notebook: Path, values: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The datasets a notebook visibly publishes, with `values` for its parameters: name -> (cell, line)."""
    return read_dataflow(notebook, values).publishes


def spec_publishers(project: Any, values: dict[str, dict[str, Any]] | None = None) -> dict[str, list[tuple[str, int]]]:
    """dataset -> [(step, cell)] for every step of the spec whose notebook visibly publishes it,
    in spec order; `values` gives a step's parameters (default: its plain ones in the spec)."""
    from ..errors import DataOpsError

    found: dict[str, list[tuple[str, int]]] = {}
    for step in project.spec.steps:
        params = (values or {}).get(step.name, step.plain_params())
        try:
            published = published_datasets(project.notebook_path(step), params)
        except DataOpsError:
            continue  # a notebook that cannot be read: lint and the run say so
        for dataset, (cell, _line) in published.items():
            found.setdefault(dataset, []).append((step.name, cell))
    return found


def text_of(node: ast.expr | None, names: dict[str, str]) -> str | None:
    """A string the expression certainly is: a literal, a known name, an f-string of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                inner = text_of(value.value, names) if value.format_spec is None and value.conversion == -1 else None
            else:
                inner = text_of(value, names)
            if inner is None:
                return None
            parts.append(inner)
        return "".join(parts)
    return None


def dataset_name(text: str | None) -> str | None:
    """A dataset name as DuckDB resolves it (case-insensitive, quoted or not), or None."""
    if not text:
        return None
    plain = ".".join(part.strip().strip('"') for part in text.split(".")).lower()
    return plain if re.fullmatch(_DATASET, plain) else None


def _is_kit(func: ast.expr) -> bool:
    """`dn.read`, `step.read`, `dn.step().read`: a call of the kit, not of a file or zip object."""
    if isinstance(func, ast.Name):
        return True  # `from dataops_nb import read`
    receiver = func.value if isinstance(func, ast.Attribute) else None
    if isinstance(receiver, ast.Call):
        receiver = receiver.func
    if isinstance(receiver, ast.Attribute):
        receiver = receiver.value
    return isinstance(receiver, ast.Name) and receiver.id in {"dn", "dataops_nb", "step"}


def _sql_reads(node: ast.expr, cell: int, flow: Dataflow) -> None:
    text = text_of(node, flow.names)
    texts = [text] if text is not None else [
        part.value for part in ast.walk(node) if isinstance(part, ast.Constant) and isinstance(part.value, str)
    ]
    for value in texts:
        for name in _SQL_TABLE.findall(value):
            dataset = dataset_name(name)
            if dataset:
                flow.reads.setdefault(dataset, (cell, node.lineno))

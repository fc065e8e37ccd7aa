"""Notebook files: hygiene for git (strip outputs, keep golden ones) and copying."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN_MARK = "NBVAL_CHECK_OUTPUT"
_VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, nb: dict[str, Any]) -> None:
    tmp = path.with_suffix(".ipynb.tmp")
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def source(cell: dict[str, Any]) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def is_golden(cell: dict[str, Any]) -> bool:
    """A cell whose outputs are checked by nbval (its first line is the marker comment)."""
    first = source(cell).lstrip().split("\n", 1)[0]
    return cell.get("cell_type") == "code" and first.startswith("#") and GOLDEN_MARK in first


def stripped(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook without outputs, counts and volatile metadata, except golden cells."""
    nb = json.loads(json.dumps(nb))
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in _VOLATILE_CELL_METADATA:
            meta.pop(key, None)
        if cell.get("cell_type") != "code" or is_golden(cell):
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
    nb.get("metadata", {}).pop("papermill", None)
    return nb


def strip_outputs(path: Path) -> bool:
    """Strip `path` in place; True when it changed."""
    nb = read(path)
    clean = stripped(nb)
    if clean == nb:
        return False
    write(path, clean)
    return True


def blank_copy(template: Path, target: Path, *, description: str | None = None,
               defaults: dict[str, Any] | None = None) -> None:
    """A new step notebook from a template: no outputs at all, golden cells included;
    `defaults` replace the values its parameters cell assigns."""
    nb = stripped(read(template))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if defaults and "parameters" in cell.get("metadata", {}).get("tags", []):
                cell["source"] = _with_defaults(source(cell), defaults)
    meta = nb.setdefault("metadata", {})
    meta.pop("dataops", None)
    if description:
        meta["dataops"] = {"description": description}
    target.parent.mkdir(parents=True, exist_ok=True)
    write(target, nb)


def _with_defaults(text: str, values: dict[str, Any]) -> str:
    """The parameters cell's text with each `NAME = value` of `values` rewritten, the rest kept."""
    import ast

    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name) and target.id in values:
            value = values[target.id]
            edits.append((node.value, json.dumps(value) if isinstance(value, str) else repr(value)))
    for value, literal in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        start, end = value.lineno - 1, (value.end_lineno or value.lineno) - 1
        head = lines[start].encode()[: value.col_offset].decode()
        tail = lines[end].encode()[value.end_col_offset :].decode()
        lines[start : end + 1] = [head + literal + tail]
    return "".join(lines)


def inject_parameters(nb: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """A copy with a cell tagged `injected-parameters` after the parameters cell (as papermill)."""
    nb = json.loads(json.dumps(nb))
    cells = nb.get("cells", [])
    index = next(
        (i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), -1
    )
    lines = ["# Parameters"] + [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "injected-parameters",
        "metadata": {"tags": ["injected-parameters"]},
        "outputs": [],
        "source": "\n".join(lines) + "\n",
    }
    cells.insert(index + 1, cell)
    return nb


def step_notebook(parameters: str, *cells: str) -> dict[str, Any]:
    """A new step notebook: a cell tagged `parameters`, then code cells (dedented)."""
    import textwrap

    def cell(source: str, index: int, tags: list[str] | None = None) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{index}",
            "metadata": {"tags": tags} if tags else {},
            "outputs": [],
            "source": textwrap.dedent(source).strip() + "\n",
        }

    return {
        "cells": [cell(parameters, 0, ["parameters"])] + [cell(c, i + 1) for i, c in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }

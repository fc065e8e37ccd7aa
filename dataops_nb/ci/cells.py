"""The changed code cells of a step's notebook, against the notebook behind the base's build.

The base's notebook is the one at the git commit of the run that built it (trusted when that
commit was clean, or when its code matches the code part of the run's fingerprint), else the
executed notebook that run left in the store (the cells the run added taken out). When neither
is there, the comparison says so: this CI run's own commit and notebook are recorded for the next.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..notebooks import source
from ..project import Project
from ..runner.fingerprint import Fingerprint, code_digest
from . import git

ADDED_BY_RUN = {"injected-parameters", "dataops-error"}  # cells an executed notebook has and its source has not


@dataclass(frozen=True)
class NotebookChange:
    step: str
    notebook: str  # relative to the project
    against: str | None  # what it was compared with; None: nothing recorded to compare with
    cells: int  # code cells added, removed or changed
    diff: str  # unified diff of those cells
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "notebook": self.notebook, "against": self.against, "cells": self.cells,
                "diff": self.diff, "note": self.note}


def code_cells(nb: dict[str, Any]) -> list[str]:
    return [source(c).rstrip() for c in nb.get("cells", [])
            if c.get("cell_type") == "code" and not ADDED_BY_RUN & set(c.get("metadata", {}).get("tags", []))]


def _cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb.get("cells", []) if not ADDED_BY_RUN & set(c.get("metadata", {}).get("tags", []))]


def base_notebook(project: Project, notebook: Path, step_row: Any, run_row: Any) -> tuple[dict[str, Any] | None, str]:
    """The notebook the base's build ran, and what it is (or None and why there is none)."""
    recorded = Fingerprint.from_json(step_row["fingerprint"]) if step_row is not None else None
    commit = run_row["git_commit"] if run_row is not None else None
    if commit:
        text = git.show(project.root, commit, notebook)
        nb = _json(text)
        if nb is not None and (not run_row["git_dirty"] or (recorded and code_digest(_cells(nb)) == recorded.code)):
            return nb, f"commit {commit[:10]} (run {run_row['run_id']})"
    executed = step_row["output_notebook"] if step_row is not None else None
    if executed and (project.root / executed).is_file():
        nb = _json((project.root / executed).read_text(encoding="utf-8"))
        if nb is not None:
            return nb, f"the executed notebook of run {step_row['run_id']}"
    if step_row is None:
        return None, "the base never ran this step"
    why = "no git commit" if not commit else f"commit {commit[:10]} with uncommitted changes"
    return None, (f"not recorded: run {step_row['run_id']} of the base has {why} and its executed notebook is gone; "
                  "this CI run records its commit and executed notebook for the next comparison")


def _json(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        nb = json.loads(text)
    except ValueError:
        return None
    return nb if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else None


def changed_cells(project: Project, step: str, notebook: Path, step_row: Any, run_row: Any) -> NotebookChange:
    """How the code cells of `notebook` (as checked out) differ from those the base's build ran."""
    shown = project.relative(notebook)
    before, against = base_notebook(project, notebook, step_row, run_row)
    if before is None:
        return NotebookChange(step, shown, None, 0, "", against)
    now = code_cells(json.loads(notebook.read_text(encoding="utf-8")))
    old = code_cells(before)
    lines: list[str] = []
    count = 0
    matcher = difflib.SequenceMatcher(a=old, b=now, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        count += max(a1 - a0, b1 - b0)
        label = f"cell {b0 + 1}" if b1 > b0 else f"cell {a0 + 1} (removed)"
        lines += difflib.unified_diff("\n".join(old[a0:a1]).splitlines(), "\n".join(now[b0:b1]).splitlines(),
                                      f"a/{shown} {label}", f"b/{shown} {label}", n=2, lineterm="")
    return NotebookChange(step, shown, against, count, "\n".join(lines))

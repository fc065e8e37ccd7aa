"""Step fingerprints: what a step's result depends on, and why a step is stale.

A fingerprint covers the step's code cells (not markdown, outputs or metadata), its
resolved parameters, its environment (the `--env` overlay and the Python version), the
project's own Python modules it imports (transitively), and the dataset versions it
read. A step is fresh when all of these match its last successful run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .params import cell_source, load_notebook_json, parse_python


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def code_of(notebook: Path) -> str:
    """Normalized code: every code cell, trailing spaces and blank lines dropped."""
    return code_of_cells(load_notebook_json(notebook).get("cells", []))


def code_digest(cells: list[dict[str, Any]]) -> str:
    """The `code` part of a fingerprint, of a notebook's cells."""
    return _digest(code_of_cells(cells))


def code_of_cells(cells: list[dict[str, Any]]) -> str:
    found = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        lines = [line.rstrip() for line in cell_source(cell).splitlines()]
        found.append("\n".join(line for line in lines if line))
    return "\n\f\n".join(found)


# Parsing is serialized (params.parse_python: threads parsing at once break CPython 3.11's AST
# constructor), and what a parse yields is cached.
_CACHE_LOCK = threading.Lock()
_IMPORTS_CACHE: OrderedDict[tuple[Any, ...], list[tuple[str, Path | None]]] = OrderedDict()
_CACHE_SIZE = 4096


def _parse(source: str) -> ast.Module:
    return parse_python(source)


def parse_code(source: str) -> ast.Module | None:
    """The code of a cell as Python, or None; IPython magics and shell lines count as blank lines."""
    try:
        return _parse(source)
    except SyntaxError:
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
        try:
            return _parse("\n".join(lines))
        except SyntaxError:
            return None


def _imports(source: str, here: Path | None = None, key: tuple[Any, ...] | None = None) -> list[tuple[str, Path | None]]:
    """Imported module names, each with the folder a relative import is resolved in.

    Cached by `key` (a file's path, mtime, size and content hash) or by the source's hash."""
    key = (str(here), *(key or ()), hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest())
    with _CACHE_LOCK:
        cached = _IMPORTS_CACHE.get(key)
        if cached is not None:
            _IMPORTS_CACHE.move_to_end(key)
            return list(cached)
    found = _parse_imports(source, here)
    with _CACHE_LOCK:
        _IMPORTS_CACHE[key] = found
        while len(_IMPORTS_CACHE) > _CACHE_SIZE:
            _IMPORTS_CACHE.popitem(last=False)
    return list(found)


def _parse_imports(source: str, here: Path | None) -> list[tuple[str, Path | None]]:
    tree = parse_code(source)
    found: list[tuple[str, Path | None]] = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = None
            if node.level:
                if here is None:
                    continue
                base = here.parents[node.level - 1] if node.level > 1 else here
            module = node.module or ""
            if module:
                found.append((module, base))
            found.extend((f"{module}.{a.name}".lstrip("."), base) for a in node.names)
    return found


def imported_modules(notebook: Path) -> set[str]:
    """Every module name the notebook's code cells import (absolute imports)."""
    return {name for name, base in _imports(code_of(notebook)) if base is None}


def _local_file(name: str, roots: list[Path], project: Path) -> Path | None:
    parts = [part for part in name.split(".") if part]
    if not parts:
        return None
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file() and candidate.resolve().is_relative_to(project):
                return candidate.resolve()
    return None


def local_modules(code: str, *, roots: list[Path], project: Path, external: set[str] | None = None) -> dict[str, str]:
    """The project's own modules that `code` imports, transitively: path -> content hash.

    `external`, when given, collects the top-level names of the other absolute imports
    (the standard library's and installed packages'), of `code` and of those modules.
    Without it the answer is cached until a file it read, or a folder it looked in, changes.
    """
    if external is not None:
        return _local_modules(code, roots=roots, project=project, external=external, seen=None)
    key = (_digest(code), tuple(map(str, roots)), str(project))
    with _CACHE_LOCK:
        cached = _MODULES_CACHE.get(key)
    if cached is not None and all(_unchanged(path, mark) for path, mark in cached[1].items()):
        return dict(cached[0])
    seen: dict[Path, tuple[int, int, str | None]] = {root: _stamp(root, content=False) for root in roots}
    found = _local_modules(code, roots=roots, project=project, external=None, seen=seen)
    with _CACHE_LOCK:
        _MODULES_CACHE[key] = (found, seen)
        while len(_MODULES_CACHE) > _CACHE_SIZE:
            _MODULES_CACHE.popitem(last=False)
    return dict(found)


# (code, roots, project) -> (modules found, what they were found from: path -> (mtime_ns, size, hash))
_MODULES_CACHE: OrderedDict[tuple[Any, ...], tuple[dict[str, str], dict[Path, tuple[int, int, str | None]]]] = OrderedDict()


def _stamp(path: Path, *, content: bool, text: str | None = None) -> tuple[int, int, str | None]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1, None)
    if content and text is None:
        text = path.read_text(encoding="utf-8", errors="replace")
    return (stat.st_mtime_ns, stat.st_size, _digest(text) if content and text is not None else None)


def _unchanged(path: Path, mark: tuple[int, int, str | None]) -> bool:
    """Whether `path` is as `mark` recorded it: the same stat, or else the same content hash.

    A stat is trusted only once its mtime is older than the clock's granularity allows to
    confuse (two writes of the same size within a tick keep one mtime); a newer file is hashed."""
    import time

    now = _stamp(path, content=False)
    if now[:2] == mark[:2] and time.time_ns() - now[0] > _RACY_NS:
        return True
    return mark[2] is not None and now[0] >= 0 and _stamp(path, content=True)[2] == mark[2]


_RACY_NS = 2_000_000_000


def _local_modules(code: str, *, roots: list[Path], project: Path, external: set[str] | None,
                   seen: dict[Path, tuple[int, int, str | None]] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    located: dict[tuple[str, Path | None], Path | None] = {}

    def local(name: str, base: Path | None) -> Path | None:
        if (name, base) not in located:
            located[name, base] = _local_file(name, [base] if base else roots, project)
            if seen is not None and base is not None and base not in seen:
                seen[base] = _stamp(base, content=False)  # a module added there changes the answer
        return located[name, base]

    queue = _imports(code)
    while queue:
        name, base = queue.pop()
        parts = name.split(".")
        if external is not None and base is None and local(parts[0], None) is None:
            external.add(parts[0])
        for depth in range(1, len(parts) + 1):  # a.b.c imports a, a.b and a.b.c
            path = local(".".join(parts[:depth]), base)
            if path is None:
                continue
            key = str(path.relative_to(project))
            if key in found:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            stamp = _stamp(path, content=True, text=text)
            if seen is not None:
                seen[path] = stamp
                seen.setdefault(path.parent, _stamp(path.parent, content=False))
            found[key] = stamp[2] or _digest(text)
            queue.extend(_imports(text, path.parent, (str(path), stamp[0], stamp[1])))
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Fingerprint:
    code: str
    params: str
    modules: dict[str, str]
    inputs: dict[str, str]  # dataset -> version read (filled after the step ran)
    environment: str | None = None  # the --env overlay and the Python it ran on (None: not recorded)
    # file or URL -> its version: the step's declared `inputs:` and what it opened with step.input()
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"code": self.code, "params": self.params, "modules": self.modules, "inputs": self.inputs,
             "environment": self.environment, "files": self.files},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> Fingerprint | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(data["code"], data["params"], data.get("modules", {}), data.get("inputs", {}),
                   data.get("environment"), data.get("files", {}))


def fingerprint(project_root: Path, notebook: Path, parameters: dict[str, Any], secrets: dict[str, str],
                *, environment: str | None = None, files: dict[str, str] | None = None) -> Fingerprint:
    import sys

    code = code_of(notebook)
    params = json.dumps({"params": parameters, "secrets": secrets}, sort_keys=True, default=str)
    roots = [notebook.parent, project_root]
    return Fingerprint(
        code=_digest(code),
        params=_digest(params),
        modules=local_modules(code, roots=roots, project=project_root),
        inputs={},
        environment=_digest(json.dumps([environment, sys.version.split()[0]])),
        files=dict(files or {}),
    )


def stale_reasons(
    now: Fingerprint,
    last: Fingerprint | None,
    *,
    last_status: str | None,
    current_versions: dict[str, str],
) -> list[str]:
    """Why the step must run again; [] when it is fresh."""
    if last_status is None:
        return ["never ran"]
    if last_status not in ("success", "accepted"):  # accepted: its quarantined versions were accepted in review
        return ["last run failed" if last_status in ("failed", "timed_out") else f"last run {last_status}"]
    if last is None:
        return ["no fingerprint of its last run"]
    reasons = []
    if now.code != last.code:
        reasons.append("code changed")
    if now.params != last.params:
        reasons.append("parameter changed")
    if last.environment is not None and now.environment != last.environment:
        reasons.append("environment changed")
    for path in sorted(set(now.modules) | set(last.modules)):
        if now.modules.get(path) != last.modules.get(path):
            reasons.append(f"module changed: {path}")
    for dataset, version in sorted(last.inputs.items()):
        if current_versions.get(dataset) != version:
            reasons.append(f"input changed: {dataset}")
    from ..inputs import changes

    reasons += changes(now.files, last.files)  # `now` has a version of every file `last` read
    return reasons

"""`dataops-nb lint`: notebook hygiene and pipeline consistency, read from the files alone.

Nothing is executed. Each finding names the notebook, the cell and the line, a rule code
and a severity. Errors are what makes a run fail or go wrong: a missing parameters cell,
a parameter no notebook defines, a dataset read from a step that is not among the
step's `needs`, two steps publishing one dataset. Warnings are what a reviewer would ask
about: committed outputs, a parameters cell that does more than assign, a dataset that
the spec does not describe, a hard-coded secret or absolute path.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import NotebookError, ParameterError
from .notebooks import is_golden
from .project import Project
from .runner.dag import upstream
from .runner.dataflow import Dataflow, is_parameters, scan
from .runner.fingerprint import parse_code
from .runner.params import NotebookParams, cell_source, inspect_notebook, load_notebook_json
from .spec import line_of, read_yaml

RULES = {
    "NB100": ("error", "notebook missing or unreadable"),
    "NB101": ("error", "no parameters cell"),
    "NB102": ("error", "parameter not defined by the notebook"),
    "NB103": ("warn", "parameters cell does more than assign values"),
    "NB104": ("warn", "outputs committed"),
    "NB105": ("error", "reads a dataset published by a step outside its needs"),
    "NB106": ("warn", "reads a dataset that no step publishes"),
    "NB107": ("error", "dataset published by two steps"),
    "NB108": ("warn", "dataset not described in the spec"),
    "NB109": ("warn", "hard-coded secret"),
    "NB110": ("warn", "absolute path"),
    "NB111": ("warn", "opens a project file that the step does not declare as an input"),
    "NB112": ("warn", "a secret parameter the notebook never reads"),
    "NB113": ("warn", "a secret the CI workflow does not pass to the jobs that run dataops-nb"),
}
_SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_?key|access_?key)$", re.IGNORECASE)
_ABSOLUTE = re.compile(r"^(/(home|Users|root|mnt|data|tmp)/|[A-Za-z]:\\)")


@dataclass(frozen=True)
class Finding:
    path: str
    cell: int | None
    line: int | None
    code: str
    severity: str
    message: str


def lint(project: Project) -> list[Finding]:
    spec = project.spec
    findings: list[Finding] = []
    uses: dict[str, Dataflow] = {}
    notebooks = {}
    paths: dict[str, str] = {}
    for step in spec.steps:
        shown = paths[step.name] = step.notebook

        def add(code: str, message: str, cell: int | None = None, line: int | None = None, shown: str = shown) -> None:
            findings.append(Finding(shown, cell, line, code, RULES[code][0], message))

        uses[step.name] = Dataflow()
        try:
            path = project.notebook_path(step)
            cells = load_notebook_json(path, shown=shown).get("cells", [])
        except NotebookError as exc:
            add("NB100", str(exc))
            continue
        try:
            notebooks[step.name] = inspect_notebook(path, shown=Path(shown))
        except NotebookError as exc:
            add("NB101", str(exc))
        for index, cell in enumerate(cells, start=1):
            if cell.get("cell_type") != "code":
                continue
            if cell.get("outputs") and not is_golden(cell):
                add("NB104", "the cell has outputs: run `dataops-nb strip` before committing", index)
            tree = parse_code(cell_source(cell))
            if tree is None:
                continue
            parameters = is_parameters(cell)
            if parameters:
                for node in tree.body:
                    if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                        add("NB103", "keep the parameters cell to plain assignments "
                                     "(papermill injects the values after it)", index, node.lineno)
            scan(tree, index, uses[step.name])
            _hygiene(tree, index, add)
            if parameters:  # the spec's values replace the defaults, as papermill injects them
                uses[step.name].names.update({k: v for k, v in step.plain_params().items() if isinstance(v, str)})
        _undeclared_files(project, step, path, uses[step.name], add)
    findings += _parameters(project, notebooks, unreadable=any(f.code == "NB100" for f in findings))
    findings += _unread_secrets(project, uses, notebooks)
    findings += _ci_secrets(project)
    findings += _dataflow(project, uses, paths)
    return sorted(findings, key=lambda f: (f.path, f.cell or 0, f.line or 0, f.code))


def _parameters(project: Project, notebooks: dict[str, NotebookParams], unreadable: bool) -> list[Finding]:
    """Each spec parameter (of a step, of an environment) that no notebook defines, or of the wrong type."""
    spec, data = project.spec, read_yaml(project.spec_path)
    shown = project.relative(project.spec_path)
    findings = []

    def add(message: str, loc: tuple[Any, ...]) -> None:
        findings.append(Finding(shown, None, line_of(data, loc), "NB102", RULES["NB102"][0], message))

    for index, step in enumerate(spec.steps):
        nb = notebooks.get(step.name)
        for name, value in step.params.items() if nb else ():
            if name in step.secrets():
                continue  # its value comes from the environment, inside the kernel (NB112)
            try:
                nb.check(step.name, name, value, origin=f"steps[{step.name}].params")
            except ParameterError as exc:
                add(str(exc), ("steps", index, "params", name))
    for env, environment in spec.environments.items():
        for name, value in environment.params.items():
            users = [s.name for s in spec.steps if s.name in notebooks and name in notebooks[s.name].defaults]
            if not users and not unreadable:  # (a notebook that could not be read may define it)
                add(f"environments.{env}.params: no step notebook defines parameter '{name}'.",
                    ("environments", env, "params", name))
            for step in users:
                try:
                    notebooks[step].check(step, name, value, origin=f"environments.{env}.params")
                except ParameterError as exc:
                    add(str(exc), ("environments", env, "params", name))
    return findings


def _unread_secrets(project: Project, uses: dict[str, Dataflow],
                    notebooks: dict[str, NotebookParams]) -> list[Finding]:
    """NB112: a `{secret: ENV}` parameter that no `step.secret(NAME)` of its notebook reads."""
    data, shown = read_yaml(project.spec_path), project.relative(project.spec_path)
    findings = []
    for index, step in enumerate(project.spec.steps):
        if step.name not in notebooks:
            continue
        for name, env in step.secrets().items():
            if name in uses[step.name].secrets:
                continue
            kept = (f"; its `{name}` in the parameters cell keeps its default, since a secret never enters a cell"
                    if name in notebooks[step.name].defaults else "")
            findings.append(Finding(
                shown, None, line_of(data, ("steps", index, "params", name)), "NB112", RULES["NB112"][0],
                f"steps[{step.name}].params.{name}: {step.notebook} never reads this secret: read it with "
                f"step.secret({name!r}), which gets the value of {env}{kept}",
            ))
    return findings


def _ci_secrets(project: Project) -> list[Finding]:
    """NB113: a job of a GitHub workflow that runs dataops-nb without a secret's variable in its env."""
    from .errors import SpecError
    from .secrets import secret_envs

    needed = {env: step.name for step in project.spec.steps for env in step.secrets().values()}
    findings = []
    for path in sorted((project.root / ".github" / "workflows").glob("*.y*ml")) if needed else []:
        if "dataops-nb" not in path.read_text(encoding="utf-8", errors="replace"):
            continue
        try:
            workflow = read_yaml(path)
        except SpecError:
            continue  # not ours to judge
        jobs = workflow.get("jobs") if isinstance(workflow, dict) else None
        for job, body in (jobs or {}).items():
            steps = body.get("steps") or [] if isinstance(body, dict) else []
            if not any("dataops-nb" in str(s.get("run", "")) for s in steps if isinstance(s, dict)):
                continue
            given = set(workflow.get("env") or {}) | set(body.get("env") or {})
            given |= {name for s in steps if isinstance(s, dict) for name in (s.get("env") or {})}
            for env in secret_envs(project.spec):
                if env not in given:
                    line = line_of(workflow, ("jobs", job, "env") if "env" in body else ("jobs", job))
                    findings.append(Finding(
                        project.relative(path), None, line, "NB113", RULES["NB113"][0],
                        f"job '{job}' runs dataops-nb without {env}, which step '{needed[env]}' reads as a "
                        f"secret: add `{env}: ${{{{ secrets.{env} }}}}` under its env: (and the secret to the "
                        "repository's Actions secrets)",
                    ))
    return findings


def _hygiene(tree: ast.Module, cell: int, add: Any) -> None:
    """Hard-coded secrets and absolute paths in one cell."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and _SECRET_NAME.search(target.id) and node.value.value:
                    add("NB109", f"'{target.id}' is set to a literal: make it a parameter "
                                 f"{{secret: ENV_VAR}} in dataops.yaml", cell, node.lineno)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ABSOLUTE.match(node.value):
            add("NB110", f"{node.value!r} is an absolute path: it will not exist on another machine "
                         "(use a path relative to the project, or a parameter)", cell, node.lineno)


def _undeclared_files(project: Project, step: Any, notebook: Path, use: Dataflow, add: Any) -> None:
    """NB111: a literal path to a file of the project that neither `inputs:` nor step.input() declares."""
    from .inputs import expand, is_url, key_of

    declared = set(expand([i for i in step.inputs if not is_url(i)], project.root))
    declared |= {key_of(project.root / d, project.root) for d in use.declared if not is_url(d)}
    store = project.store.root.resolve()
    for text, (cell, line) in use.files.items():
        if text.startswith("/"):
            continue  # NB110's
        for base in (project.root, notebook.parent):
            candidate = (base / text).resolve()
            if candidate.is_file() and candidate.is_relative_to(project.root.resolve()):
                key = key_of(candidate, project.root)
                if key not in declared and not candidate.is_relative_to(store) and candidate.suffix != ".py":
                    add("NB111", f"the step opens {text}, which it does not declare: add it to the step's "
                                 f"inputs: in dataops.yaml, or open it with step.input({text!r}), so that "
                                 "changing the file makes the step stale", cell, line)
                break


def _dataflow(project: Project, uses: dict[str, Dataflow], paths: dict[str, str]) -> list[Finding]:
    spec = project.spec
    needs = {step.name: list(step.needs) for step in spec.steps}
    publisher: dict[str, str] = {}
    findings = []
    for step, use in uses.items():
        for dataset, (cell, line) in use.publishes.items():
            if dataset in publisher and publisher[dataset] != step:
                findings.append(Finding(paths[step], cell, line, "NB107", RULES["NB107"][0],
                                        f"{dataset} is also published by step '{publisher[dataset]}'"))
                continue
            publisher[dataset] = step
            if dataset not in spec.datasets:
                findings.append(Finding(paths[step], cell, line, "NB108", RULES["NB108"][0],
                                        f"{dataset} has no entry under datasets: in dataops.yaml "
                                        "(the catalog will lack its description and owner)"))
    for step, use in uses.items():
        before = upstream(needs, [step])
        for dataset, (cell, line) in use.reads.items():
            source = publisher.get(dataset)
            if source is None:
                if dataset in use.surely and dataset not in spec.datasets:
                    findings.append(Finding(paths[step], cell, line, "NB106", RULES["NB106"][0],
                                            f"no step publishes {dataset}"))
            elif source != step and source not in before:
                findings.append(Finding(paths[step], cell, line, "NB105", RULES["NB105"][0],
                                        f"{dataset} is published by step '{source}', which is not among "
                                        f"the needs of '{step}': add it, or the steps may run in either order"))
    return findings


def as_dicts(findings: list[Finding]) -> list[dict[str, Any]]:
    return [asdict(f) for f in findings]

"""`dataops-nb test`: nbval over the step notebooks, in DAG order, with test parameters.

Each notebook gets the test environment's parameters injected (as papermill does) and
runs against a throwaway store: every notebook sees what the earlier ones published,
and nothing reaches the project's own store. Golden outputs are the outputs of cells
marked `# NBVAL_CHECK_OUTPUT`; `--record` executes the notebooks and stores them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .notebooks import inject_parameters, is_golden, read, source, write
from .project import Project
from .runner.run import RunRequest, plan, require_secrets
from .runtime import CONTEXT_ENV

# Sanitizers nbval applies to both sides: times, run ids, addresses.
SANITIZERS = {
    "timestamps": (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?", "TIMESTAMP"),
    "run ids": (r"\b\d{8}-\d{6}-[0-9a-f]{7}\b", "RUN-ID"),
    "addresses": (r"0x[0-9a-f]{6,16}", "0xADDRESS"),
    "durations": (r"\b\d+(\.\d+)? ?(ms|s)\b", "DURATION"),
}


@dataclass(frozen=True)
class Prepared:
    workdir: Path
    notebooks: list[tuple[str, Path, Path]]  # step, source notebook, parameterized copy
    env: dict[str, str]


def prepare(project: Project, env: str | None, steps: list[str] | None = None) -> Prepared:
    """Parameterized copies of the step notebooks in DAG order (of `steps` and what they need,
    default: all), and a test context."""
    env = env if env in project.spec.environments else None
    if steps is not None:
        from .runner.dag import upstream

        needs = {step.name: step.needs for step in project.spec.steps}
        steps = sorted(set(steps) | upstream(needs, steps))
    plans = plan(project, RunRequest(env=env, only=tuple(steps or ())))
    require_secrets(plans)
    workdir = Path(tempfile.mkdtemp(prefix="dataops-test-"))
    secrets = {k: v for p in plans for k, v in p.step.secrets().items()}
    context = {"mode": "test", "project": str(project.root), "store": str(workdir / "store"), "secrets": secrets}
    (workdir / "context.json").write_text(json.dumps(context))
    copies = []
    for index, item in enumerate(plans, start=1):
        copy = workdir / "notebooks" / f"{index:02d}_{item.step.name}.ipynb"
        copy.parent.mkdir(parents=True, exist_ok=True)
        write(copy, inject_parameters(read(item.notebook), item.parameters))
        copies.append((item.step.name, item.notebook, copy))
    sanitize = [f"[{name}]\nregex: {rx}\nreplace: {rep}\n" for name, (rx, rep) in SANITIZERS.items()]
    sanitize.append(f"[project]\nregex: {re.escape(str(project.root))}\nreplace: PROJECT\n")
    sanitize.append(f"[workdir]\nregex: {re.escape(str(workdir))}\nreplace: WORKDIR\n")
    (workdir / "sanitize.cfg").write_text("\n".join(sanitize))
    return Prepared(workdir, copies, {**os.environ, CONTEXT_ENV: str(workdir / "context.json")})


def test_notebooks(project: Project, *, env: str | None = "test", extra: list[str] = (),
                   steps: list[str] | None = None, log: Path | None = None) -> int:
    """Run nbval (lax: only golden cells are compared; errors always fail) on the notebooks of
    `steps` and the steps they need (default: every step), its output to `log` when given
    (else to this process's). Returns pytest's code."""
    prepared = prepare(project, env, steps)
    try:
        command = [
            sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
            "--nbval-sanitize-with", str(prepared.workdir / "sanitize.cfg"),
            "-p", "no:cacheprovider", "-p", "no:randomly", "--rootdir", str(prepared.workdir),
            "-o", "addopts=", "-o", "testpaths=",
            *[str(copy) for _, _, copy in prepared.notebooks], *extra,
        ]
        if log is None:
            return subprocess.run(command, check=False, env=prepared.env, cwd=prepared.workdir).returncode
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as out:
            return subprocess.run(command, check=False, env=prepared.env, cwd=prepared.workdir, stdout=out,
                                  stderr=subprocess.STDOUT).returncode
    finally:
        shutil.rmtree(prepared.workdir, ignore_errors=True)


def record_golden(project: Project, *, env: str | None = "test") -> list[str]:
    """Execute the notebooks with test parameters and store their golden cells' outputs."""
    import papermill

    prepared = prepare(project, env)
    changed = []
    saved = os.environ.get(CONTEXT_ENV)
    os.environ[CONTEXT_ENV] = prepared.env[CONTEXT_ENV]
    try:
        for _step, original, copy in prepared.notebooks:
            executed = copy.with_suffix(".out.ipynb")
            papermill.execute_notebook(str(copy), str(executed), progress_bar=False, cwd=str(copy.parent))
            outputs = {source(c): c for c in read(executed)["cells"] if is_golden(c)}
            nb = read(original)
            for cell in nb["cells"]:
                if is_golden(cell) and source(cell) in outputs:
                    ran = outputs[source(cell)]
                    cell["outputs"], cell["execution_count"] = ran["outputs"], ran["execution_count"]
            if nb != read(original):
                write(original, nb)
                changed.append(project.relative(original))
    finally:
        if saved is None:
            os.environ.pop(CONTEXT_ENV, None)
        else:
            os.environ[CONTEXT_ENV] = saved
        shutil.rmtree(prepared.workdir, ignore_errors=True)
    return changed

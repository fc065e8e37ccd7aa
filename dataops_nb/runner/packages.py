"""The package versions a run's kernels compute with, recorded once per run.

A replay compares them with its own: a step whose output differs on other versions of DuckDB,
polars or pandas may differ for that reason alone. The kernels are this Python's own ipykernel
(forked or launched), so its installed distributions are theirs; a kernel spec that names
another interpreter is asked once, in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

# what a step's result can depend on, beside its own code
PACKAGES = ("dataops-nb", "duckdb", "polars", "pandas", "pyarrow", "numpy", "papermill", "ipykernel", "nbformat")

_SCRIPT = (
    "import json, sys\n"
    "from importlib import metadata\n"
    "found = {'python': sys.version.split()[0]}\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        found[name] = metadata.version(name)\n"
    "    except metadata.PackageNotFoundError:\n"
    "        pass\n"
    "print(json.dumps(found))\n"
)


def installed(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """This interpreter's Python version and the versions of `names` that are installed."""
    from importlib import metadata

    found = {"python": sys.version.split()[0]}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@lru_cache(maxsize=8)
def kernel_packages(kernel_name: str = "python3") -> dict[str, str]:
    """The versions the kernel `kernel_name` runs with ({} when they cannot be learnt)."""
    argv = _kernel_argv(kernel_name)
    from .forkserver import forkable

    if argv is None or forkable(argv):
        return installed()
    try:
        done = subprocess.run([argv[0], "-c", _SCRIPT, *PACKAGES], check=False, capture_output=True, text=True, timeout=30)
        answer = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return {}
    return {str(k): str(v) for k, v in answer.items()} if isinstance(answer, dict) else {}


def _kernel_argv(kernel_name: str) -> list[str] | None:
    """The command of the kernel spec `kernel_name` (None: no spec file, the kernel is this Python's
    own). Read from the spec's kernel.json, as jupyter_client would, without importing it."""
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("kernels"):
        spec = Path(folder) / kernel_name / "kernel.json"
        if spec.is_file():
            try:
                argv = json.loads(spec.read_text(encoding="utf-8")).get("argv")
            except (OSError, ValueError):
                return None
            return [str(part) for part in argv] if isinstance(argv, list) and argv else None
    return None


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """`duckdb 1.1.0 -> 1.2.0` for each package whose version differs (added or gone included)."""
    return [f"{name} {before.get(name, 'absent')} -> {after.get(name, 'absent')}"
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]

"""The frontend's unit tests (vitest): the typed client against a real local HTTP server, the DAG
layout, outcomes vs freshness, and the panels' formatting and name checks."""

from __future__ import annotations

import shutil
import subprocess

from ..conftest import REPO

EXTENSION = REPO / "jupyter_extension"


def test_frontend_unit_tests_pass() -> None:
    jlpm = shutil.which("jlpm")
    assert jlpm, "jlpm (from jupyterlab) is needed to run the frontend's unit tests"
    assert (EXTENSION / "node_modules" / "vitest").is_dir(), (
        "the extension's node modules are missing: `pip install -e .` (or `jlpm install` in jupyter_extension/)"
    )
    result = subprocess.run([jlpm, "test"], cwd=EXTENSION, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert " passed" in output and " failed" not in output, output[-3000:]

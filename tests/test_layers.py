"""The design's layers hold: `lint-imports` checks the contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import REPO


def test_import_contracts_are_kept():
    command = shutil.which("lint-imports")
    assert command, "import-linter is a test dependency (pip install -e .[test])"
    result = subprocess.run([command, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Only the ledger package talks to a database KEPT" in result.stdout
    assert "Layers: interfaces -> service -> engine -> foundation KEPT" in result.stdout
    assert "The CLI calls only the service (and renders with console, raises errors) KEPT" in result.stdout
    assert "0 broken" in result.stdout

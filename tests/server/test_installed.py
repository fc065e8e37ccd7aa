"""One `pip install` of the kit installs and enables both halves of the JupyterLab extension."""

from __future__ import annotations

import re
import subprocess
import sys


def _jupyter(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120)
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_labextension_is_installed_and_enabled():
    listing = _jupyter("labextension", "list")
    assert re.search(r"dataops-nb-lab v\d+\.\d+\.\d+ enabled\s+OK", listing), listing


def test_server_extension_is_enabled():
    listing = _jupyter("server", "extension", "list")
    assert re.search(r"dataops_nb\.server\s+enabled", listing), listing
    assert re.search(r"dataops_nb\.server\s+OK", listing), listing

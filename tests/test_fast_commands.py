"""Commands that execute nothing stay quick: they never import papermill, nbclient or nbval."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("papermill", "nbclient", "nbval")
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr))
from dataops_nb.cli import main
main({args!r})
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["plan"], ["status"], ["runs"], ["show"], ["catalog", "search", "numbers"],
     ["catalog", "show", "raw.numbers"], ["lineage", "staging.doubled"], ["freshness"], ["review"], ["lint"]],
    ids=lambda a: " ".join(a),
)
def test_commands_that_execute_nothing_import_no_executor(ran_two_steps, args):
    probe = PROBE.format(heavy=HEAVY, args=args)
    result = subprocess.run([sys.executable, "-c", probe], cwd=ran_two_steps.root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []


@pytest.fixture(scope="module")
def ran_two_steps(tmp_path_factory):
    from .conftest import ProjectFactory, make_two_steps

    project = make_two_steps(ProjectFactory(tmp_path_factory.mktemp("fast") / "proj"))
    project.cli("run", check=0)
    return project

"""The API under concurrent calls: the pipeline endpoint polled by many clients at once."""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = pytest.mark.usefixtures("api_project")

HELPERS = '''
"""Shared helpers of the steps."""
from . import units

def scale(frame, factor):
    return frame * factor * units.ONE
'''


async def test_eight_concurrent_pipeline_calls_all_answer(jp_fetch, api_project):
    # the steps import the project's own modules, so every call parses Python in a worker thread
    package = api_project.root / "lib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "units.py").write_text("ONE = 1\n" + "\n".join(f"def f{i}(x):\n    return [x for _ in range({i})]" for i in range(200)))
    (package / "helpers.py").write_text(HELPERS)
    api_project.notebook("double", "factor = 2", "import lib.helpers\nimport polars as pl\nimport dataops_nb as dn\n"
                         "step = dn.step()\nstep.publish('staging.doubled', step.read('raw.numbers'))")
    for _ in range(3):
        responses = await asyncio.gather(*(jp_fetch("dataops", "pipeline") for _ in range(8)),
                                         return_exceptions=True)
        assert [getattr(r, "code", r) for r in responses] == [200] * 8
        bodies = [json.loads(r.body) for r in responses]
        assert all(b == bodies[0] for b in bodies)
        assert [s["name"] for s in bodies[0]["steps"]] == ["make", "double"]

"""GET /dataops/runs/RUN/live on a real Jupyter server: a running step's current cell, elapsed time
and output tail, read from the notebook it saves cell by cell (real kernels); the notebook itself
opens mid-run through the executed-notebook route."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from tornado.httpclient import HTTPClientError

pytestmark = pytest.mark.usefixtures("api_project")

SPEC = """
name: live
steps:
  - {name: slow, notebook: notebooks/slow.ipynb}
"""


async def _until(fetch, predicate, timeout=180.0):
    for _ in range(int(timeout / 0.25)):
        found = await fetch()
        if predicate(found):
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out; last answer {found}")


async def test_live_view_of_a_running_step(jp_fetch, api_project, jp_base_url, http_server_client):
    gate = api_project.root / "gate"
    api_project.notebook("slow", f"gate = {str(gate)!r}", "print('loading')", """
        import os, time
        for part in range(3):
            print("part", part, "of 3")
        while not os.path.exists(gate):
            time.sleep(0.1)
        """)
    api_project.spec(SPEC)
    runner = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "dataops_nb.cli", "run", "-q"], cwd=api_project.root,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        runs_dir = api_project.root / ".dataops" / "runs"
        run_id = await _until(lambda: asyncio.sleep(0, next((p.parent.name for p in runs_dir.glob("*/slow.ipynb")),
                                                             None)), bool)

        async def live():
            response = await jp_fetch("dataops", "runs", run_id, "live")
            return json.loads(response.body)

        found = await _until(live, lambda d: "part 2 of 3" in (d["steps"][0]["live"] or {}).get("output_tail", ""))
        assert found["status"] == "running"
        [step] = found["steps"]
        assert step["status"] == "running" and step["notebook"] == f".dataops/runs/{run_id}/slow.ipynb"
        assert step["live"]["cell"] == 3 and step["live"]["cells"] == 3
        assert step["live"]["code"].startswith("import os, time")
        assert step["live"]["output_tail"] == "part 0 of 3\npart 1 of 3\npart 2 of 3"
        assert step["live"]["elapsed_s"] >= step["live"]["cell_elapsed_s"] >= 0

        # the executed notebook opens while the step runs, with the cells it ran so far
        opened = json.loads((await jp_fetch("dataops", "runs", run_id, "notebooks", "slow")).body)
        outputs = ["".join(o.get("text", "")) for c in opened["content"]["cells"] for o in c.get("outputs", [])]
        assert "loading\n" in outputs

        with pytest.raises(HTTPClientError) as refused:
            await http_server_client.fetch(f"{jp_base_url}dataops/runs/{run_id}/live")
        assert refused.value.code == 403
        gate.write_text("go")
        ended = await _until(live, lambda d: d["status"] != "running")
        assert ended["status"] == "success" and ended["steps"][0]["live"] is None
        assert runner.wait(timeout=120) == 0, runner.stderr.read()
    finally:
        gate.write_text("go")
        if runner.poll() is None:
            runner.kill()
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("dataops", "runs", "20990101-000000-nope", "live")
    assert missing.value.code == 404

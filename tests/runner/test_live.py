"""Long steps are visible: the executed notebook is saved cell by cell while a step runs (real
kernels), `dataops-nb show RUN --follow` prints the running step's current cell, elapsed time
and output tail until the run ends, and the tail masks PII as step errors do."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dataops_nb.security import MASK

from ..catalog.conftest import PEOPLE
from ..pii_project import pii_spec
from .test_cancel import _wait_for

SPEC = pii_spec("long", ["{name: people, notebook: notebooks/people.ipynb}",
                         "{name: mail, notebook: notebooks/mail.ipynb, needs: [people]}"])


def _notebook(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _line_of(process, wanted):
    """Lines of `process`'s stdout up to the first that contains `wanted`."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if wanted in line:
            return seen
    raise AssertionError("".join(seen))


def test_a_running_step_is_saved_cell_by_cell_and_followed(project):
    gate = project.root / "gate"
    project.notebook("people", "bump = 0", PEOPLE)
    project.notebook("mail", f"gate = {str(gate)!r}", "print('warming up')", """
        import os, time
        import dataops_nb as dn
        first = dn.step().sql("select full_name from raw.people order by id limit 1").fetchall()[0][0]
        print("writing to", first)
        for tick in range(3):
            print("tick", tick)
        while not os.path.exists(gate):
            time.sleep(0.1)
        """, "print('done')")
    project.spec(SPEC)
    env = {**os.environ, "DATAOPS_USER": "alice"}
    runner = subprocess.Popen([sys.executable, "-m", "dataops_nb.cli", "run", "-j", "1", "-q"], cwd=project.root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    followers = []
    try:
        path = _wait_for(lambda: next((project.root / ".dataops" / "runs").glob("*/mail.ipynb"), None))
        # mid-run: the file holds the cells run so far with their outputs, and which one is running
        saved = _wait_for(lambda: (nb := _notebook(path)) and "tick 2" in json.dumps(nb) and nb)
        meta = saved["metadata"]["dataops"]
        assert meta["status"] == "running" and meta["step"] == "mail"
        assert "os.path.exists(gate)" in "".join(saved["cells"][meta["live"]["cell"]]["source"])
        texts = ["".join(o.get("text", "")) for c in saved["cells"] for o in c.get("outputs", [])]
        assert "warming up\n" in texts and not any("done" in t for t in texts)
        run_id = path.parent.name

        def follow(user, *args):
            process = subprocess.Popen(
                [sys.executable, "-m", "dataops_nb.cli", "show", run_id, "--follow", *args], cwd=project.root,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "DATAOPS_USER": user})
            followers.append(process)
            return process

        steward, analyst, machine = follow("alice"), follow("bob"), follow("bob", "--json")
        picture = "".join(_line_of(steward, "| tick 2"))
        assert f"run {run_id}  running" in picture
        assert "people: success" in picture
        assert "mail: running" in picture and "cell 3/4" in picture  # parameters, two cells, then this one
        assert "> import os, time" in picture
        assert "| writing to Ada Lovelace" in picture and "| tick 0" in picture
        hidden = "".join(_line_of(analyst, "| tick 2"))
        assert "Ada Lovelace" not in hidden and f"| writing to {MASK}" in hidden
        live = json.loads(_line_of(machine, "tick 2")[-1])
        mail = next(s for s in live["steps"] if s["step"] == "mail")
        assert mail["live"]["cell"] == 3 and mail["live"]["elapsed_s"] >= mail["live"]["cell_elapsed_s"] >= 0
        assert "Ada Lovelace" not in json.dumps(live) and mail["live"]["output_tail"].endswith("tick 2")
        gate.write_text("go")
        rest = steward.communicate(timeout=180)[0]
        assert runner.wait(timeout=180) == 0, runner.stderr.read()
    finally:
        gate.write_text("go")
        for process in [runner, *followers]:
            if process.poll() is None:
                process.kill()
    assert f"run {run_id}  success" in rest and "mail: success" in rest
    final = _notebook(path)
    assert final["metadata"]["dataops"]["status"] == "success" and "live" not in final["metadata"]["dataops"]
    assert any("done" in "".join(o.get("text", "")) for c in final["cells"] for o in c.get("outputs", []))

"""The scan: three secrets, steps that print, display, raise and publish them; afterwards no
encoding of any of them is in any file under the store, the HTML report, the OpenLineage
export, run.log, or any answer of the server."""

from __future__ import annotations

import json

from ..conftest import run_cli
from .forms import leaks, scan_tree

SECRETS = {
    "LONG_TOKEN": "lng-" + "9fQ2xW7kP4mZ8rT1vB6nC3yH5jL0dS" * 2,
    "QUOTED_TOKEN": "Pa&s'w\"rd<&>Zq7",
    "THIRD_TOKEN": "thr-Kx83-Wq27-Lp90-Vb45",  # declared by `third`, read by `sneak`
}

USE = """
import base64, html, os
from IPython.display import HTML, JSON, display
import dataops_nb as dn
step = dn.step()
token = step.secret("token")
print(token, repr(token), base64.b64encode(token.encode()).decode())
display(HTML(f"<i>{html.escape(token)}</i>")); display(JSON({"t": token}))
step.publish(f"raw.{name}", f"select 1 as id, {token!r} as leaked".replace("\\\\'", "''"))
token
"""


async def test_no_form_of_any_secret_is_left_anywhere(served, jp_fetch):
    for name in ("long", "quoted"):
        served.notebook(name, f"token = None\nname = {name!r}", USE)
    served.notebook("third", "token = None\nname = 'third'", USE, "raise ValueError(f'bad {token!r} ' + token)")
    served.notebook("sneak", "n = 1", "import os\nprint(os.environ.get('THIRD_TOKEN'))\n"
                    "raise RuntimeError(str(os.environ.get('THIRD_TOKEN')))")
    served.spec(
        """
        name: scan
        steps:
          - {name: long, notebook: notebooks/long.ipynb, params: {token: {secret: LONG_TOKEN}}}
          - {name: quoted, notebook: notebooks/quoted.ipynb, params: {token: {secret: QUOTED_TOKEN}}}
          - {name: third, notebook: notebooks/third.ipynb, params: {token: {secret: THIRD_TOKEN}}}
          - {name: sneak, notebook: notebooks/sneak.ipynb}
        """
    )
    ran = run_cli("run", "-j", "2", cwd=served.root, env=SECRETS, check=1)
    report, events = served.root / "report.html", served.root / "events.jsonl"
    run_cli("report", "-o", str(report), cwd=served.root, check=0)
    run_cli("export", "openlineage", "-o", str(events), cwd=served.root, check=0)
    run_id = json.loads(run_cli("runs", "--json", cwd=served.root, check=0).stdout)[0]["run_id"]
    answers = {}
    for parts in [("runs",), ("runs", run_id), ("catalog",), ("catalog", "raw.long"), ("catalog", "raw.quoted"),
                  ("pipeline",), *[("runs", run_id, "notebooks", s) for s in ("long", "quoted", "sneak")]]:
        response = await jp_fetch("dataops", *parts, raise_error=False)
        assert response.code == 200, (parts, response.body)
        answers["/".join(parts)] = response.body
    assert scan_tree(served.root / ".dataops", SECRETS) == {}
    for name, data in {**answers, "report": report.read_bytes(), "openlineage": events.read_bytes(),
                       "cli": (ran.stdout + ran.stderr).encode()}.items():
        assert leaks(data, SECRETS) == [], name
    sneak = json.loads(answers[f"runs/{run_id}/notebooks/sneak"])
    assert "None" in json.dumps(sneak)  # the undeclared secret was not in its kernel at all
    assert b"********" in answers["catalog/raw.quoted"]  # published, masked before it was written
    assert b"********" in (served.root / ".dataops").joinpath("runs", run_id, "quoted.ipynb").read_bytes()

"""Secrets on real kernels: each step's kernel holds only its own, every encoding of every
secret is masked in what a run leaves behind, and values that cannot be masked are refused."""

from __future__ import annotations

import json

import pytest

from .forms import encodings, leaks, scan_tree

TOKEN = "tok-7Hq2-Zx91-mKp4-LwR8"  # declared by `owner` only
SHARED = "shr-4Bv8-Qn27-Tz50-Hc3J"  # declared by `owner`, and in secrets.pass_env
QUOTED = "Pa&s'w\"rd<&>9q"  # quotes and HTML specials

ENV_PROBE = """
import os
print("MY_TOKEN is", os.environ.get("MY_TOKEN"))
print("SHARED_TOKEN is", "set" if os.environ.get("SHARED_TOKEN") else "unset")
# what a step could read of its own and its parent's initial environment (the fork server's)
for label, pid in (("self", os.getpid()), ("parent", os.getppid())):
    with open(f"/proc/{pid}/environ", "rb") as handle:
        print(label, "environ holds MY_TOKEN:", b"MY_TOKEN=" in handle.read())
"""


def isolation_project(project, *, steps: int = 2):
    project.notebook(
        "owner", "token = None\nshared = None",
        """
        import dataops_nb as dn
        step = dn.step()
        print("owner has its token:", len(step.secret("token")) == 23, len(step.secret("shared")) == 23)
        """,
    )
    project.notebook("other", "n = 1", ENV_PROBE)
    others = "\n".join(
        f"  - {{name: other{i}, notebook: notebooks/other.ipynb}}" for i in range(1, steps)
    )
    project.spec(
        f"""
name: isolation
secrets: {{pass_env: [SHARED_TOKEN]}}
steps:
  - name: owner
    notebook: notebooks/owner.ipynb
    params: {{token: {{secret: MY_TOKEN}}, shared: {{secret: SHARED_TOKEN}}}}
{others}
"""
    )
    return project


def outputs(path) -> str:
    nb = json.loads(path.read_text())
    return "".join(
        "".join(out.get("text", "")) for cell in nb["cells"] for out in cell.get("outputs", [])
    )


def assert_isolated(project, step: str, *, forked: bool) -> None:
    store = project.root / ".dataops"
    executed = next(store.glob(f"runs/*/{step}.ipynb"))
    text = outputs(executed)
    assert "MY_TOKEN is None" in text
    assert "SHARED_TOKEN is set" in text  # pass_env: every step may see it
    assert "self environ holds MY_TOKEN: False" in text
    if forked:  # its parent is the fork server, which started without any secret
        assert "parent environ holds MY_TOKEN: False" in text
    assert TOKEN.encode() not in executed.read_bytes()
    assert "owner has its token: True True" in outputs(next(store.glob("runs/*/owner.ipynb")))


def test_a_step_sees_only_its_own_secrets(project):
    isolation_project(project, steps=3)
    env = {"MY_TOKEN": TOKEN, "SHARED_TOKEN": SHARED, "DATAOPS_FORK_KERNELS": "1"}
    project.cli("run", "-j", "2", env=env, check=0)
    assert_isolated(project, "other1", forked=True)
    assert_isolated(project, "other2", forked=True)


def test_a_single_started_kernel_is_scrubbed_too(project):
    isolation_project(project, steps=2)
    project.cli("run", "--only", "other1", env={"MY_TOKEN": TOKEN, "SHARED_TOKEN": SHARED}, check=0)
    text = outputs(next((project.root / ".dataops").glob("runs/*/other1.ipynb")))
    assert "MY_TOKEN is None" in text and "self environ holds MY_TOKEN: False" in text


@pytest.mark.slow
def test_dask_workers_start_kernels_without_other_steps_secrets(project):
    isolation_project(project, steps=2)
    project.cli("run", "--executor", "dask", "-j", "2", env={"MY_TOKEN": TOKEN, "SHARED_TOKEN": SHARED}, check=0)
    assert_isolated(project, "other1", forked=False)


@pytest.mark.parametrize(
    ("value", "reason"),
    [("x7!k", "shorter than 8 characters"), ("20261202", "a plain number"), ("sunshine", "a common word"),
     ("qwertyuiop", "a common word")],
)
def test_a_secret_that_cannot_be_masked_is_refused_before_the_run(project, value, reason):
    project.notebook("fetch", "api_token = None", "print('ran')")
    project.spec(
        """
        name: weak
        steps:
          - {name: fetch, notebook: notebooks/fetch.ipynb, params: {api_token: {secret: WEAK_TOKEN}}}
        """
    )
    result = project.cli("run", env={"WEAK_TOKEN": value}, check=2)
    message = result.stderr.strip()
    assert "WEAK_TOKEN" in message and reason in message
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert value not in message
    assert not (project.root / ".dataops" / "ledger.db").exists()
    assert not (project.root / ".dataops" / "runs").exists()


SHOWN = """
import base64, html, json, urllib.parse
from IPython.display import HTML, JSON, Markdown, display
import ipywidgets
import pandas as pd
import dataops_nb as dn
step = dn.step()
token = step.secret("token")
print(token); print(repr(token)); print(json.dumps({"t": token}))
print(urllib.parse.quote(token, safe=""), urllib.parse.quote_plus(token))
print(base64.b64encode(token.encode()).decode(), base64.b64encode(b"x" + token.encode()).decode())
display(HTML(f"<b>{html.escape(token)}</b>"))
display(JSON({"token": token}))
display(Markdown(token))
display(pd.DataFrame({"token": [token]}))
display(ipywidgets.Text(value=token))
import sys
sys.stdout.write(token[:5]); sys.stdout.flush(); sys.stdout.write(token[5:] + "\\n")
token
"""


def test_every_encoding_of_a_secret_is_masked_in_the_executed_notebook(project):
    project.notebook("show", "token = None", SHOWN, "raise ValueError(f'rejected {token!r}')")
    project.spec(
        """
        name: shown
        steps:
          - {name: show, notebook: notebooks/show.ipynb, params: {token: {secret: QUOTED_TOKEN}}}
        """
    )
    project.cli("run", env={"QUOTED_TOKEN": QUOTED}, check=1)
    store = project.root / ".dataops"
    executed = next(store.glob("runs/*/show.ipynb"))
    data = executed.read_bytes()
    assert leaks(data, {"QUOTED": QUOTED}) == []
    nb = json.loads(data)
    kinds = {out.get("output_type") for cell in nb["cells"] for out in cell.get("outputs", [])}
    assert {"stream", "display_data", "execute_result", "error"} <= kinds  # every kind was produced
    assert "********" in data.decode()
    assert scan_tree(store, {"QUOTED": QUOTED}) == {}


def test_step_errors_are_masked_in_show_runs_report_and_lineage(project):
    project.notebook("boom", "token = None", "import dataops_nb as dn\ntoken = dn.step().secret('token')",
                     "raise RuntimeError('login failed for ' + token + ' ' + repr(token))")
    project.spec(
        """
        name: errors
        steps:
          - {name: boom, notebook: notebooks/boom.ipynb, params: {token: {secret: QUOTED_TOKEN}}}
        """
    )
    env = {"QUOTED_TOKEN": QUOTED}
    run = project.cli("run", env=env, check=1)
    secrets = {"QUOTED": QUOTED}
    shown = project.cli("show", env=env, check=0).stdout
    listed = project.cli("runs", "--json", env=env, check=0).stdout
    assert "login failed for ********" in shown and "login failed for ********" in listed
    report = project.root / "report.html"
    project.cli("report", "-o", str(report), env=env, check=0)
    lineage = project.root / "events.jsonl"
    project.cli("export", "openlineage", "-o", str(lineage), env=env, check=0)
    facets = [json.loads(line)["run"]["facets"].get("errorMessage") for line in lineage.read_text().splitlines()]
    assert any(f and "login failed for ********" in f["message"] for f in facets)
    for name, text in {"run": run.stdout + run.stderr, "show": shown, "runs": listed,
                       "report": report.read_text(), "openlineage": lineage.read_text()}.items():
        assert leaks(text.encode(), secrets) == [], name
    assert scan_tree(project.root / ".dataops", secrets) == {}


def test_every_form_listed_is_one_the_kit_masks():
    from dataops_nb.secrets import Redactor

    redactor = Redactor([QUOTED])
    for kind, form in encodings(QUOTED).items():
        assert QUOTED not in redactor.text(f"<{form}>") and form not in redactor.text(f"<{form}>"), kind


def test_a_secret_parameter_needs_no_assignment_in_the_parameters_cell(project):
    # what the README shows: declare it in the spec, read it with step.secret(); nothing in the cell
    project.notebook("fetch", "rows = 1", """
        import dataops_nb as dn
        step = dn.step()
        print("token length", len(step.secret("api_token")))
        """)
    project.notebook("naive", "api_token = ''", "print('uses', len(api_token))")  # expects it injected: it is not
    project.spec("""
        name: secrets
        steps:
          - name: fetch
            notebook: notebooks/fetch.ipynb
            params: {api_token: {secret: API_TOKEN}}
          - name: naive
            notebook: notebooks/naive.ipynb
            params: {api_token: {secret: API_TOKEN}}
        """)
    env = {"API_TOKEN": TOKEN}

    lint = project.cli("lint", env=env, check=0)
    assert "fetch" not in lint.stdout
    assert ("dataops.yaml:8: NB112 warn: steps[naive].params.api_token: notebooks/naive.ipynb never reads this "
            "secret: read it with step.secret('api_token'), which gets the value of API_TOKEN; its `api_token` in "
            "the parameters cell keeps its default, since a secret never enters a cell") in lint.stdout

    project.cli("run", env=env, check=0)
    [run] = json.loads(project.cli("runs", "--json", check=0).stdout)
    executed = (project.root / run["steps"][0]["output_notebook"]).read_text()
    assert "token length 23" in executed and TOKEN not in executed

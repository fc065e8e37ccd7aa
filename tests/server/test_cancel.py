"""Runs started from the server go through the run worker; POST /dataops/runs/RUN/cancel stops one."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

pytestmark = pytest.mark.usefixtures("api_project")


async def test_cancel_of_a_finished_run_is_409_and_says_so(jp_fetch, api_project):
    api_project.cli("run", check=0)
    run_id = json.loads(api_project.cli("runs", "--json", check=0).stdout)[0]["run_id"]
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("dataops", "runs", run_id, "cancel", method="POST", body="{}")
    assert refused.value.code == 409
    body = json.loads(refused.value.response.body)
    assert body["error"] == "NotRunningError" and f"Run {run_id} is not running (it is success)" in body["message"]


async def test_a_refused_start_comes_back_as_its_own_error(jp_fetch, api_project):
    """The worker's refusal crosses the process boundary as data: a missing secret is a 400 naming it."""
    api_project.spec((api_project.root / "dataops.yaml").read_text().replace(
        "notebook: notebooks/make.ipynb", "notebook: notebooks/make.ipynb\n    params: {token: {secret: MISSING_TOKEN_VAR}}"))
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("dataops", "runs", method="POST", body=json.dumps({"mode": "all"}))
    assert refused.value.code == 400
    assert "set the environment variable MISSING_TOKEN_VAR" in json.loads(refused.value.response.body)["message"]
    launched = list((api_project.root / ".dataops" / "launched").glob("*.status.jsonl"))
    [message] = [json.loads(line) for line in launched[0].read_text().splitlines()]
    assert message["state"] == "failed" and message["error"]["type"] == "DataOpsError"

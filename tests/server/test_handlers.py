"""The /dataops/ REST API on a real Jupyter server: auth, XSRF, confinement, error codes."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from tornado.httpclient import HTTPClientError

from ..conftest import TWO_STEPS
from ..identities import as_user

pytestmark = pytest.mark.usefixtures("api_project")


async def get(jp_fetch, *parts, **params):
    response = await jp_fetch("dataops", *parts, params=params)
    return json.loads(response.body)


async def post(jp_fetch, path, body, **kwargs):
    response = await jp_fetch("dataops", path, method="POST", body=json.dumps(body), **kwargs)
    return response.code, json.loads(response.body)


async def failure_of(call) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as caught:
        await call
    body = caught.value.response.body if caught.value.response is not None else b"{}"
    return caught.value.code, json.loads(body or b"{}")


async def wait_for_run(jp_fetch, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await get(jp_fetch, "runs", run_id)
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.3)  # the server answers on this loop meanwhile
    raise AssertionError(f"run {run_id} did not finish")


async def test_settings_give_versions_and_project(jp_fetch):
    settings = await get(jp_fetch, "settings")
    import dataops_nb

    assert settings["kit_version"] == dataops_nb.__version__
    assert settings["extension_version"]
    assert settings["project"] == "" and settings["project_name"] == "twosteps"


async def test_pipeline_lists_steps_edges_and_states(jp_fetch):
    pipeline = await get(jp_fetch, "pipeline")
    assert [s["name"] for s in pipeline["steps"]] == ["make", "double"]
    assert pipeline["edges"] == [["make", "double"]]
    assert {s["state"] for s in pipeline["steps"]} == {"stale"}
    assert pipeline["running"] is None


async def test_start_a_run_and_watch_it_finish(jp_fetch, api_project):
    code, started = await post(jp_fetch, "runs", {"mode": "all"})
    assert code == 201
    run = await wait_for_run(jp_fetch, started["run_id"])
    assert run["status"] == "success"
    assert [s["status"] for s in run["steps"]] == ["success", "success"]
    assert (api_project.root / run["steps"][0]["output_notebook"]).is_file()
    pipeline = await get(jp_fetch, "pipeline")
    assert {s["name"]: (s["state"], s["last_status"]) for s in pipeline["steps"]} == {
        "make": ("fresh", "success"), "double": ("fresh", "success")
    }
    # the outcome, apart from freshness: which run, how it went, how many checks warned
    assert {s["name"]: (s["outcome"]["run_id"], s["outcome"]["status"], s["outcome"]["warnings"])
            for s in pipeline["steps"]} == {"make": (run["run_id"], "success", 0), "double": (run["run_id"], "success", 0)}
    assert run["selection"] == ["make", "double"] and run["warnings"] == 0
    runs = await get(jp_fetch, "runs")
    assert runs["items"][0]["run_id"] == started["run_id"]
    # one step only
    code, again = await post(jp_fetch, "runs", {"mode": "only", "step": "double"})
    run = await wait_for_run(jp_fetch, again["run_id"])
    assert [s["name"] for s in run["steps"]] == ["double"]


async def test_unknown_step_is_400_with_a_suggestion(jp_fetch):
    code, body = await failure_of(post(jp_fetch, "runs", {"mode": "only", "step": "dubble"}))
    assert code == 400 and "double" in body["message"]


async def test_malformed_body_is_400(jp_fetch):
    code, body = await failure_of(post(jp_fetch, "runs", {"mode": "sideways"}))
    assert code == 400 and "mode" in body["message"]


async def test_unknown_dataset_is_404(jp_fetch):
    code, body = await failure_of(jp_fetch("dataops", "catalog", "raw.nothing"))
    assert code == 404 and "raw.nothing" in body["message"]


async def test_a_spec_that_does_not_parse_says_where_not_that_there_is_no_project(jp_fetch, api_project):
    spec = api_project.root / "dataops.yaml"
    original = spec.read_text()
    spec.write_text(original + "  - name: [\n")
    try:
        code, body = await failure_of(jp_fetch("dataops", "pipeline"))
    finally:
        spec.write_text(original)
    assert code == 400 and body["error"] == "SpecError"
    assert body["message"].startswith("dataops.yaml:") and "malformed YAML" in body["message"]
    assert str(api_project.root) not in body["message"]  # the server's own paths stay its own
    assert (await get(jp_fetch, "pipeline"))["name"] == "twosteps"


async def test_unknown_run_is_404(jp_fetch):
    code, _ = await failure_of(jp_fetch("dataops", "runs", "20990101-000000-0000000"))
    assert code == 404


async def test_path_climbing_out_of_the_root_is_400(jp_fetch):
    code, body = await failure_of(jp_fetch("dataops", "pipeline", params={"project": "../../etc"}))
    assert code == 400 and "outside" in body["message"]


async def test_no_token_is_403(jp_fetch, jp_base_url, http_server_client):
    for path in ("settings", "pipeline", "runs", "catalog", "reviews"):
        with pytest.raises(HTTPClientError) as caught:
            await http_server_client.fetch(f"{jp_base_url}dataops/{path}")
        assert caught.value.code == 403, path


async def test_post_without_xsrf_is_refused(jp_base_url, http_server_client, jp_serverapp):
    """A browser session (cookie) must send the XSRF token with a POST."""
    token = jp_serverapp.identity_provider.token
    login = await http_server_client.fetch(f"{jp_base_url}lab?token={token}", follow_redirects=False, raise_error=False)
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert "_xsrf" in cookies
    xsrf = next(c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf="))
    refused = await http_server_client.fetch(
        f"{jp_base_url}dataops/reviews", method="POST", body=json.dumps({}),
        headers={"Cookie": cookies}, raise_error=False,
    )
    assert refused.code == 403
    allowed = await http_server_client.fetch(
        f"{jp_base_url}dataops/reviews", method="POST", body=json.dumps({}),
        headers={"Cookie": cookies, "X-XSRFToken": xsrf}, raise_error=False,
    )
    assert allowed.code == 400  # past the XSRF check: the empty body is bad input


async def test_catalog_lineage_and_reviews_after_a_run(jp_fetch, api_project):
    api_project.cli("run", check=0)
    hits = await get(jp_fetch, "catalog", q="numbers")
    assert hits["items"][0]["name"] == "raw.numbers"
    page = await get(jp_fetch, "catalog", "staging.doubled")
    assert page["name"] == "staging.doubled"
    assert "raw.numbers" in [u["dataset"] for u in page["upstream"]]
    lineage = await get(jp_fetch, "lineage", "staging.doubled")
    assert "raw.numbers" in json.dumps(lineage)
    reviews = await get(jp_fetch, "reviews")
    assert reviews["failures"] == [] and reviews["quarantined"] == []


async def test_new_step_from_a_template(jp_fetch, api_project):
    templates = await get(jp_fetch, "templates")
    assert {"ingest_file", "sql_transform", "polars_transform", "report"} <= {t["name"] for t in templates["items"]}
    sql = next(t for t in templates["items"] if t["name"] == "sql_transform")
    assert {"name": "target", "default": "staging.example", "publishes": True} in sql["parameters"]  # what the dialog asks
    code, created = await post(jp_fetch, "steps", {"name": "summary", "template": "sql_transform", "needs": ["double"],
                                                   "params": {"source": "staging.doubled"}})
    assert code == 201 and created["notebook"] == "notebooks/summary.ipynb"
    assert created["publishes"] == ["staging.summary"]
    code, body = await failure_of(post(jp_fetch, "steps", {"name": "again", "template": "sql_transform",
                                                           "publishes": "staging.doubled"}))
    assert code == 409 and "already publishes staging.doubled" in body["message"]
    assert (api_project.root / "notebooks" / "summary.ipynb").is_file()
    assert "name: summary" in (api_project.root / "dataops.yaml").read_text()
    code, body = await failure_of(post(jp_fetch, "steps", {"name": "summary", "template": "sql_transform"}))
    assert code == 409


REVIEWED = TWO_STEPS.replace(
    "    owner: tests\n", "    owner: tests\n    checks:\n      - row_count: {max: 5, severity: warn}\n"
) + """
access:
  roles:
    steward: {read: ["*"], review: ["*"]}
  members: {sam: [steward], bob: []}
"""


async def test_review_decisions_go_through_the_api(jp_fetch, api_project):
    api_project.spec(REVIEWED)
    api_project.cli("run", check=0)
    reviews = await get(jp_fetch, "reviews")
    [failure] = reviews["failures"]
    assert failure["check"] == "row_count" and failure["status"] == "warn"
    assert reviews["open_failures"] == 1  # the Quality tab's badge
    # the run and its step say they published with a warning
    pipeline = await get(jp_fetch, "pipeline")
    assert {s["name"]: s["outcome"]["warnings"] for s in pipeline["steps"]} == {failure["step"]: 1, "double": 0} \
        if failure["step"] != "double" else {"make": 0, "double": 1}
    assert (await get(jp_fetch, "runs"))["items"][0]["warnings"] == 1

    decision = {"target": f"#{failure['id']}", "decision": "accept", "reason": "ten is fine"}
    code, body = await failure_of(post(jp_fetch, "reviews", decision, headers=as_user("bob")))
    assert code == 403 and "bob" in body["message"]
    assert api_project.ledger_rows("select count(*) from reviews") == [(0,)]

    code, decided = await post(jp_fetch, "reviews", decision, headers=as_user("sam"))
    assert code == 201
    assert api_project.ledger_rows("select decision, user, reason from reviews") == [("accept", "sam", "ten is fine")]
    after = await get(jp_fetch, "reviews")
    assert after["failures"] == [] and after["open_failures"] == 0
    code, body = await failure_of(post(jp_fetch, "reviews", {"target": "#999999", "decision": "accept", "reason": "x"}))
    assert code == 404
    # a standing decision ("known issue") on one check: carried to the next run's warning
    known = {"target": failure["dataset"], "check": "row_count", "decision": "waive", "reason": "ten rows is the size",
             "while": "failing < 100", "for_runs": 3}
    code, decided = await post(jp_fetch, "reviews", known, headers=as_user("sam"))
    assert code == 201 and decided["standing"] is True and "known issue" in decided["effect"]
    api_project.cli("run", "--force", check=0)
    reviews = await get(jp_fetch, "reviews")
    assert reviews["failures"] == [] and [c["decision"] for c in reviews["closed"]] == ["waived"]
    assert [(k["check"], k["terms"], k["runs_left"]) for k in reviews["standing"]] == [
        ("row_count", "for 3 runs, while failing < 100", 2)]
    page = await get(jp_fetch, "catalog", failure["dataset"])
    assert [(c["check"], c["decision"]) for c in page["quality"]["checks"] if c["status"] != "pass"] == [
        ("row_count", "waived")]
    code, body = await failure_of(post(jp_fetch, "reviews", {**known, "while": "often"}, headers=as_user("sam")))
    assert code == 400 and "is not a condition" in body["message"]


async def test_hidden_files_stay_hidden_from_the_contents_api(jp_fetch, api_project):
    """The extension does not open .env or the ledger to every client of the server."""
    api_project.cli("run", check=0)
    (api_project.root / ".env").write_text("DB_PASSWORD=hunter2\n")
    for path in (".env", ".dataops/ledger.db", ".dataops/runs"):
        refused = await jp_fetch("api", "contents", path, raise_error=False)
        assert refused.code in (403, 404), path
    refused = await jp_fetch("api", "contents", ".env", method="PUT", raise_error=False,
                             body=json.dumps({"type": "file", "format": "text", "content": "x"}))
    assert refused.code in (400, 403, 404)
    assert (api_project.root / ".env").read_text() == "DB_PASSWORD=hunter2\n"
    listing = json.loads((await jp_fetch("api", "contents")).body)
    assert {item["name"] for item in listing["content"]} == {"dataops.yaml", "notebooks"}


async def test_executed_notebook_is_served_read_only(jp_fetch, api_project):
    api_project.cli("run", check=0)
    [run] = (await get(jp_fetch, "runs"))["items"]
    model = await get(jp_fetch, "runs", run["run_id"], "notebooks", "double")
    assert model["type"] == "notebook" and model["format"] == "json" and model["writable"] is False
    assert model["name"] == "double.ipynb" and model["path"] == f"{run['run_id']}/double.ipynb"
    executed = json.loads((api_project.root / run["steps"][1]["output_notebook"]).read_text())
    assert [c["source"] for c in model["content"]["cells"]] == [c["source"] for c in executed["cells"]]
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in model["content"]["cells"])
    assert all(c["metadata"]["editable"] is c["metadata"]["deletable"] is c["metadata"]["trusted"] is False
               for c in model["content"]["cells"])

    code, body = await failure_of(jp_fetch("dataops", "runs", "20990101-000000-0000000", "notebooks", "make"))
    assert code == 404 and "20990101-000000-0000000" in body["message"]
    code, body = await failure_of(jp_fetch("dataops", "runs", run["run_id"], "notebooks", "triple"))
    assert code == 404 and "double" in body["message"]  # the known steps are suggested


async def test_executed_notebook_path_climbing_out_is_400(jp_fetch, api_project):
    api_project.cli("run", check=0)
    [run] = (await get(jp_fetch, "runs"))["items"]
    for run_id, step in (("..", "ledger"), (run["run_id"], "..")):
        code, body = await failure_of(jp_fetch("dataops", "runs", run_id, "notebooks", step))
        assert code == 400 and "'..'" in body["message"], (run_id, step)


async def test_bad_query_parameters_are_400_with_one_sentence(jp_fetch):
    for path, params, name in (
        (("runs",), {"limit": "abc"}, "limit"),
        (("runs",), {"limit": "0"}, "limit"),
        (("lineage", "raw.numbers"), {"depth": "x"}, "depth"),
        (("lineage", "raw.numbers"), {"depth": "-1"}, "depth"),
    ):
        code, body = await failure_of(jp_fetch("dataops", *path, params=params))
        assert code == 400 and body["error"] == "BadRequestError", (path, params)
        assert name in body["message"] and body["message"].count(". ") == 0, body["message"]

"""OpenLineage events of real runs: files, a real HTTP endpoint, the schemas, export."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from dataops_nb.errors import DataOpsError
from dataops_nb.openlineage import export_run, run_events
from dataops_nb.project import Project

from .conftest import TWO_STEPS, ProjectFactory
from .conftest import make_two_steps as build_two_steps

SCHEMAS = Path(__file__).parent / "data" / "openlineage"
CORE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
NAMESPACE = "dataops://twosteps"
# where a facet sits -> the suffix of the facet class its schema must define
PLACES = {
    ("run", "facets"): "RunFacet",
    ("job", "facets"): "JobFacet",
    ("inputs", "facets"): "DatasetFacet",
    ("outputs", "facets"): "DatasetFacet",
    ("outputs", "outputFacets"): "OutputDatasetFacet",
    ("inputs", "inputFacets"): "InputDatasetFacet",
}
CHECKED = TWO_STEPS + """\
    columns:
      i: {description: The number itself, checks: [not_null, unique]}
"""


# --- validation against the OpenLineage schemas -------------------------------------------


def _schemas() -> dict[str, dict[str, Any]]:
    found = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        found[schema["$id"]] = schema
    return found


BY_ID = _schemas()
REGISTRY: Registry = Registry().with_resources(
    (schema_id, Resource.from_contents(schema)) for schema_id, schema in BY_ID.items()
)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate(event: dict[str, Any]) -> None:
    """The event against OpenLineage.json, and each standard facet against its own schema."""
    _validator(BY_ID[CORE_ID]).validate(event)
    assert event["schemaURL"] == f"{CORE_ID}#/$defs/RunEvent"
    for (where, kind), suffix in PLACES.items():
        holders = [event[where]] if where in ("run", "job") else event.get(where, [])
        for holder in holders:
            for key, facet in holder.get(kind, {}).items():
                url = facet["_schemaURL"]
                if key == "dataops":  # our own facet: its schema is the producer's
                    assert url.startswith(event["producer"])
                    continue
                base, _, pointer = url.partition("#")
                assert base in BY_ID, f"facet {key} names a schema the tests do not have: {url}"
                schema = BY_ID[base]
                assert pointer.endswith(suffix) and key in schema["properties"], (key, url, where, kind)
                _validator(schema).validate({key: facet})


# --- running real projects --------------------------------------------------------------------


def make_two_steps(project: ProjectFactory, spec: str = CHECKED) -> ProjectFactory:
    return build_two_steps(project, spec)


def git_commit(root: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            cwd=root, check=True, capture_output=True, text=True,
        ).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "pipeline")
    return git("rev-parse", "HEAD")


def last_run_id(project: ProjectFactory) -> str:
    [(run_id,)] = project.ledger_rows("select run_id from runs order by run_id desc limit 1")
    return run_id


def events_file(project: ProjectFactory, run_id: str) -> Path:
    return project.root / ".dataops" / "openlineage" / f"{run_id}.jsonl"


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    jobs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        jobs.setdefault(event["job"]["name"], []).append(event)
    return jobs


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real successful run of make -> double in a git repository (shared: it is read-only)."""
    project = make_two_steps(ProjectFactory(tmp_path_factory.mktemp("ol") / "twosteps"))
    commit = git_commit(project.root)
    project.cli("run", "-q", "-j", "1", check=0)
    run_id = last_run_id(project)
    return {"project": project, "commit": commit, "run_id": run_id, "events": read_events(events_file(project, run_id))}


# --- a successful run -----------------------------------------------------------------------------


def test_run_writes_start_and_complete_per_step_valid_against_the_spec(finished):
    project, events = finished["project"], finished["events"]
    for event in events:
        validate(event)
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "twosteps"),
        ("START", "twosteps.make"),
        ("COMPLETE", "twosteps.make"),
        ("START", "twosteps.double"),
        ("COMPLETE", "twosteps.double"),
        ("COMPLETE", "twosteps"),
    ]
    jobs = by_job(events)
    pipeline_run = jobs["twosteps"][0]["run"]["runId"]
    run_ids = {name: {e["run"]["runId"] for e in job} for name, job in jobs.items()}
    assert all(len(ids) == 1 for ids in run_ids.values()) and len(set().union(*run_ids.values())) == 3
    for name in ("twosteps.make", "twosteps.double"):
        for event in jobs[name]:
            parent = event["run"]["facets"]["parent"]
            assert parent["run"]["runId"] == pipeline_run
            assert parent["job"] == {"namespace": NAMESPACE, "name": "twosteps"}
            assert event["run"]["facets"]["dataops"]["runId"] == finished["run_id"]

    # the code behind each job: the commit and the notebook in the repository
    make_start = jobs["twosteps.make"][0]
    location = make_start["job"]["facets"]["sourceCodeLocation"]
    assert (location["type"], location["version"], location["path"]) == ("git", finished["commit"], "notebooks/make.ipynb")
    assert jobs["twosteps"][0]["job"]["facets"]["sourceCodeLocation"]["path"] == "dataops.yaml"

    # names are stable and say nothing about this machine's disk
    text = events_file(project, finished["run_id"]).read_text()
    assert str(project.root) not in text and str(project.root.parent) not in text
    assert {e["job"]["namespace"] for e in events} == {NAMESPACE}


def test_inputs_outputs_schema_and_quality_facets_match_what_was_published(finished):
    project, jobs = finished["project"], by_job(finished["events"])
    make_done, double_done = jobs["twosteps.make"][-1], jobs["twosteps.double"][-1]
    assert make_done["inputs"] == []
    assert [(d["namespace"], d["name"]) for d in make_done["outputs"]] == [(NAMESPACE, "raw.numbers")]
    assert [(d["namespace"], d["name"]) for d in double_done["inputs"]] == [(NAMESPACE, "raw.numbers")]
    assert [(d["namespace"], d["name"]) for d in double_done["outputs"]] == [(NAMESPACE, "staging.doubled")]

    [(path, version_id, schema)] = project.ledger_rows(
        "select path, version_id, schema from dataset_versions where dataset = 'staging.doubled'"
    )
    [output] = double_done["outputs"]
    fields = output["facets"]["schema"]["fields"]
    assert [f["name"] for f in fields] == pl.read_parquet(project.root / ".dataops" / path).columns == ["i", "j"]
    assert [(f["name"], f["type"]) for f in fields] == [(c["name"], c["type"]) for c in json.loads(schema)]
    assert output["facets"]["version"]["datasetVersion"] == version_id
    assert output["facets"]["dataQualityMetrics"]["rowCount"] == 10
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 10

    # the input is the version make published in this run, described as declared
    [numbers] = double_done["inputs"]
    assert numbers["facets"]["version"]["datasetVersion"] == f"raw.numbers@{finished['run_id']}"
    assert numbers["facets"]["schema"]["fields"][0]["description"] == "The number itself"
    assert numbers["facets"]["documentation"]["description"] == "The numbers 0..n-1."

    # the declared checks became assertions and metrics
    [published] = make_done["outputs"]
    assertions = {a["name"]: a for a in published["facets"]["dataQualityAssertions"]["assertions"]}
    assert set(assertions) == {"not_null(i)", "unique(i)"}
    assert assertions["not_null(i)"]["assertion"] == "not_null"
    assert assertions["not_null(i)"]["column"] == "i" and assertions["not_null(i)"]["success"] is True
    metrics = published["facets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 10 and set(metrics["columnMetrics"]) == {"i"}
    column = metrics["columnMetrics"]["i"]
    assert (column["nullCount"], column["min"], column["max"]) == (0, 0, 9) and column["distinctCount"] > 0
    assert set(double_done["outputs"][0]["facets"]["dataQualityMetrics"]["columnMetrics"]) == {"i", "j"}
    assert metrics["bytes"] == project.ledger_rows(
        "select bytes from dataset_versions where dataset = 'raw.numbers'"
    )[0][0]


def test_export_reproduces_the_live_events_and_run_ids(finished, tmp_path):
    project = Project(finished["project"].root)
    out = export_run(project, finished["run_id"], tmp_path / "events.jsonl")
    assert out == tmp_path / "events.jsonl"
    assert read_events(out) == finished["events"]
    assert run_events(project, finished["run_id"]) == finished["events"]

    default = export_run(project, finished["run_id"], None)
    assert default == events_file(finished["project"], finished["run_id"])
    assert read_events(default) == finished["events"]

    with pytest.raises(DataOpsError, match="20990101-000000-000abcd"):
        export_run(project, "20990101-000000-000abcd", tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()


# --- failures ------------------------------------------------------------------------------------------


def test_failing_steps_emit_fail_with_error_message_and_skipped_steps_nothing(project):
    project.notebook("boom", "x = 1", "raise ValueError('kaboom ' + str(x * 42))")
    project.notebook("after", "y = 1", "print(y)")
    project.notebook(
        "make",
        "n = 10",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.numbers", f"select range as i from range({n})")
        """,
    )
    project.spec(
        """
        name: twosteps
        steps:
          - {name: boom, notebook: notebooks/boom.ipynb}
          - {name: after, notebook: notebooks/after.ipynb, needs: [boom]}
          - {name: make, notebook: notebooks/make.ipynb}
        datasets:
          raw.numbers:
            checks:
              - row_count: {min: 100}
        """
    )
    project.cli("run", "-q", "-j", "1", check=1)
    run_id = last_run_id(project)
    events = read_events(events_file(project, run_id))
    for event in events:
        validate(event)
    jobs = by_job(events)
    assert "twosteps.after" not in jobs  # skipped: it never ran

    boom = jobs["twosteps.boom"]
    assert [e["eventType"] for e in boom] == ["START", "FAIL"]
    error = boom[1]["run"]["facets"]["errorMessage"]
    assert "kaboom 42" in error["message"] and error["programmingLanguage"] == "python"

    # the quality gate failed: the quarantined version is the output, with the failed assertion
    make = jobs["twosteps.make"]
    assert [e["eventType"] for e in make] == ["START", "FAIL"]
    assert "quality checks failed" in make[1]["run"]["facets"]["errorMessage"]["message"]
    [quarantined] = make[1]["outputs"]
    [assertion] = quarantined["facets"]["dataQualityAssertions"]["assertions"]
    assert (assertion["assertion"], assertion["success"], assertion["severity"]) == ("row_count", False, "error")

    [pipeline_end] = [e for e in jobs["twosteps"] if e["eventType"] != "START"]
    assert pipeline_end["eventType"] == "FAIL"
    assert "boom" in pipeline_end["run"]["facets"]["errorMessage"]["message"]
    assert run_events(Project(project.root), run_id) == events


def test_secret_values_never_appear_in_events(project):
    secret = "tok-9f8e7d6c5b4a-very-secret"
    project.notebook(
        "fetch",
        "api_token = None",
        """
        import dataops_nb as dn
        step = dn.step()
        token = step.secret("api_token")
        print("using", token)
        step.publish("raw.fetched", "select 1 as id")
        raise RuntimeError(f"the API refused {token}")
        """,
    )
    project.spec(
        """
        name: secrets
        steps:
          - name: fetch
            notebook: notebooks/fetch.ipynb
            params: {api_token: {secret: OL_TEST_API_TOKEN}}
        """
    )
    project.cli("run", "-q", env={"OL_TEST_API_TOKEN": secret}, check=1)
    run_id = last_run_id(project)
    text = events_file(project, run_id).read_text()
    fail = [e for e in read_events(events_file(project, run_id)) if e["eventType"] == "FAIL"]
    assert "the API refused ********" in fail[0]["run"]["facets"]["errorMessage"]["message"]
    assert secret not in text
    exported = export_run(Project(project.root), run_id, project.root / "export.jsonl").read_text()
    assert secret not in exported


# --- HTTP ---------------------------------------------------------------------------------------------------


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(  # type: ignore[attr-defined]
            {"path": self.path, "headers": dict(self.headers), "event": json.loads(body)}
        )
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def lineage_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_http_endpoint_receives_every_event_with_the_bearer_token(project, lineage_server):
    port = lineage_server.server_address[1]
    make_two_steps(
        project,
        CHECKED + f"lineage: {{url: 'http://127.0.0.1:{port}', api_key_env: OL_TEST_KEY}}\n",
    )
    project.cli("run", "-q", "-j", "1", env={"OL_TEST_KEY": "key-1234567890"}, check=0)
    received = lineage_server.received  # type: ignore[attr-defined]
    assert [r["path"] for r in received] == ["/api/v1/lineage"] * 6
    assert {r["headers"]["Authorization"] for r in received} == {"Bearer key-1234567890"}
    assert {r["headers"]["Content-Type"] for r in received} == {"application/json"}
    events = [r["event"] for r in received]
    for event in events:
        validate(event)
    # the same events as in the run's file, in the same order
    assert events == read_events(events_file(project, last_run_id(project)))
    assert "key-1234567890" not in json.dumps(events)


def test_unreachable_endpoint_warns_and_the_run_succeeds(project):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_two_steps(project, CHECKED + f"lineage: {{url: 'http://127.0.0.1:{port}/', timeout: 2}}\n")
    result = project.cli("run", "-q", "-j", "1", check=0)
    warning = f"OpenLineage: could not send events to http://127.0.0.1:{port}/api/v1/lineage"
    assert result.stderr.count(warning) == 1, result.stderr
    run_id = last_run_id(project)
    assert f".dataops/openlineage/{run_id}.jsonl" in result.stderr
    assert len(read_events(events_file(project, run_id))) == 6
    [(status,)] = project.ledger_rows("select status from runs")
    assert status == "success"

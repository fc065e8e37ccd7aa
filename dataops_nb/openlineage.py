"""OpenLineage: a run's events, built from the ledger, and the transports that carry them.

Each step is an OpenLineage job (`<pipeline>.<step>`) whose run has a START and then a
COMPLETE, FAIL or ABORT event; the pipeline run is a job of its own and the parent of
its steps' runs. One builder serves both live emission (`LineageEmitter`, a listener of
the runner's events) and `export_run`, and run ids are derived (uuid5) from our run id
and step, so an export reproduces what was emitted, runIds included.

Events always go to `.dataops/openlineage/<run_id>.jsonl`, and also to an HTTP endpoint
when `lineage.url` is set. Emission never breaks or slows a run: a transport that fails
is logged as a warning and HTTP posts happen on a background thread.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import threading
import uuid
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .project import Project
from .runlog import read_log
from .security import redact, secret_values
from .spec import Spec

log = logging.getLogger(__name__)

PRODUCER = f"https://pypi.org/project/dataops-nb/{__version__}/"
EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACET_SCHEMAS = {  # facet class -> the version of its schema we follow
    "SchemaDatasetFacet": "1-2-0",
    "DatasetVersionDatasetFacet": "1-0-1",
    "DocumentationDatasetFacet": "1-1-0",
    "DataQualityMetricsDatasetFacet": "1-0-0",
    "DataQualityAssertionsDatasetFacet": "1-1-0",
    "OutputStatisticsOutputDatasetFacet": "1-0-2",
    "SourceCodeLocationJobFacet": "1-1-0",
    "JobTypeJobFacet": "2-0-4",
    "ParentRunFacet": "1-2-0",
    "ErrorMessageRunFacet": "1-0-1",
    "ProcessingEngineRunFacet": "1-1-1",
}
# the ledger's step status -> the event that ends the step's OpenLineage run
_END_OF_STEP = {"success": "COMPLETE", "accepted": "COMPLETE", "failed": "FAIL", "timed_out": "FAIL"}
_END_OF_RUN = {"success": "COMPLETE", "failed": "FAIL"}
_EXECUTED = ("success", "accepted", "failed", "timed_out", "interrupted", "running")


def _facet(name: str, /, **fields: Any) -> dict[str, Any]:
    url = f"https://openlineage.io/spec/facets/{_FACET_SCHEMAS[name]}/{name}.json#/$defs/{name}"
    return {"_producer": PRODUCER, "_schemaURL": url, **fields}


def _custom_facet(name: str, /, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{PRODUCER}#/$defs/{name}", **fields}


# --- names -----------------------------------------------------------------------------


def namespace(spec: Spec) -> str:
    """Stable across machines and checkouts: `lineage.namespace`, else `dataops://<pipeline>`."""
    if spec.lineage.namespace:
        return spec.lineage.namespace
    slug = re.sub(r"[^a-z0-9._-]+", "-", spec.name.lower()).strip("-") or "pipeline"
    return f"dataops://{slug}"


LINEAGE_READER = ":openlineage"  # who reads the events: no member of any role, so PII values are masked


def run_uuid(space: str, run_id: str, step: str | None = None) -> str:
    """The OpenLineage runId of a pipeline run (`step=None`) or of one step in it."""
    key = f"{space}/runs/{run_id}" + (f"/steps/{step}" if step else "")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


# --- building events from the ledger ----------------------------------------------------


class _RunView:
    """One run as the ledger records it, read once per batch of events."""

    def __init__(self, project: Project, run_id: str, run: Any = None, *, step: str | None = None) -> None:
        """`run`: the run's record, when the caller holds it already (a run's record does not change
        until it ends); `step`: a view for that step's events only (reads its versions and checks alone)."""
        from .errors import NotFoundError

        ledger = project.ledger
        row = run if run is not None and run.run_id == run_id else ledger.run(run_id)
        if row is None:
            raise NotFoundError("run", run_id, [r["run_id"] for r in ledger.runs.recent(50)])
        self.project, self.spec, self.run_id, self.run = project, project.spec, run_id, row
        self.namespace = namespace(self.spec)
        envs = [
            value["secret"]
            for values in row.params.values()
            for value in values.values()
            if isinstance(value, dict) and "secret" in value
        ]
        self.secrets = secret_values(envs)  # masked in every event, should one slip through
        self._ancestries: dict[str, Any] = {}
        self._only = step

    # what a start event does not need: read when an event first asks (a step's start reads only the run)

    @cached_property
    def steps(self) -> dict[str, Any]:
        return {s["step"]: s for s in self.project.ledger.runs.steps(self.run_id, run=self.run)}

    @cached_property
    def versions(self) -> list[Any]:
        return self.project.ledger.versions_of_run(self.run_id, self._only)

    def ancestry(self, step: str) -> Any:
        """What the step's versions were made from, read once for the step's event."""
        if step not in self._ancestries:
            ids = [version.version_id for version in self.versions if version.step == step]
            self._ancestries[step] = self.project.ledger.ancestry(ids)
        return self._ancestries[step]

    @cached_property
    def checks(self) -> dict[str, list[Any]]:
        checks: dict[str, list[Any]] = {}
        for check in self.project.ledger.checks.of_run(self.run_id, self._only):
            checks.setdefault(check["version_id"], []).append(check)
        return checks

    # --- the events ---

    def run_start(self) -> dict[str, Any]:
        return redact(self._event("START", self.run["started_at"], None), self.secrets)

    def run_end(self) -> dict[str, Any] | None:
        status = self.run["status"]
        if status == "running":
            return None
        facets = {}
        if status != "success":
            facets["errorMessage"] = _error(self.run["message"] or f"the run ended {status}")
        event = self._event(_END_OF_RUN.get(status, "ABORT"), self.run["ended_at"], None, facets)
        return redact(event, self.secrets)

    def step_start(self, step: str, time: str) -> dict[str, Any]:
        return redact(self._event("START", time, step), self.secrets)

    def step_end(self, step: str) -> dict[str, Any] | None:
        row = self.steps.get(step)
        if row is None or (row["status"] == "running" and self.run["status"] == "running"):
            return None
        kind = _END_OF_STEP.get(row["status"], "ABORT")
        facets = {}
        if kind != "COMPLETE":
            from .metadata.pii import step_error

            # a lineage backend is no member: PII values masked
            error = step_error(self.project, LINEAGE_READER, self.run_id, step, row["error"])
            facets["errorMessage"] = _error(error or f"the step ended {row['status']}")
        time = row["ended_at"] or self.run["ended_at"] or row["started_at"] or self.run["started_at"]
        event = self._event(kind, time, step, facets)
        event["inputs"] = [self._input(v) for v in self._inputs_of(step)] + self._file_inputs(row)
        event["outputs"] = [self._output(v) for v in self.versions if v.step == step]
        return redact(event, self.secrets)

    def _event(self, kind: str, time: str, step: str | None, facets: dict[str, Any] | None = None) -> dict[str, Any]:
        run_facets: dict[str, Any] = {
            "processing_engine": _facet("ProcessingEngineRunFacet", name="dataops-nb", version=__version__),
        }
        if step is not None:
            parent = {
                "run": {"runId": run_uuid(self.namespace, self.run_id)},
                "job": {"namespace": self.namespace, "name": self.spec.name},
            }
            run_facets["parent"] = _facet("ParentRunFacet", **parent, root=parent)
        run_facets["dataops"] = _custom_facet("DataopsRunFacet", **self._our_ids(step, ended=kind != "START"))
        run_facets.update(facets or {})
        return {
            "eventType": kind,
            "eventTime": time,
            "producer": PRODUCER,
            "schemaURL": EVENT_SCHEMA,
            "run": {"runId": run_uuid(self.namespace, self.run_id, step), "facets": run_facets},
            "job": {"namespace": self.namespace, "name": self._job_name(step), "facets": self._job_facets(step)},
            "inputs": [],
            "outputs": [],
        }

    def _our_ids(self, step: str | None, *, ended: bool) -> dict[str, Any]:
        """Where to look in the ledger: our run id; once a step ended, its attempts and notebook."""
        ids: dict[str, Any] = {"runId": self.run_id}
        if step is not None:
            ids["step"] = step
            row = self.steps.get(step) if ended else None  # a start reads only the run
            if row is not None:
                ids["attempts"] = row["attempt"]
                if row["output_notebook"]:
                    ids["executedNotebook"] = row["output_notebook"]
        return ids

    def _job_name(self, step: str | None) -> str:
        return self.spec.name if step is None else f"{self.spec.name}.{step}"

    def _job_facets(self, step: str | None) -> dict[str, Any]:
        facets: dict[str, Any] = {
            "jobType": _facet(
                "JobTypeJobFacet", processingType="BATCH", integration="DATAOPS_NB",
                jobType="DAG" if step is None else "TASK",
            )
        }
        commit = self.run["git_commit"]
        if commit:
            from urllib.parse import quote

            path = self._source_path(step)
            base = self.namespace if "://" in self.namespace else f"dataops://{self.namespace}"
            facets["sourceCodeLocation"] = _facet(
                "SourceCodeLocationJobFacet", type="git", url=f"{base}/{quote(path)}", path=path, version=commit
            )
        return facets

    def _source_path(self, step: str | None) -> str:
        if step is None:
            return self.project.relative(self.project.spec_path)
        known = {s.name: s.notebook for s in self.spec.steps}
        if step in known:
            return known[step]
        return self.steps[step]["output_notebook"] or step  # a step since removed from the spec

    # --- datasets ---

    def _inputs_of(self, step: str) -> list[Any]:
        """What the step read: the lineage of its versions, plus its manifest's reads."""
        ancestry = self.ancestry(step)
        ids: list[str] = []
        for version in self.versions:
            if version.step == step:
                ids += ancestry.inputs_of(version.version_id)
        manifest = self.project.store.run_dir(self.run_id) / f"{step}.json"
        try:
            ids += [r["version"] for r in json.loads(manifest.read_text()).get("read", []) if r.get("version")]
        except (OSError, ValueError):
            pass  # a step that failed before reading anything has no manifest
        found = {version_id: ancestry.get(version_id) for version_id in dict.fromkeys(ids)}  # a read beyond it asks the ledger
        return [version for version in found.values() if version is not None]

    def _file_inputs(self, row: Any) -> list[dict[str, Any]]:
        """The files (and URLs) the step read, from its fingerprint: file datasets named by
        their absolute path in the `file://` namespace (so namespace + name is the file's URI)."""
        from urllib.parse import urlsplit

        from .inputs import is_url

        try:
            files = json.loads(row["fingerprint"] or "{}").get("files") or {}
        except (ValueError, AttributeError):
            return []
        found = []
        for key, version in sorted(files.items()):
            if is_url(key):
                parts = urlsplit(key)
                space, name = f"{parts.scheme}://{parts.hostname or ''}", parts.path or "/"
            else:
                path = Path(key) if Path(key).is_absolute() else self.project.root / key
                space, name = "file://", path.resolve().as_posix()
            facets = {"version": _facet("DatasetVersionDatasetFacet", datasetVersion=version)}
            found.append({"namespace": space, "name": name, "facets": facets})
        return found

    def _dataset_facets(self, dataset: str, version_id: str, schema: list[dict[str, str]]) -> dict[str, Any]:
        meta = self.spec.datasets.get(dataset)
        fields = []
        for position, column in enumerate(schema, start=1):
            field: dict[str, Any] = {"name": column["name"], "type": column.get("type", ""), "ordinal_position": position}
            declared = meta.columns.get(column["name"]) if meta else None
            if declared is not None and declared.description:
                field["description"] = declared.description
            fields.append(field)
        facets = {
            "schema": _facet("SchemaDatasetFacet", fields=fields),
            "version": _facet("DatasetVersionDatasetFacet", datasetVersion=version_id),
        }
        if meta is not None and meta.description:
            facets["documentation"] = _facet("DocumentationDatasetFacet", description=meta.description)
        return facets

    def _input(self, version: Any) -> dict[str, Any]:
        facets = self._dataset_facets(version.dataset, version.version_id, version.schema)
        return {"namespace": self.namespace, "name": version.dataset, "facets": facets}

    def _output(self, version: Any) -> dict[str, Any]:
        facets = self._dataset_facets(version.dataset, version.version_id, version.schema)
        checks = self.checks.get(version.version_id, [])
        columns = self._column_metrics(version)
        for check in checks:  # versions without a profile still have their not_null counts
            if check["kind"] == "not_null" and check["column_name"] and check["failing"] is not None:
                columns.setdefault(check["column_name"], {}).setdefault("nullCount", int(check["failing"]))
        metrics: dict[str, Any] = {"columnMetrics": columns}
        if version.rows is not None:
            metrics["rowCount"] = int(version.rows)
        if version.bytes is not None:
            metrics["bytes"] = int(version.bytes)
        facets["dataQualityMetrics"] = _facet("DataQualityMetricsDatasetFacet", **metrics)
        if checks:
            facets["dataQualityAssertions"] = _facet(
                "DataQualityAssertionsDatasetFacet", assertions=[self._assertion(c) for c in checks]
            )
        statistics = {k: v for k, v in (("rowCount", version.rows), ("size", version.bytes)) if v is not None}
        return {
            "namespace": self.namespace,
            "name": version.dataset,
            "facets": facets,
            "outputFacets": {"outputStatistics": _facet("OutputStatisticsOutputDatasetFacet", **statistics)},
        }


    def _assertion(self, check: Any) -> dict[str, Any]:
        """A check result, its message's PII values masked (a lineage backend is no member)."""
        from .metadata.pii import message_for

        item = _assertion(check)
        if "description" in item:
            item["description"] = message_for(self.project, LINEAGE_READER, check["dataset"], check["version_id"],
                                              item["description"])
        return item

    def _column_metrics(self, version: Any) -> dict[str, dict[str, Any]]:
        """From the version's column profile; min and max only of numbers outside PII columns."""
        from .metadata.pii import personal

        pii = personal(self.spec, self.ancestry(version.step), version.dataset, version.version_id)  # inherited too
        columns: dict[str, dict[str, Any]] = {}
        for column in self.project.ledger.column_profiles(version.version_id):
            metric: dict[str, Any] = {}
            if column["null_count"] is not None:
                metric["nullCount"] = int(column["null_count"])
            if column["approx_distinct"] is not None:
                metric["distinctCount"] = int(column["approx_distinct"])
            if column["name"] not in pii and not column["pii_kind"]:
                for key in ("min", "max"):
                    value = column[key]
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                        metric[key] = value
            columns[column["name"]] = metric
        return columns


def _assertion(check: Any) -> dict[str, Any]:
    """A check result; failing-row samples stay in the ledger (they may hold PII)."""
    item: dict[str, Any] = {
        "assertion": check["kind"],
        "name": check["check_name"],
        "success": check["status"] == "pass",
        "severity": check["severity"],
    }
    if check["column_name"]:
        item["column"] = check["column_name"]
    if check["observed"] is not None:
        item["actual"] = f"{check['observed']:g}"
    elif check["failing"] is not None:
        item["actual"] = f"{check['failing']} failing row(s)"
    if check["message"]:
        item["description"] = check["message"]
    return item


def _error(message: str) -> dict[str, Any]:
    return _facet("ErrorMessageRunFacet", message=message, programmingLanguage="python")


def run_events(project: Project, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run, in time order, as they were (or would have been) emitted."""
    view = _RunView(project, run_id)
    started: dict[str, str] = {}
    for record in read_log(project.store.run_dir(run_id) / "run.log"):
        if record.get("event") == "step_started":
            started.setdefault(record["step"], record["time"])
    events = [view.run_start()]
    for step, row in view.steps.items():
        if step not in started and row["status"] not in _EXECUTED:
            continue  # skipped, fresh or never reached: no run of that job
        events.append(view.step_start(step, started.get(step) or row["started_at"] or view.run["started_at"]))
        events.append(view.step_end(step))
    events.append(view.run_end())
    present = [event for event in events if event is not None]
    return sorted(present, key=lambda event: event["eventTime"])


def export_run(project: Project, run_id: str, dest: Path | None = None) -> Path:
    """Write a run's events as JSON lines (default `.dataops/openlineage/<run_id>.jsonl`)."""
    events = run_events(project, run_id)
    target = Path(dest) if dest is not None else events_path(project, run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("".join(json.dumps(event, default=str) + "\n" for event in events), encoding="utf-8")
    os.replace(tmp, target)
    return target


def events_path(project: Project, run_id: str) -> Path:
    return project.store.root / "openlineage" / f"{run_id}.jsonl"


# --- transports ---------------------------------------------------------------------------


class Transport(Protocol):
    def send(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """Appends each event as one JSON line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)

    def close(self) -> None:
        pass


class HttpTransport:
    """POSTs each event to `{url}/api/v1/lineage` from a background thread, in order.

    The first failure is logged once and ends sending for this transport (the events
    stay in the run's file), so a dead endpoint costs a run at most one timeout.
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 5.0, kept_in: str = "") -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/api/v1/lineage") else f"{base}/api/v1/lineage"
        self.api_key, self.timeout, self.kept_in = api_key, timeout, kept_in
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failed = False

    def post(self, event: dict[str, Any]) -> None:
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = json.dumps(event, default=str).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def send(self, event: dict[str, Any]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="openlineage-http", daemon=True)
            self._thread.start()
        self._queue.put(event)

    def close(self) -> None:
        """Wait for the queued events, at most about one timeout."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(self.timeout + 1.0)
        if self._thread.is_alive():
            log.warning(
                "OpenLineage: %s is still busy; the remaining events of this run are not sent.", _shown(self.url)
            )

    def _work(self) -> None:
        while (event := self._queue.get()) is not None:
            if self.failed:
                continue
            try:
                self.post(event)
            except Exception as exc:
                self.failed = True
                log.warning(
                    "OpenLineage: could not send events to %s (%s); they are kept in %s.",
                    _shown(self.url), _reason(exc), self.kept_in or "the run's events file",
                )


def _shown(url: str) -> str:
    """`url` without credentials, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _reason(exc: Exception) -> str:
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}"


def transports(project: Project, run_id: str) -> list[Transport]:
    """The run's file, and the HTTP endpoint of `lineage.url` when there is one."""
    path = events_path(project, run_id)
    chosen: list[Transport] = [FileTransport(path)]
    settings = project.spec.lineage
    if settings.url:
        key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        chosen.append(
            HttpTransport(settings.url, api_key=key, timeout=settings.timeout, kept_in=project.relative(path))
        )
    return chosen


# --- live emission -------------------------------------------------------------------------


class LineageEmitter:
    """A run listener: turns the runner's events into OpenLineage events as they happen."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.run_id: str | None = None
        self._transports: list[Transport] = []
        self._started: dict[str, str] = {}
        self._ended: set[str] = set()
        self._run: Any = None  # the run's record, read when it started (it changes only when the run ends)

    def __call__(self, record: dict[str, Any]) -> None:
        try:
            self._handle(record)
        except Exception as exc:  # lineage must never break a run
            log.warning("OpenLineage: could not build the event for %s: %s", record.get("event"), exc)

    def _handle(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind == "run_started":
            self.run_id, self._started, self._ended = record["run_id"], {}, set()
            self._transports = transports(self.project, self.run_id)
            view = _RunView(self.project, self.run_id)
            self._run = view.run
            self._send(view.run_start())
        elif self.run_id is None:
            return
        elif kind == "step_started" and record["step"] not in self._started:  # retries stay one run
            self._started[record["step"]] = record["time"]
            self._send(self._step_view(record["step"]).step_start(record["step"], record["time"]))
        elif kind in ("step_finished", "step_error") and record["step"] in self._started:
            self._ended.add(record["step"])
            self._send(self._step_view(record["step"]).step_end(record["step"]))
        elif kind == "run_finished":
            try:
                view = _RunView(self.project, self.run_id)
                for step in self._started:
                    if step not in self._ended:  # interrupted mid-step
                        self._send(view.step_end(step))
                self._send(view.run_end())
            finally:
                for transport in self._transports:
                    transport.close()
                self.run_id, self._transports, self._run = None, [], None

    def _step_view(self, step: str) -> _RunView:
        """The run as one step's events need it: the run's record kept from its start, that step's rows read."""
        assert self.run_id is not None
        return _RunView(self.project, self.run_id, self._run, step=step)

    def _send(self, event: dict[str, Any] | None) -> None:
        if event is None:
            return
        for transport in self._transports:
            try:
                transport.send(event)
            except Exception as exc:
                log.warning("OpenLineage: %s failed: %s", type(transport).__name__, exc)

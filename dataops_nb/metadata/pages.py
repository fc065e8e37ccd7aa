"""The dataset page: everything the catalog knows about one dataset, as plain data.

Assembled from the ledger (kept current by the runner and `model.sync_spec`) and the
spec: description, owner, tags, columns with types, profile and tags, the current
version and the history, freshness against the SLA, quality status, upstream and
downstream datasets, the executed notebook behind the current version, and a preview
of its first rows with PII masked for the current user. A user whom `access` does not
let read the dataset sees neither the preview nor the column profiles.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from .pii import INHERITED, hidden, inherited_of, mask_rows, may_unmask, personal
from .profile import plain

PREVIEW_ROWS = 10


def dataset_page(project: Any, name: str, *, user: str | None = None, rows: int = PREVIEW_ROWS,
                 env: str | None = None) -> dict[str, Any]:
    from ..security import current_user, may
    from .model import sync_spec

    sync_spec(project)
    ledger, spec = project.ledger, project.spec
    entry = ledger.dataset(name)
    if entry is None or entry["forgotten_at"]:  # `catalog forget` took it out
        raise NotFoundError("dataset", name, ledger.dataset_names())
    user = user or current_user()
    readable = may(spec, user, name, "read")  # without the right: what it is, not what it holds
    versions = ledger.versions.of_dataset(name)
    current = project.current_versions(env).get(name)  # as the environment reads it (its own, else its base's)
    personal_columns = personal(spec, ledger, name, current.version_id if current else None)
    masked = hidden(spec, ledger, name, current.version_id if current else None, auto=personal_columns, user=user)
    profiles = {p["name"]: p for p in ledger.column_profiles(current.version_id)} if current else {}
    schema_types = {c["name"]: c["type"] for c in current.schema} if current else {}
    tags = _column_tags(spec, ledger, name, current.version_id if current else None)
    columns = []
    for column in ledger.dataset_columns(name):
        column_name = column["name"]
        profile = profiles.get(column_name)
        stats = None
        if profile is not None and readable:
            stats = {key: profile[key] for key in ("null_count", "approx_distinct", "min", "max")}
            if column_name in masked:
                stats = {**stats, **mask_rows([{"min": stats["min"], "max": stats["max"]}], ["min", "max"])[0]}
            elif column_name in personal_columns:  # two of its values, whoever asks (tagged after the publish)
                stats = {**stats, "min": None, "max": None}
        column_tags = tags.get(column_name, [])
        columns.append({
            "name": column_name,
            "type": schema_types.get(column_name) or column["type"] or column["spec_type"],
            "description": column["description"],
            "tags": column_tags,
            "pii": any(t["tag"] == "pii" for t in column_tags) or column_name in masked,
            "masked": column_name in masked,
            "in_spec": bool(column["in_spec"]),
            "in_current_version": column_name in schema_types,
            "profile": stats,
        })
    freshness_sla = json.loads(entry["freshness"]) if entry["freshness"] else None
    return {
        "name": name,
        "environment": project.environment(env),
        "base": spec.base_of(project.environment(env)),  # what the environment reads the rest from (a diff's other side)
        "description": entry["description"],
        "owner": entry["owner"],
        "tags": json.loads(entry["tags"] or "[]"),
        "in_spec": bool(entry["in_spec"]),
        "columns": columns,
        "current_version": _version(project, current, ledger) if current else None,
        "versions": _with_checks(_history(ledger, [_version(project, v, ledger, brief=True) for v in versions], versions),
                                 ledger),
        "freshness": freshness(freshness_sla, current, profiles if readable else {}, ledger),
        "quality": _quality_for(project, user, name, current.version_id) if current else {"status": None, "checks": []},
        "upstream": _upstream(ledger, current.version_id, project.spec.environment_chain(env)) if current else [],
        "downstream": _downstream(ledger, name, versions),
        "notebook": _notebook(project, ledger, current) if current else None,
        "preview": {
            "rows": _preview(current.path, rows, masked) if current and readable else [],
            "masked_columns": sorted(masked),
            "user": user,
            "may_read": readable,
            "may_unmask": may_unmask(spec, user, name),
            "notice": None if readable else
            f"{user} may not read {name}: its rows and column profiles are hidden (see access in dataops.yaml).",
        },
    }


def _quality_for(project: Any, user: str, name: str, version_id: str) -> dict[str, Any]:
    """`quality` with each check's message as `user` may see it (PII values masked)."""
    from .pii import message_for

    result = quality(project.ledger, version_id)
    for check in result["checks"]:
        check["message"] = message_for(project, user, name, version_id, check["message"])
    return result


def _column_tags(spec: Any, ledger: Any, name: str, version_id: str | None) -> dict[str, list[dict[str, Any]]]:
    """Each column's tags; PII a column inherits along lineage is `source: inherited`, `from` its sources."""
    inherited = inherited_of(spec, ledger, version_id) if version_id else {}
    tags: dict[str, list[dict[str, Any]]] = {}
    for tag in ledger.column_tags(name):
        if tag["source"] == "auto" and tag["kind"] == INHERITED:  # stored on publish; shown as derived now
            inherited.setdefault(tag["column_name"], [])
            continue
        tags.setdefault(tag["column_name"], []).append(
            {"tag": tag["tag"], "source": tag["source"], "kind": tag["kind"], "confidence": tag["confidence"]}
        )
    for column, sources in sorted(inherited.items()):
        tags.setdefault(column, []).append(
            {"tag": "pii", "source": INHERITED, "kind": None, "confidence": None, "from": sources}
        )
    return tags


def _version(project: Any, version: Any, ledger: Any, *, brief: bool = False) -> dict[str, Any]:
    result = {
        "version": version.version_id,
        "status": version.status,
        "run_id": version.run_id,
        "step": version.step,
        "rows": version.rows,
        "bytes": version.bytes,
        "created_at": version.created_at,
        "promoted_at": ledger.versions.promoted_at(version.version_id),
    }
    if not brief:
        result["schema"] = version.schema
        result["path"] = project.relative(version.path)
    return result


def _with_checks(versions: list[dict[str, Any]], ledger: Any) -> list[dict[str, Any]]:
    """Each version with how many of its checks ended pass, warn and error (for the page's history)."""
    outcomes = ledger.checks.outcomes(v["version"] for v in versions)
    return [{**v, "checks": outcomes.get(v["version"], {"pass": 0, "warn": 0, "error": 0})} for v in versions]


def _history(ledger: Any, shown: list[dict[str, Any]], versions: list[Any]) -> list[dict[str, Any]]:
    """Each version with the environment it was built in and those it is current in."""
    current_in = ledger.versions.current_in(v.version_id for v in versions)
    return [{**item, "environment": v.environment, "current_in": current_in.get(v.version_id, [])}
            for item, v in zip(shown, versions)]


def freshness(sla: dict[str, Any] | None, current: Any, profiles: dict[str, Any], ledger: Any) -> dict[str, Any]:
    """How old the newest data is, judged against the SLA (warn_after / error_after seconds)."""
    result: dict[str, Any] = {"sla": sla, "newest": None, "age_s": None, "status": "no data"}
    if current is None:
        return result
    column = (sla or {}).get("column")
    newest = None
    if column and column in profiles and profiles[column]["max"] is not None:
        newest = _moment(profiles[column]["max"])
        result["measured_by"] = f"max({column})"
    if newest is None:
        newest = _moment(ledger.versions.promoted_at(current.version_id) or current.created_at)
        result["measured_by"] = "publish time"
    if newest is None:
        return result
    age = (datetime.now(timezone.utc) - newest).total_seconds()
    status = "ok" if sla else "no SLA"
    if sla and sla.get("error_after") is not None and age > float(sla["error_after"]):
        status = "error"
    elif sla and sla.get("warn_after") is not None and age > float(sla["warn_after"]):
        status = "warn"
    result.update(newest=newest.isoformat(), age_s=round(age, 1), status=status)
    return result


def freshness_report(project: Any) -> list[dict[str, Any]]:
    """Every dataset's age against its SLA (datasets without an SLA too, marked `no SLA`)."""
    from .model import sync_spec

    sync_spec(project)
    ledger = project.ledger
    report = []
    for name in ledger.dataset_names():
        entry = ledger.dataset(name)
        sla = json.loads(entry["freshness"]) if entry and entry["freshness"] else None
        current = next((v for v in ledger.versions.of_dataset(name) if v.status == "current"), None)
        profiles = {p["name"]: p for p in ledger.column_profiles(current.version_id)} if current else {}
        report.append({"dataset": name, "version": current.version_id if current else None,
                       **freshness(sla, current, profiles, ledger)})
    return report


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def quality(ledger: Any, version_id: str) -> dict[str, Any]:
    """The latest result of each check on the version, each with its `decision` (accepted or waived,
    and by which review; None while open), and the worst of the open ones."""
    from ..quality.decisions import labelled, of_ledger, open_status

    rows = ledger.checks.latest_of_version(version_id)
    decisions = of_ledger(ledger, {r["dataset"] for r in rows})
    checks = []
    for r in rows:
        result = {"id": r["id"], "dataset": r["dataset"], "version": version_id, "origin": r["origin"],
                  "check": r["check_name"], "severity": r["severity"], "status": r["status"],
                  "failing": r["failing"], "rows": r["rows"], "message": r["message"], "checked_at": r["created_at"]}
        result = labelled(result, decisions)
        result["waived"] = result["decision"] is not None  # closed by a decision; `decision` says which
        checks.append(result)
    return {**open_status(checks), "checks": checks}


def _upstream(ledger: Any, version_id: str, chain: list[str]) -> list[dict[str, Any]]:
    """The versions `version_id` was derived from, as `chain` (an environment and its bases) sees it."""
    result = []
    for found in ledger.versions.get_many(ledger.inputs_of(version_id, chain)):
        result.append({"dataset": found.dataset, "version": found.version_id, "status": found.status})
    return sorted(result, key=lambda r: r["dataset"])


def _downstream(ledger: Any, name: str, versions: list[Any]) -> list[dict[str, Any]]:
    """Datasets whose versions read a version of this one (the latest such version of each)."""
    latest: dict[str, dict[str, Any]] = {}
    readers = ledger.outputs_of([v.version_id for v in versions])
    for reader in ledger.versions.get_many(readers):
        if reader.dataset != name:
            latest[reader.dataset] = {"dataset": reader.dataset, "version": reader.version_id, "status": reader.status}
    return [latest[key] for key in sorted(latest)]


def _notebook(project: Any, ledger: Any, version: Any) -> dict[str, Any] | None:
    """The executed notebook (run artifact) that produced the version."""
    if not version.run_id or not version.step:
        return None
    step_run = ledger.runs.step(version.run_id, version.step)
    relative = step_run.output_notebook if step_run else None
    path = project.root / relative if relative else project.store.run_dir(version.run_id) / f"{version.step}.ipynb"
    return {"run_id": version.run_id, "step": version.step, "path": project.relative(path), "exists": Path(path).is_file()}


def _preview(path: str, limit: int, masked: set[str]) -> list[dict[str, Any]]:
    from ..store import scratch

    if limit <= 0 or not Path(path).is_file():
        return []
    con = scratch()
    try:
        relation = con.sql(f"SELECT * FROM read_parquet('{path.replace(chr(39), chr(39) * 2)}') LIMIT {int(limit)}")
        names = relation.columns
        rows = [{n: plain(v) for n, v in zip(names, record)} for record in relation.fetchall()]
    finally:
        con.close()
    return mask_rows(rows, masked)

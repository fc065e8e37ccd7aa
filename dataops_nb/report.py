"""`dataops-nb report RUN`: one run as a single HTML file, for people and for CI artifacts.

What ran (who, where, which commit and parameters, secrets redacted as in the ledger),
each step (status, attempts, time, its executed notebook), what each step published
(version, rows, every check with its result) and the failures with their failing rows,
masked for the reader as everywhere else. One file, no scripts, nothing fetched: it opens
from a CI artifact or an email as well as from the project.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from .project import Project

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1f2328;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5em 0;width:100%}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f6f8fa}.muted{color:#59636e}.badge{border-radius:10px;padding:1px 8px;
font-size:.85em;color:#fff;background:#59636e}.success,.pass,.fresh{background:#1a7f37}.warn{background:#9a6700}
.failed,.error,.timed_out,.interrupted{background:#cf222e}.skipped,.running{background:#59636e}
code{background:#f6f8fa;padding:0 3px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _badge(status: Any) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


def _table(columns: list[str] | None, rows: list[list[str]]) -> str:
    """A table of cells that are HTML already; `columns` None for a table without a heading."""
    head = "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>" if columns else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


def failures(ledger: Any, version_ids: list[str]) -> list[dict[str, Any]]:
    """The latest failing (warn or error) result of each check on these versions, with its sample."""
    if not version_ids:
        return []
    marks = ", ".join("?" * len(version_ids))
    rows = ledger.query(
        f"SELECT id, dataset, version_id, check_name, status, failing, message, sample FROM check_results "
        f"WHERE status IN ('warn', 'error') AND id IN (SELECT max(id) FROM check_results "
        f"WHERE version_id IN ({marks}) GROUP BY version_id, check_name) ORDER BY dataset, check_name",
        tuple(version_ids),
    )
    return [
        {"id": r["id"], "dataset": r["dataset"], "version": r["version_id"], "check": r["check_name"],
         "status": r["status"], "failing": r["failing"], "message": r["message"], "sample": json.loads(r["sample"])}
        for r in rows
    ]


def render(project: Project, run: dict[str, Any], checks: dict[str, dict[str, Any]],
           failures: list[dict[str, Any]], output: Path) -> str:
    """The HTML of the report; links to executed notebooks are relative to `output`."""
    def link(path: str | None) -> str:
        if not path:
            return ""
        target = project.root / path
        if not target.is_file():
            return f'<span class="muted">{_e(path)} (missing)</span>'
        return f'<a href="{_e(os.path.relpath(target, output.parent))}">{_e(Path(path).name)}</a>'

    commit = run["git_commit"] or "not a git repository"
    if run["git_dirty"]:
        commit += " (uncommitted changes)"
    header = _table(None, [
        ["status", _badge(run["status"])],
        ["started", _e(run["started_at"])],
        ["ended", _e(run["ended_at"])],
        ["user", _e(run["user"])],
        ["environment", _e(run["environment"] or "-")],
        ["git commit", _e(commit)],
        ["parameters", f"<code>{_e(json.dumps(run['params']))}</code>" if run["params"] else "none"],
        ["resumed from", _e(run["resumed_from"] or "-")],
    ])
    steps = _table(["step", "status", "attempt", "duration", "executed notebook", "error"], [
        [_e(s["name"]), _badge(s["status"]), _e(s["attempt"] or ""), _seconds(s["duration_s"]),
         link(s["output_notebook"]), _e(s["error"] or "")]
        for s in run["steps"]
    ])
    datasets = []
    for d in run["datasets"]:
        quality = checks.get(d["version"], {"status": None, "checks": []})
        listed = "<br>".join(
            f"{_badge(c['status'])} {_e(c['check'])}" + (f" ({_e(c['failing'])} failing)" if c["failing"] else "")
            + (" waived" if c["waived"] else "")
            for c in quality["checks"]
        ) or '<span class="muted">no checks</span>'
        datasets.append([_e(d["dataset"]), _e(d["version"]), _e(d["step"]), _e(d["rows"]), _badge(d["status"]), listed])
    published = _table(["dataset", "version", "step", "rows", "status", "checks"], datasets) if datasets \
        else '<p class="muted">This run published nothing.</p>'
    failed = "".join(
        f"<h3>{_badge(f['status'])} {_e(f['check'])} on {_e(f['version'])}</h3><p>{_e(f['message'])}</p>"
        + (_table(list(f["sample"][0]), [[_e(v) for v in row.values()] for row in f["sample"]]) if f["sample"] else "")
        for f in failures
    ) or '<p class="muted">No check failed.</p>'
    counts: dict[str, int] = {}
    for s in run["steps"]:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    summary = (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no steps")
    summary += f"; {len(run['datasets'])} dataset version(s) published; {len(failures)} check failure(s)"
    title = f"Run {run['run_id']} of {project.spec.name}"
    return (
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=\"muted\">{_e(project.spec.description)}</p>"
        f"<p data-summary>{_e(summary)}</p>{header}"
        f"<h2>Steps</h2>{steps}<h2>Published</h2>{published}<h2>Check failures</h2>{failed}"
        f"<p class=\"muted\">Log: {_e(run['log'])}</p></body></html>\n"
    )

"""`dataops-nb report RUN`: one run as a single HTML file, for people and for CI artifacts.

What ran (who, where, which commit and parameters, secrets redacted as in the ledger),
each step (status, attempts, time, its executed notebook), what each step published
(version, rows, every check with its result and whether a review accepted or waived it)
and the failures with their failing rows, masked for the reader as everywhere else. Each
executed notebook is embedded, rendered by nbconvert, in a collapsed section (only for a
reader who may see it: see access.py). One file, no scripts, nothing fetched: it opens
from a CI artifact or an email as well as from the project.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Iterator
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
.accepted{background:#0969da}.waived{background:#8250df}
code{background:#f6f8fa;padding:0 3px}details{margin:.4em 0;border:1px solid #d0d7de;padding:.3em .6em}
summary{cursor:pointer}.notebook pre{background:#f6f8fa;padding:4px 6px;overflow-x:auto;margin:.2em 0}
.notebook .prompt{color:#59636e;font-size:.8em}.notebook img{max-width:100%}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _badge(status: Any) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


def _table(columns: list[str] | None, rows: list[list[str]], empty: str = "") -> str:
    """A table of cells that are HTML already; `columns` None for a table without a heading.
    Without rows, `empty` (a muted sentence) instead of a heading over nothing."""
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>' if empty else ""
    head = "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>" if columns else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


def failures(ledger: Any, version_ids: list[str]) -> list[dict[str, Any]]:
    """The latest failing (warn or error) result of each check on these versions, with its sample
    and `decision` ("accepted", "waived", or None while it is open)."""
    from .quality.decisions import labelled, of_ledger

    rows = ledger.reviews.latest(version_ids, failing=True)
    decisions = of_ledger(ledger, {r["dataset"] for r in rows})
    return [
        labelled({"id": r["id"], "dataset": r["dataset"], "version": r["version_id"], "origin": r["origin"],
                  "check": r["check_name"], "status": r["status"], "failing": r["failing"], "rows": r["rows"],
                  "message": r["message"], "sample": json.loads(r["sample"])}, decisions)
        for r in rows
    ]


def notebook_html(path: Path, mask: Callable[[list[str]], list[str] | None] | None = None) -> str | None:
    """An executed notebook as HTML to embed: nbconvert's basic template (no page, no scripts),
    its outputs' HTML sanitized; with `mask`, every source and output text goes through it first
    (None from it: the notebook cannot be shown)."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(str(path), as_version=4)
    if mask is not None:
        places = list(notebook_texts(notebook))
        masked = mask([holder[key] for holder, key in places])
        if masked is None:
            return None
        for (holder, key), text in zip(places, masked):
            holder[key] = text
    exporter = HTMLExporter(template_name="basic", sanitize_html=True, exclude_anchor_links=True)
    body, _ = exporter.from_notebook_node(notebook)
    return body


def notebook_texts(notebook: Any) -> Iterator[tuple[Any, Any]]:
    """(holder, key) of every string of a notebook's cells that can show data (a notebook node or
    its JSON as a dict); structured outputs that cannot be masked are dropped."""
    for cell in notebook["cells"]:
        if isinstance(cell.get("source"), str):
            yield cell, "source"
        for output in cell.get("outputs", []):
            if isinstance(output.get("text"), str):
                yield output, "text"
            for key in ("evalue",):
                if isinstance(output.get(key), str):
                    yield output, key
            traceback = output.get("traceback")
            if isinstance(traceback, list):
                yield from ((traceback, i) for i, line in enumerate(traceback) if isinstance(line, str))
            data = output.get("data", {})
            for mime, value in list(data.items()):
                if isinstance(value, str) and (mime.startswith("text/") or mime.endswith("json")):
                    yield data, mime
                elif isinstance(value, list):
                    yield from ((value, i) for i, line in enumerate(value) if isinstance(line, str))
                elif not isinstance(value, str):
                    del data[mime]  # structured data (a widget's state, JSON): not shown rather than unmasked


def _embedded(kind: str, content: str) -> str:
    return f'<div class="notebook">{content}</div>' if kind == "html" else f'<p class="muted">{_e(content)}</p>'


def _check_line(c: dict[str, Any]) -> str:
    decided = c.get("decided")
    return (f"{_badge(c['status'])} {_e(c['label'])}" + (f" ({_e(c['failing'])} failing)" if c["failing"] else "")
            + (f" {_badge(c['decision'])} <span class=\"muted\">{_e(decided['text'])}: {_e(decided['reason'])}</span>"
               if decided else ""))


def render(project: Project, run: dict[str, Any], checks: dict[str, dict[str, Any]],
           failures: list[dict[str, Any]], output: Path,
           notebooks: dict[str, tuple[str, str]] | None = None) -> str:
    """The HTML of the report; links to executed notebooks are relative to `output`. `notebooks`:
    for each step, ("html", its executed notebook as HTML) or ("notice", why it is not shown)."""
    notebooks = notebooks or {}

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
    header = _table(["run", run["run_id"]], [
        ["status", _badge(run["status"])],
        ["started", _e(run["started_at"])],
        ["ended", _e(run["ended_at"] or "-")],
        ["user", _e(run["user"] or "-")],
        ["environment", _e(run["environment"] or "-")],
        ["git commit", _e(commit)],
        ["parameters", f"<code>{_e(json.dumps(run['params']))}</code>" if run["params"] else "none"],
        ["resumed from", _e(run["resumed_from"] or "-")],
    ])
    steps = _table(["step", "status", "attempt", "duration", "executed notebook", "error"], [
        [_e(s["name"]), _badge(s["status"]), _e(s["attempt"] or ""), _seconds(s["duration_s"]),
         link(s["output_notebook"]), _e(s["error"] or "")]
        for s in run["steps"]
    ], "This run ran no step.")
    datasets = []
    for d in run["datasets"]:
        quality = checks.get(d["version"], {"status": None, "checks": []})
        listed = "<br>".join(_check_line(c) for c in quality["checks"]) or '<span class="muted">no checks</span>'
        datasets.append([_e(d["dataset"]), _e(d["version"]), _e(d["step"]), _e(d["rows"]), _badge(d["status"]), listed])
    published = _table(["dataset", "version", "step", "rows", "status", "checks"], datasets,
                       "This run published nothing.")
    open_ = [f for f in failures if not f["decision"]]
    decided = [f for f in failures if f["decision"]]

    def failure(f: dict[str, Any]) -> str:
        sample = (_table(list(f["sample"][0]), [[_e(v) for v in row.values()] for row in f["sample"]])
                  if f["sample"] else "")
        note = (f"<p>{_badge(f['decision'])} {_e(f['decided']['text'])}: {_e(f['decided']['reason'])}</p>"
                if f["decision"] else "")
        return (f"<h3>{_badge(f['status'])} {_e(f['label'])} on {_e(f['version'])}</h3>{note}"
                f"<p>{_e(f['message'] or str(f['failing']) + ' failing row(s)')}</p>{sample}")

    failed = "".join(failure(f) for f in open_) or '<p class="muted">No check failure is open.</p>'
    closed = ("<h2>Accepted and waived checks</h2>" + "".join(failure(f) for f in decided)) if decided else ""
    embedded = "".join(
        f"<details data-notebook=\"{_e(s['name'])}\"><summary>{_e(s['name'])}: "
        f"{_e(Path(s['output_notebook']).name)}</summary>"
        + _embedded(*notebooks.get(s["name"], ("notice", "not shown: the notebook is missing.")))
        + "</details>"
        for s in run["steps"] if s["output_notebook"]
    ) or '<p class="muted">This run executed no notebook.</p>'
    counts: dict[str, int] = {}
    for s in run["steps"]:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    summary = (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no steps")
    states = [f["decision"] for f in decided]
    summary += (f"; {len(run['datasets'])} dataset version(s) published; {len(open_)} open check failure(s)"
                f", {states.count('accepted')} accepted, {states.count('waived')} waived")
    title = f"Run {run['run_id']} of {project.spec.name}"
    description = f"<p class=\"muted\">{_e(project.spec.description)}</p>" if project.spec.description else ""
    return (
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>{description}"
        f"<p data-summary>{_e(summary)}</p>{header}"
        f"<h2>Steps</h2>{steps}<h2>Published</h2>{published}<h2>Check failures</h2>{failed}{closed}"
        f"<h2>Executed notebooks</h2>{embedded}"
        f"<p class=\"muted\">Log: {_e(run['log'])}</p></body></html>\n"
    )

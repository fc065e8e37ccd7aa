"""`dn.review()`: quality failures and quarantined versions, with decisions, in a notebook.

Every decision goes to the ledger through the service; the widget keeps no state that
matters (an executed notebook does not keep widget state).
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import service
from ..errors import DataOpsError
from .common import badge, table


class VersionReview(w.VBox):
    """The failures of one dataset version, its failing rows, and the decision buttons."""

    def __init__(self, panel: ReviewPanel, version: str, failures: list[dict[str, Any]], quarantined: bool) -> None:
        self.panel, self.version, self.failures = panel, version, failures
        dataset = version.split("@", 1)[0]
        state = "quarantined" if quarantined else (failures[0]["version_status"] if failures else "current")
        self.title = w.HTML(f"<b>{dataset}</b> <code>{version}</code> {badge(state)}")
        self.checks = w.HTML(table(
            [{"id": f"#{f['id']}", "check": f["label"], "status": f["status"], "failing": f["failing"],
              "message": f["message"]} for f in failures],
            ["id", "check", "status", "failing", "message"],
        ))
        samples = [f for f in failures if f["sample"]]
        self.sample_picker = w.Dropdown(
            options=[(f"#{f['id']} {f['label']}", f["id"]) for f in samples], description="Failing rows",
            layout=w.Layout(width="auto"),
        )
        self.sample = w.HTML()
        self.sample_picker.observe(lambda _: self._show_sample(), names="value")
        self._show_sample()
        self.scope = w.Dropdown(
            options=[("the whole version (the checks failing now)", None)]
            + [(f"only #{f['id']} {f['label']}", f["id"]) for f in failures],
            description="Decide on", layout=w.Layout(width="auto"),
        )
        self.reason = w.Textarea(placeholder="Why? (required; kept with your name and the time)",
                                 layout=w.Layout(width="95%", height="48px"))
        self.accept = w.Button(description="Accept", button_style="success", icon="check")
        self.waive = w.Button(description="Waive", button_style="warning")
        self.quarantine = w.Button(description="Keep in quarantine", button_style="danger")
        self.comment_box = w.Text(placeholder="Comment", layout=w.Layout(width="70%"))
        self.comment_button = w.Button(description="Comment")
        self.message = w.HTML()
        self.accept.on_click(lambda _: self._decide("accept", self.reason.value))
        self.waive.on_click(lambda _: self._decide("waive", self.reason.value))
        self.quarantine.on_click(lambda _: self._decide("quarantine", self.reason.value))
        self.comment_button.on_click(lambda _: self._decide("comment", self.comment_box.value))
        super().__init__([
            self.title, self.checks, w.HBox([self.sample_picker]) if samples else w.HTML(), self.sample,
            self.scope if failures else w.HTML(), self.reason, w.HBox([self.accept, self.waive, self.quarantine]),
            w.HBox([self.comment_box, self.comment_button]), self.message,
        ], layout=w.Layout(border="1px solid #d0d7de", padding="6px", margin="4px 0"))

    def _show_sample(self) -> None:
        chosen = next((f for f in self.failures if f["id"] == self.sample_picker.value), None)
        self.sample.value = table(chosen["sample"]) if chosen else ""

    def _decide(self, decision: str, reason: str) -> None:
        if not reason.strip():
            self.message.value = "<span style='color:#cf222e'>Give a reason first.</span>"
            return
        try:
            target = self.version if self.scope.value is None or decision == "quarantine" else f"#{self.scope.value}"
            result = service.review_decide(self.panel.project, target, decision, reason)
        except DataOpsError as exc:
            self.message.value = f"<span style='color:#cf222e'>{exc}</span>"
            return
        self.message.value = f"{result['decision']} by {result['user']}: {result['effect']}"
        self.panel.last_decision = result
        if decision != "comment":
            self.panel.refresh(keep_message=self.message.value)


class ReviewPanel(w.VBox):
    def __init__(self, project_dir: str | Path | None = None, dataset: str | None = None) -> None:
        self.project = service.open_project(project_dir)
        self.dataset = dataset
        self.groups: list[VersionReview] = []
        self.last_decision: dict[str, Any] | None = None
        self.recheck = w.Button(description="Re-check", icon="refresh")
        self.recheck.on_click(lambda _: self._recheck())
        self.status = w.HTML()
        super().__init__()
        self.refresh()

    def refresh(self, keep_message: str = "") -> None:
        items = service.review_items(self.project, self.dataset)
        quarantined = {q["version"] for q in items["quarantined"]}
        by_version = {k: list(v) for k, v in groupby(items["failures"], key=lambda f: f["version"])}
        versions = list(dict.fromkeys([*sorted(quarantined), *by_version]))
        self.groups = [VersionReview(self, v, by_version.get(v, []), v in quarantined) for v in versions]
        summary = (f"{len(items['failures'])} open failure(s), {len(quarantined)} quarantined version(s)"
                   if versions else "Nothing to review: every check passes or has a decision.")
        self.status.value = summary + (f"<br>{keep_message}" if keep_message else "")
        self.known = w.HTML(("<b>Known issues (standing decisions)</b>" + table(
            [{"id": f"#{k['id']}", "dataset": k["dataset"], "check": k["label"], "decision": k["decision"],
              "terms": k["terms"], "state": "expired" if k["expired"] else "active", "by": k["user"],
              "reason": k["reason"]} for k in items["standing"]],
            ["id", "dataset", "check", "decision", "terms", "state", "by", "reason"],
        )) if items["standing"] else "")
        self.children = [w.HBox([w.HTML("<h4 style='margin:4px 8px 4px 0'>Quality review</h4>"), self.recheck]),
                         self.status, *self.groups, self.known]

    def _recheck(self) -> None:
        reports = service.check(self.project, self.dataset)
        states = ", ".join(
            f"{r['dataset']}: {r['status']}"
            + "".join(f" ({r[k]} {k})" for k in ("accepted", "waived") if r.get(k)) for r in reports
        ) or "no current datasets"
        self.refresh(keep_message=f"Re-checked {states}.")


def review(project_dir: str | Path | None = None, dataset: str | None = None) -> ReviewPanel:
    return ReviewPanel(project_dir, dataset)

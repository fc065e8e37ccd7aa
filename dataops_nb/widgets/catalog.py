"""`dn.catalog()`: search the catalog as you type and read a dataset's page, in a notebook.

What it shows comes from the service (masked for the current user, like every output).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import service
from ..errors import DataOpsError
from .charts import history
from .common import badge, table


def read_snippet(dataset: str) -> str:
    """The code that reads `dataset` in a notebook (the "copy code" of a page)."""
    variable = dataset.split(".")[-1]
    return f'import dataops_nb as dn\n\n{variable} = dn.read("{dataset}")\n{variable}.head()'


def clipboard_output(text: str) -> dict[str, Any]:
    """A display output that copies `text` to the browser's clipboard where it is rendered.

    Only the browser knows whether the copy worked, so the script itself says so in the
    output (and, when it cannot, asks for Ctrl+C on the selected code). A front end that
    runs no JavaScript shows the plain-text alternative instead.
    """
    script = (
        "(function (element) {\n"
        f"  const text = {json.dumps(text)};\n"
        "  const say = (message, failed) => {\n"
        "    element.textContent = message;\n"
        "    element.style.color = failed ? '#cf222e' : '#1a7f37';\n"
        "  };\n"
        "  if (!navigator.clipboard || !navigator.clipboard.writeText) {\n"
        "    say('This browser gives no clipboard access here: select the code and press Ctrl+C.', true);\n"
        "    return;\n"
        "  }\n"
        "  navigator.clipboard.writeText(text).then(\n"
        "    () => say('Copied to the clipboard; paste it into a cell.', false),\n"
        "    (error) => say('Could not copy (' + ((error && error.message) || error) + '): '\n"
        "                  + 'select the code and press Ctrl+C.', true));\n"
        "})(element);\n"
    )
    return {
        "output_type": "display_data",
        "data": {
            "application/javascript": script,
            "text/plain": "Select the code above and press Ctrl+C to copy it.",
        },
        "metadata": {},
    }


def tag_text(tag: str | dict[str, Any]) -> str:
    """A column tag as shown: `pii`, or `pii (auto, email, 0.98)` for a classifier's tag."""
    if isinstance(tag, str):
        return tag
    if tag.get("source") == "inherited":
        return f"{tag['tag']} (inherited from {', '.join(tag.get('from') or ()) or 'an upstream column'})"
    if tag.get("source") == "auto":
        return f"{tag['tag']} (auto, {tag.get('kind') or '?'}, {float(tag.get('confidence') or 0):.2f})"
    return str(tag["tag"])


class DatasetPage(w.VBox):
    """One dataset: schema with profile, tags, owner, quality, history charts, versions, lineage links, preview."""

    def __init__(self, panel: CatalogPanel, page: dict[str, Any]) -> None:
        self.panel, self.page = panel, page
        name = page["name"]
        quality = (page.get("quality") or {}).get("status") or "unchecked"
        freshness = page.get("freshness") or {}
        self.header = w.HTML(
            f"<h3 style='margin:4px 0'>{html.escape(name)} {badge(quality)}</h3>"
            f"<div>{html.escape(page.get('description') or '')}</div>"
            f"<div style='color:#57606a'>owner: {html.escape(str(page.get('owner') or '—'))} · "
            f"tags: {html.escape(', '.join(page.get('tags') or []) or '—')}"
            + (f" · freshness: {badge(str(freshness.get('status')))}" if freshness.get("status") else "")
            + "</div>"
        )
        self.schema = w.HTML(table(
            [{"column": c["name"], "type": c.get("type"), "tags": ", ".join(tag_text(t) for t in c.get("tags") or []),
              "nulls": (c.get("profile") or {}).get("null_count"),
              "distinct": (c.get("profile") or {}).get("approx_distinct"),
              "min": (c.get("profile") or {}).get("min"), "max": (c.get("profile") or {}).get("max"),
              "description": c.get("description")} for c in page.get("columns") or []],
            ["column", "type", "tags", "nulls", "distinct", "min", "max", "description"],
        ))
        self.quality = w.HTML(" ".join(
            f"{badge(c['status'])} {html.escape(c.get('label') or c['check'])}" + (f" {badge(c['decision'])}" if c.get("decision") else "")
            for c in (page.get("quality") or {}).get("checks", [])
        ) or "<i>no checks recorded</i>")
        self.versions = w.HTML(table(page.get("versions") or [], ["version", "status", "rows", "created_at"], limit=10))
        self.history = w.HTML(history(page))  # rows and check outcomes per version, freshness
        self.upstream = [self._link(item["dataset"]) for item in page.get("upstream") or []]
        self.downstream = [self._link(item["dataset"]) for item in page.get("downstream") or []]
        preview = page.get("preview") or {}
        notice = preview.get("notice")
        self.preview = w.HTML(f"<i>{html.escape(notice)}</i>" if notice else table(preview.get("rows") or [], limit=10))
        self.code = w.Textarea(value=read_snippet(name), layout=w.Layout(width="95%", height="70px"))
        self.copy_code = w.Button(description="Copy code", icon="copy", tooltip="Copy the code that reads this dataset")
        self.copy_code.on_click(lambda _: self._copy())
        # what the copy sends to the browser, and the browser's word on whether it worked
        self.clipboard = w.Output(layout=w.Layout(margin="0 0 0 8px"))
        section = lambda title: w.HTML(f"<b>{title}</b>")  # noqa: E731
        super().__init__([
            self.header,
            section("Schema"), self.schema,
            section("Quality"), self.quality,
            section("Upstream"), w.HBox(self.upstream or [w.HTML("<i>none</i>")]),
            section("Downstream"), w.HBox(self.downstream or [w.HTML("<i>none</i>")]),
            section("History"), self.history,
            section("Versions"), self.versions,
            section("Preview"), self.preview,
            section("Read it"), self.code, w.HBox([self.copy_code, self.clipboard]),
        ], layout=w.Layout(border="1px solid #d0d7de", padding="6px", margin="6px 0"))

    def _link(self, dataset: str) -> w.Button:
        button = w.Button(description=dataset, tooltip=f"Open {dataset}", layout=w.Layout(width="auto"))
        button.on_click(lambda _: self.panel.show_dataset(dataset))
        return button

    def _copy(self) -> None:
        # a button callback has no cell output to display into: the Output widget is where the
        # script lands; emptied first so a second click renders (and copies) again
        self.clipboard.outputs = ()
        self.clipboard.outputs = (clipboard_output(self.code.value),)


class CatalogPanel(w.VBox):
    def __init__(self, project_dir: str | Path | None = None, query: str = "") -> None:
        self.project = service.open_project(project_dir)
        self.search = w.Text(value=query, placeholder="Search datasets (tag:x owner:y pii:yes)",
                             continuous_update=True, layout=w.Layout(width="95%"))
        self.results = w.VBox()
        self.message = w.HTML()
        self.page: DatasetPage | None = None
        self.hits: list[dict[str, Any]] = []
        self.search.observe(lambda change: self.find(change["new"]), names="value")
        super().__init__()
        self.find(query)

    def find(self, query: str) -> None:
        try:
            self.hits = service.catalog_search(self.project, query)
            self.message.value = "" if self.hits else "<i>No dataset matches.</i>"
        except DataOpsError as exc:
            self.hits = []
            self.message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
        buttons = []
        for hit in self.hits:
            button = w.Button(description=hit["name"], tooltip=hit.get("description") or "",
                              layout=w.Layout(width="auto"))
            button.on_click(lambda _, name=hit["name"]: self.show_dataset(name))
            buttons.append(w.HBox([button, w.HTML(f"<span style='color:#57606a'>{html.escape(hit.get('description') or '')}</span>")]))
        self.results.children = buttons
        self._layout()

    def show_dataset(self, dataset: str) -> None:
        try:
            self.page = DatasetPage(self, service.catalog_show(self.project, dataset))
        except DataOpsError as exc:
            self.message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
        self._layout()

    def _layout(self) -> None:
        self.children = [w.HTML("<h4 style='margin:4px 0'>Catalog</h4>"), self.search, self.message,
                         self.results, *([self.page] if self.page else [])]


def catalog(project_dir: str | Path | None = None, query: str = "") -> CatalogPanel:
    return CatalogPanel(project_dir, query)

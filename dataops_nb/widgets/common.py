"""Small pieces shared by the widgets: HTML tables and badges."""

from __future__ import annotations

import html
from typing import Any

COLORS = {"pass": "#1a7f37", "warn": "#9a6700", "error": "#cf222e", "current": "#1a7f37",
          "quarantined": "#cf222e", "superseded": "#57606a", "staged": "#57606a", "accepted": "#0969da",
          "waived": "#8250df"}


def badge(text: str) -> str:
    color = COLORS.get(text, "#57606a")
    return (f'<span style="background:{color};color:white;border-radius:8px;padding:1px 7px;'
            f'font-size:11px">{html.escape(text)}</span>')


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, *, limit: int = 50) -> str:
    if not rows:
        return "<i>none</i>"
    columns = columns or list(rows[0])
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{_cell(row.get(c))}</td>" for c in columns) + "</tr>"
        for row in rows[:limit]
    )
    return f"<table style='border-collapse:collapse;font-size:12px'><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, str) and value in COLORS:
        return badge(value)
    return "<span style='color:#8c959f'>null</span>" if value is None else html.escape(str(value))

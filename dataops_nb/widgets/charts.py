"""Small inline SVG charts for the widgets: a dataset's row counts and check outcomes per version,
and its freshness against the SLA (the look of the Lab's charts, jupyter_extension/src/charts.ts).

No charting library: a few rects and lines as text, coloured by JupyterLab's theme variables (with
a fallback colour where the front end has no theme, e.g. classic Notebook or VS Code). Nothing but
version ids, counts, statuses and times goes into them: never a value of the data.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

# tone -> the theme's variable and the colour used where no theme defines it
TONES = {"ok": ("--jp-success-color1", "#1a7f37"), "warn": ("--jp-warn-color1", "#9a6700"),
         "bad": ("--jp-error-color1", "#cf222e"), "info": ("--jp-brand-color1", "#0969da"),
         "muted": ("--jp-layout-color4", "#8c959f")}
OUTCOME_TONES = {"pass": "ok", "warn": "warn", "error": "bad"}
MAX_VERSIONS = 30  # the newest ones, as in the Lab


def colour(tone: str) -> str:
    variable, fallback = TONES.get(tone, TONES["muted"])
    return f"var({variable}, {fallback})"


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {key}="{html.escape(str(value))}"' for key, value in attrs.items())


def _shape(tag: str, title: str, **attrs: Any) -> str:
    return f"<{tag}{_attrs(attrs)}><title>{html.escape(title)}</title></{tag}>"


def _filled(tone: str) -> str:
    return f"fill:{colour(tone)};fill-opacity:0.75;stroke:{colour(tone)};stroke-width:0.5"


_REFLINE = "stroke:var(--jp-ui-font-color2, #57606a);stroke-width:1;stroke-dasharray:3 2"


def _frame(width: float, height: float, label: str, testid: str, body: list[str]) -> str:
    attrs = _attrs({"width": width, "height": height, "viewBox": f"0 0 {width} {height}", "role": "img",
                    "aria-label": label, "data-testid": testid, "xmlns": "http://www.w3.org/2000/svg"})
    return f"<svg{attrs} style='display:inline-block;vertical-align:middle;overflow:visible'>{''.join(body)}</svg>"


@dataclass(frozen=True)
class Bar:
    value: float
    label: str  # the tooltip
    tone: str = "info"


def bars(items: list[Bar], *, label: str, testid: str, width: int = 220, height: int = 36) -> str:
    """Bars left to right (oldest first), scaled to the largest."""
    step = max(4, min(14, width // max(1, len(items))))
    top = max([item.value for item in items] + [1e-9])
    body = []
    for index, item in enumerate(items):
        h = max(1.0, item.value / top * (height - 2))
        body.append(_shape("rect", item.label, x=index * step + 1, y=round(height - h, 2), width=step - 2,
                           height=round(h, 2), style=_filled(item.tone), **{"data-value": item.value}))
    return _frame(max(step * len(items), 40), height, label, testid, body)


def strip(items: list[tuple[str, str]], *, testid: str) -> str:
    """One square per (outcome, tooltip), oldest first, filled by the outcome (pass, warn, error, none)."""
    size = 10
    body = [_shape("rect", title, x=index * (size + 2) + 1, y=1, width=size, height=size, rx=2,
                   style=_filled(OUTCOME_TONES.get(outcome, "muted")), **{"data-outcome": outcome})
            for index, (outcome, title) in enumerate(items)]
    return _frame(max(len(items) * (size + 2), 12), size + 2, "Check outcomes per version", testid, body)


def gauge(age: float, warn_after: float | None, error_after: float | None, status: str, *, testid: str) -> str:
    """The newest data's age on a bar that ends past the SLA's error limit, with ticks at warn and error."""
    width, height = 220, 14
    end = max(age, warn_after or 0, error_after or 0) * 1.15 or 1
    tone = {"error": "bad", "warn": "warn"}.get(status, "ok")
    body = [f"<rect x='0' y='3' width='{width}' height='8' rx='3' style='fill:var(--jp-layout-color3, #eaeef2)'/>",
            _shape("rect", f"newest data {duration(age)} old ({status})", x=0, y=3,
                   width=round(max(2, age / end * width), 2), height=8, rx=3, style=_filled(tone),
                   **{"data-value": age, "data-status": status})]
    for limit, name in ((warn_after, "warn_after"), (error_after, "error_after")):
        if limit is not None:
            x = round(limit / end * width, 2)
            body.append(_shape("line", f"{name} {duration(limit)}", x1=x, x2=x, y1=0, y2=height, style=_REFLINE,
                               **{"data-limit": name}))
    return _frame(width, height, "Freshness against its SLA", testid, body)


def duration(seconds: float) -> str:
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"


def outcome(checks: dict[str, int] | None) -> str:
    """A version's worst check outcome: error, warn, pass, or none (no check ran on it)."""
    checks = checks or {}
    return next((name for name in ("error", "warn", "pass") if checks.get(name)), "none")


def history(page: dict[str, Any]) -> str:
    """A dataset page's history (oldest first): rows and check outcomes per version, and freshness."""
    versions = list(reversed(page.get("versions") or []))[-MAX_VERSIONS:]
    if not versions:
        return "<i>no versions yet</i>"
    tones = {"quarantined": "bad", "current": "ok"}
    rows = bars([Bar(float(v.get("rows") or 0), f"{v['version']}: {v.get('rows') if v.get('rows') is not None else '?'}"
                     f" rows ({v.get('status')}, {v.get('created_at')})", tones.get(str(v.get("status")), "info"))
                 for v in versions], label="Row counts per version", testid="dataops-rows-chart")
    checks = strip([(outcome(v.get("checks")),
                     f"{v['version']}: " + ", ".join(f"{(v.get('checks') or {}).get(k, 0)} {k}"
                                                    for k in ("pass", "warn", "error")))
                    for v in versions], testid="dataops-checks-strip")
    lines = [("Rows per version", rows), ("Checks per version", checks)]
    fresh = page.get("freshness") or {}
    if fresh.get("age_s") is not None:
        sla = fresh.get("sla") or {}
        lines.append(("Freshness", gauge(float(fresh["age_s"]), sla.get("warn_after"), sla.get("error_after"),
                                         str(fresh.get("status")), testid="dataops-freshness-chart")))
    return "<div data-testid='dataops-dataset-history'>" + "".join(
        f"<div style='display:flex;gap:6px;align-items:center;margin:3px 0'>"
        f"<span style='min-width:120px;color:var(--jp-ui-font-color2, #57606a)'>{title}</span>{chart}</div>"
        for title, chart in lines) + "</div>"

"""The dataset page's history charts, in Chromium, in the light and the dark theme: row counts and
check outcomes per version and freshness, inline SVG coloured by the theme (screenshots kept)."""

from __future__ import annotations

import pytest

from .conftest import open_sidebar, save_screenshot, use_theme


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_dataset_page_charts_its_history(page, lab, theme):
    use_theme(page, theme)
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-catalog]").click()
    page.locator("[data-testid=dataops-catalog-search]").fill("carrier")
    page.locator('[data-testid=dataops-hit][data-dataset="marts.carrier_delays"]').click()
    history = page.locator("[data-testid=dataops-dataset-history]")
    history.wait_for()
    versions = lab.rest("dataops/catalog/marts.carrier_delays")["versions"]
    bars = history.locator("[data-testid=dataops-rows-chart] rect")
    assert bars.count() == min(len(versions), 30)
    assert [float(v) for v in bars.evaluate_all("els => els.map(e => e.dataset.value)")] == [
        float(v["rows"] or 0) for v in reversed(versions[:30])]
    strip = history.locator("[data-testid=dataops-checks-strip] rect")
    outcomes = strip.evaluate_all("els => els.map(e => e.dataset.outcome)")
    expected = ["error" if v["checks"]["error"] else "warn" if v["checks"]["warn"] else
                "pass" if v["checks"]["pass"] else "none" for v in reversed(versions[:30])]
    assert outcomes == expected
    # filled from the theme: the bar's colour follows the theme's variables
    fill = bars.first.evaluate("e => getComputedStyle(e).fill")
    assert fill and fill != "none" and fill != "rgb(0, 0, 0)"
    save_screenshot(page, f"dataset-history-{theme}")

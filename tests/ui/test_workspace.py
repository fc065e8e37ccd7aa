"""The sidebar's state after runs, failures and decisions, as a user sees it, in the light and the dark theme.

One Jupyter server and one browser page for the module: the tests follow one story (a run
with warnings, a failed run, a quarantined version and its acceptance), each leaving the
project as it found it where later tests depend on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import (TOKEN, Lab, assert_readable, module_page, open_sidebar, readable_in_both_themes, save_screenshot,
                       use_theme)

OUTCOME_LEGEND = ["success", "warn", "failed", "timed out", "quarantined", "skipped", "cancelled", "running", "pending",
                  "never ran"]


@pytest.fixture(scope="module")
def shared(lab: Lab, browser) -> Iterator[dict[str, Any]]:
    """One page for the module, with every uncaught page error it raised."""
    with module_page(lab, browser) as shared:
        yield shared


@pytest.fixture
def page(shared: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    page = shared["page"]
    shared["errors"].clear()
    use_theme(page, "light")
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    yield page
    save_screenshot(page, request.node.name)


def nodes(page) -> dict[str, dict[str, str]]:
    """Each DAG node's outcome and freshness, as drawn."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node')]
                 .map(n => [n.dataset.step, {outcome: n.dataset.outcome, freshness: n.dataset.freshness}]))"""
    )


@contextmanager
def edited(path: Path, old: str, new: str) -> Iterator[str]:
    """`path` with `old` replaced by `new` for the block; as it was afterwards."""
    original = path.read_text()
    assert old in original
    write_whole(path, original.replace(old, new))
    try:
        yield original
    finally:
        write_whole(path, original)


def write_whole(path: Path, text: str) -> None:
    """`text` in `path` at once, as an editor saves (the server polled by the page never reads half a file)."""
    part = path.with_name(path.name + ".part")
    part.write_text(text)
    part.replace(path)


def test_dag_shows_outcome_and_warnings_readable_in_light_and_dark(page, lab):
    graph = page.locator("[data-testid=dataops-graph]")
    graph.wait_for()
    # the module's first run succeeded; `clean` published staging.flights with 2 warn checks
    page.wait_for_function("() => document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node').length === 5")
    drawn = nodes(page)
    assert {name: n["outcome"] for name, n in drawn.items()} == {
        "ingest": "success", "clean": "warn", "flight_weather": "success", "carrier_delays": "success",
        "report": "success",
    }
    assert {n["freshness"] for n in drawn.values()} <= {"fresh", "stale"}
    legend = page.locator("[data-testid=dataops-legend]")
    for label in [*OUTCOME_LEGEND, "fresh", "stale"]:
        assert legend.locator(".jp-DataOps-badge, .jp-DataOps-key", has_text=label).count() >= 1, label
    # warn is not plain green: its node is filled differently from a success
    fills = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node')]
                 .map(n => [n.dataset.step, getComputedStyle(n.querySelector('rect')).fill]))"""
    )
    assert fills["clean"] != fills["ingest"]
    page.locator('[data-testid=dataops-graph] [data-step="clean"]').click()
    card = page.locator("[data-testid=dataops-step-details]")
    assert "2 warn checks" in card.locator("[data-testid=dataops-step-outcome]").inner_text()
    labels = "[data-testid=dataops-graph] text, [data-testid=dataops-legend] .jp-DataOps-badge, " \
             "[data-testid=dataops-legend] .jp-DataOps-key, [data-testid=dataops-step-details] .jp-DataOps-badge"
    assert assert_readable(page, labels) >= 5 + 12
    readable_in_both_themes(page, labels, "dag")


def test_executed_notebook_opens_read_only_with_its_run_and_no_page_errors(page, lab, shared):
    [run] = lab.api("runs")["items"][-1:]
    page.locator("[data-testid=dataops-tab-runs]").click()
    row = page.locator(f'[data-testid=dataops-run][data-run="{run["run_id"]}"]')
    row.click()
    step = page.locator(f'[data-testid=dataops-run][data-run="{run["run_id"]}"] ~ ul [data-testid=dataops-run-step][data-step="clean"]')
    assert step.locator("[data-testid=dataops-open-executed]").is_visible()  # the row says it opens a notebook
    step.click()
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    tab.wait_for()
    assert tab.inner_text().strip() == f"clean.ipynb (run {run['run_id']})"
    panel = page.locator(".jp-NotebookPanel.jp-DataOps-executed:visible")
    panel.locator(".jp-OutputArea-output").first.wait_for()
    panel.locator(".jp-Toolbar", has_text="notebook is read-only").wait_for()
    toolbar = panel.locator(".jp-NotebookPanel-toolbar")
    for name in ("run", "cut", "copy", "paste", "insert", "save", "restart", "interrupt", "cellType"):
        assert not toolbar.locator(f'[data-jp-item-name="{name}"]').is_visible(), name
    # what Lab does once a document is open (the kernel status, the checkpoints, autosave) has run
    page.wait_for_load_state("networkidle")
    assert shared["errors"] == []


def _wait_idle(page) -> None:
    page.locator("[data-testid=dataops-live]", has_text="No run in progress").wait_for(timeout=180_000)


def test_a_failed_step_and_its_skipped_downstream_stay_distinct(page, lab):
    notebook = lab.root / "notebooks" / "carrier_delays.ipynb"
    original = notebook.read_text()
    broken = json.loads(original)
    broken["cells"].append({"cell_type": "code", "execution_count": None, "id": "broken", "metadata": {},
                            "outputs": [], "source": "raise ValueError('the carriers table is empty')"})
    notebook.write_text(json.dumps(broken))
    before = {r["run_id"] for r in lab.api("runs")["items"]}
    try:
        page.locator('[data-testid=dataops-graph] [data-step="carrier_delays"]').click()
        run_from = page.locator("[data-testid=dataops-step-details] [data-testid=dataops-run-from]")
        run_from.dblclick()  # a double click starts one run, and says nothing is wrong
        # at once: every run button is disabled, and the sidebar says what goes on
        assert page.locator("[data-testid=dataops-run-all]").is_disabled()
        assert page.locator("[data-testid=dataops-run-all]").inner_text() in ("Starting…", "Running…")
        assert run_from.is_disabled()
        page.locator("[data-testid=dataops-live]", has_text="Run ").wait_for()
        _wait_idle(page)
        assert not page.locator("[data-testid=dataops-message]").is_visible()
        new = [r for r in lab.api("runs")["items"] if r["run_id"] not in before]
        assert len(new) == 1
        run_id = new[0]["run_id"]
        page.wait_for_function(
            "() => document.querySelector('[data-testid=dataops-graph] [data-step=\"report\"]')?.dataset.outcome === 'skipped'"
        )
        drawn = nodes(page)
        assert {name: n["outcome"] for name, n in drawn.items()} == {
            "ingest": "success", "clean": "warn", "flight_weather": "success", "carrier_delays": "failed",
            "report": "skipped",
        }
        # the card: the outcome, the error's first line and cell, the executed notebook, the freshness and why
        page.locator('[data-testid=dataops-graph] [data-step="carrier_delays"]').click()
        card = page.locator('[data-testid=dataops-step-details][data-step="carrier_delays"]')
        assert card.locator("h3 .jp-DataOps-badge").inner_text() == "failed"
        assert f"failed in run {run_id}" in card.locator("[data-testid=dataops-step-outcome]").inner_text()
        error = card.locator("[data-testid=dataops-step-error]").inner_text()
        assert error.startswith("Cell ") and error.endswith("ValueError: the carriers table is empty")
        assert card.locator("[data-testid=dataops-step-freshness]").inner_text().startswith("Stale: ")
        assert card.locator("[data-testid=dataops-step-executed]").is_visible()
        save_screenshot(page, "failed-step-card")
        page.locator('[data-testid=dataops-graph] [data-step="report"]').click()
        card = page.locator('[data-testid=dataops-step-details][data-step="report"]')
        assert card.locator("h3 .jp-DataOps-badge").inner_text() == "skipped"
        reason = card.locator("[data-testid=dataops-skip-reason]")
        assert reason.inner_text() == "Skipped: upstream step 'carrier_delays' did not succeed."
        assert card.locator("[data-testid=dataops-step-error]").count() == 0

        # the Runs panel: the failed run lists every step it selected; the earlier one shows its warnings
        page.locator("[data-testid=dataops-tab-runs]").click()
        row = page.locator(f'[data-testid=dataops-run][data-run="{run_id}"]')
        assert row.get_attribute("data-outcome") == "failed"
        row.click()
        steps = page.locator(f'[data-testid=dataops-run][data-run="{run_id}"] ~ ul [data-testid=dataops-run-step]')
        assert {steps.nth(i).get_attribute("data-step"): steps.nth(i).get_attribute("data-outcome")
                for i in range(steps.count())} == {"carrier_delays": "failed", "report": "skipped"}
        skip = page.locator(f'[data-testid=dataops-run][data-run="{run_id}"] ~ ul [data-testid=dataops-skip-reason]')
        colours = skip.evaluate(
            """e => [getComputedStyle(e).color,
                     getComputedStyle(document.body).getPropertyValue('--jp-error-color1').trim()]"""
        )
        probe = page.evaluate("c => { const d = document.createElement('div'); d.style.color = c; document.body.append(d);"
                              " const v = getComputedStyle(d).color; d.remove(); return v; }", colours[1])
        assert colours[0] != probe  # a skip is not an error: not in the error red
        first = page.locator("[data-testid=dataops-run]").last
        assert first.get_attribute("data-outcome") == "warn"
        assert first.locator("[data-testid=dataops-run-warnings]").inner_text() == "2 warn"
        # the timestamp is whole at the sidebar's width
        assert first.locator(".jp-DataOps-when").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        readable_in_both_themes(page, "[data-testid=dataops-runs] .jp-DataOps-badge, [data-testid=dataops-skip-reason]", "runs")
    finally:
        notebook.write_text(original)


def test_a_refused_run_says_why_and_the_message_stays(page, lab):
    with edited(lab.root / "dataops.yaml", "  members: {}", "  members: {alice: [analyst]}"):
        page.locator('[data-testid=dataops-graph] [data-step="ingest"]').click()
        page.locator("[data-testid=dataops-step-details] [data-testid=dataops-run-step]").click()
        message = page.locator("[data-testid=dataops-message]")
        message.wait_for()
        assert "User 'alice' may not run step ingest" in message.inner_text()
        for _ in range(2):  # the panel refreshes, the message stays
            with page.expect_response(lambda r: "/dataops/pipeline" in r.url):
                pass
        assert message.is_visible() and "may not run" in message.inner_text()
        save_screenshot(page, "refusal")
        message.locator("button[aria-label=Dismiss]").click()
        assert not message.is_visible()


def test_quality_shows_one_card_per_version_and_says_what_a_decision_did(page, lab):
    # dep_time's not_null becomes an error check: the next staging.flights is quarantined
    with edited(lab.root / "dataops.yaml", "checks: [{not_null: {severity: warn}}]", "checks: [not_null]"):
        lab.project.cli("run", "--only", "clean", "--env", "test", "--force", env={"DATAOPS_USER": "alice"})
    [held] = lab.api("reviews")["quarantined"]
    version = held["version"]

    # the catalog does not call the dataset `pass` while a newer version waits in quarantine
    page.locator("[data-testid=dataops-tab-catalog]").click()
    page.locator("[data-testid=dataops-catalog-search]").fill("staging.flights")
    page.locator('[data-testid=dataops-hit][data-dataset="staging.flights"]').click()
    notice = page.locator("[data-testid=dataops-quarantined-newer]")
    assert version in notice.inner_text()

    page.locator("[data-testid=dataops-tab-quality]").click()
    card = page.locator(f'[data-testid=dataops-review-item][data-target="{version}"]')
    card.wait_for()
    assert page.locator(f'[data-testid=dataops-review-item][data-target="{version}"]').count() == 1
    assert card.locator("[data-testid=dataops-reason]").count() == 1
    checks = card.locator("[data-testid=dataops-review-check]")
    assert "not_null(dep_time)" in {checks.nth(i).get_attribute("data-check") for i in range(checks.count())}
    assert card.locator("[data-testid=dataops-accept]").is_visible()
    assert card.locator("[data-testid=dataops-quarantine]").is_visible()
    # the current version's warnings: no quarantine decisions offered
    current = page.locator('[data-testid=dataops-review-item][data-status="current"]')
    assert current.count() == 1
    assert current.locator("[data-testid=dataops-accept], [data-testid=dataops-quarantine]").count() == 0
    # the failing column comes first, marked, and in view without scrolling
    check = card.locator('[data-testid=dataops-review-check][data-check="not_null(dep_time)"]')
    first = check.locator("thead th").first
    assert first.inner_text() == "dep_time" and first.get_attribute("data-testid") == "dataops-failing-column"
    box, panel = first.bounding_box(), page.locator("#dataops-sidebar").bounding_box()
    assert box["x"] + box["width"] <= panel["x"] + panel["width"]

    card.locator("[data-testid=dataops-reason]").fill("cancelled flights are expected")
    card.locator("[data-testid=dataops-accept]").click()
    effect = page.locator("[data-testid=dataops-decision-effect]")
    effect.wait_for()
    assert effect.inner_text() == f"{version} is now current."
    result = page.locator("[data-testid=dataops-decision-result]")
    assert "3 downstream steps stale (flight_weather, carrier_delays, report)" in result.inner_text()
    page.wait_for_function(f"() => !document.querySelector('[data-testid=dataops-review-item][data-target=\"{version}\"]')")
    assert lab.api("catalog/staging.flights")["current_version"]["version"] == version
    readable_in_both_themes(page, "[data-testid=dataops-decision-result] span, [data-testid=dataops-quality-panel] .jp-DataOps-badge",
                            "decision")
    use_theme(page, "light")

    # "Run from here" runs what the decision made stale
    before = {r["run_id"] for r in lab.api("runs")["items"]}
    result.locator("[data-testid=dataops-decision-run-from]").click()
    page.locator("[data-testid=dataops-live]", has_text="Run ").wait_for()
    _wait_idle(page)
    [run] = [r for r in lab.api("runs")["items"] if r["run_id"] not in before]
    assert run["selection"] == ["clean", "flight_weather", "carrier_delays", "report"]


def test_catalog_page_labels_estimates_rounds_and_describes(page, lab):
    page.locator("[data-testid=dataops-tab-catalog]").click()
    page.locator("[data-testid=dataops-catalog-search]").fill("carrier")
    page.locator('[data-testid=dataops-hit][data-dataset="marts.carrier_delays"]').click()
    dataset = page.locator('[data-testid=dataops-dataset-page][data-dataset="marts.carrier_delays"]')
    dataset.wait_for()
    rows = dataset.locator("[data-testid=dataops-schema] tbody tr")
    header = [t.strip() for t in dataset.locator("[data-testid=dataops-schema] thead th").all_inner_texts()]
    table = [dict(zip(header, r.locator("td").all_inner_texts())) for r in rows.all()]
    by_column = {row["column"]: row for row in table}
    assert by_column["on_time_rate"]["description"].startswith("Share of departed flights")
    assert all(row["distinct"].startswith("≈ ") for row in table if row["distinct"])
    import re

    for row in table:
        for key in ("min", "max"):
            if re.fullmatch(r"-?[\d,]+\.\d+", row[key]):
                assert len(row[key].split(".")[1]) <= 3, row
    link = dataset.locator("[data-testid=dataops-lineage-link]").first
    style = link.evaluate("e => [getComputedStyle(e).textDecorationLine, getComputedStyle(e).cursor]")
    assert style == ["underline", "pointer"]
    readable_in_both_themes(page, "[data-testid=dataops-lineage-link], [data-testid=dataops-schema] td", "catalog")


def _open_scratch_notebook(page, lab) -> None:
    """A notebook of the user's open in Lab (the one "Insert code" writes into)."""
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "first", "metadata": {}, "outputs": [],
                           "source": "1 + 1"}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lab.root / "scratch.ipynb").write_text(json.dumps(notebook))
    page.goto(f"{lab.url}/lab/tree/scratch.ipynb?reset&token={TOKEN}")
    page.locator(".jp-NotebookPanel .jp-Cell").filter(visible=True).first.wait_for(timeout=60_000)
    use_theme(page, "light")
    open_sidebar(page)


def _table(locator) -> list[dict[str, str]]:
    header = locator.locator("thead th").evaluate_all("els => els.map(e => e.dataset.column ?? e.textContent.trim())")
    return [dict(zip(header, (c.strip() for c in r.locator("td").all_inner_texts()))) for r in locator.locator("tbody tr").all()]


def test_dataset_page_in_the_main_area_from_search(page, lab, shared):
    name = "marts.carrier_delays"
    with edited(lab.root / "dataops.yaml", "airline: {description: Full airline name}",
                "airline: {description: Full airline name, tags: [pii]}"):
        _open_scratch_notebook(page, lab)
        page.locator("[data-testid=dataops-tab-catalog]").click()
        page.locator("[data-testid=dataops-catalog-search]").fill("carrier")
        page.locator(f'[data-testid=dataops-hit][data-dataset="{name}"] [data-testid=dataops-hit-open]').click()
        view = page.locator(f'[data-testid=dataops-dataset-view][data-dataset="{name}"][data-ready=true]')
        view.wait_for()
        assert page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").inner_text().strip() == name
        api = lab.api(f"catalog/{name}?rows=100")
        assert "Punctuality per airline" in view.locator("[data-testid=dataops-view-description]").inner_text()
        facts = view.locator("[data-testid=dataops-view-facts]").inner_text()
        assert "analytics" in facts and "step carrier_delays" in facts
        assert view.locator("[data-testid=dataops-view-tag]").all_inner_texts() == ["flights", "mart"]

        # the schema: descriptions, the PII mark on the tagged column, distinct counts marked as estimates
        schema = {row["column"]: row for row in _table(view.locator("[data-testid=dataops-view-schema]"))}
        assert schema["on_time_rate"]["description"].startswith("Share of departed flights")
        assert schema["airline"]["pii"] == "PII · masked"
        assert [c for c, row in schema.items() if row["pii"]] == ["airline"]
        assert schema["carrier"]["distinct"].startswith("≈ ")
        assert all(row["distinct"].startswith("≈ ") for row in schema.values() if row["distinct"])

        # versions with the environment each was built in
        versions = _table(view.locator("[data-testid=dataops-view-versions]"))
        assert [v["version"] for v in versions] == [v["version"] for v in api["versions"]]
        assert {v["environment"] for v in versions} == {"test"}
        assert any(v["status"] == "current" and "test" in v["current in"] for v in versions)

        # lineage: the dataset between what it reads and what reads it
        graph = view.locator("[data-testid=dataops-lineage-graph]")
        drawn = graph.locator("[data-testid=dataops-lineage-node]").evaluate_all(
            "els => els.map(e => [e.dataset.side, e.dataset.dataset])")
        assert sorted(d for side, d in drawn if side == "upstream") == sorted(u["dataset"] for u in api["upstream"])
        assert sorted(d for side, d in drawn if side == "downstream") == ["reports.airline_ranking"]
        assert ["self", name] in drawn
        assert graph.locator("path.jp-DataOps-edge").count() == len(drawn) - 1

        # the preview: masked PII, sorted by a click on a header (again: the other way), filtered as typed
        preview = view.locator("[data-testid=dataops-preview]")
        rows = _table(preview)
        assert len(rows) == len(api["preview"]["rows"]) > 3
        assert {r["airline"] for r in rows} == {"********"}
        header = preview.locator('[data-testid=dataops-preview-header][data-column="flights"]')
        header.click()
        numbers = [int(r["flights"]) for r in _table(preview)]
        assert numbers == sorted(numbers) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        numbers = [int(r["flights"]) for r in _table(preview)]
        assert numbers == sorted(numbers, reverse=True) and header.get_attribute("aria-sort") == "descending"
        preview.locator("[data-testid=dataops-preview-filter]").fill("DL")
        kept = _table(preview)
        assert [r["carrier"] for r in kept] == ["DL"]
        assert preview.locator("[data-testid=dataops-preview-count]").inner_text() == f"1 of {len(rows)} rows"

        labels = ("[data-testid=dataops-dataset-view] [data-testid=dataops-lineage-graph] text, "
                  "[data-testid=dataops-dataset-view] [data-testid=dataops-view-schema] td, "
                  "[data-testid=dataops-dataset-view] .jp-DataOps-pii, [data-testid=dataops-dataset-view] .jp-DataOps-badge, "
                  "[data-testid=dataops-dataset-view] [data-testid=dataops-preview] th")
        readable_in_both_themes(page, labels, "dataset-view")
        use_theme(page, "light")

        # a lineage node opens that dataset's page
        graph.locator('[data-testid=dataops-lineage-node][data-dataset="reports.airline_ranking"]').click()
        page.locator('[data-testid=dataops-dataset-view][data-dataset="reports.airline_ranking"][data-ready=true]').wait_for()

        # "Insert code" writes the code that reads it into the notebook
        page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name).click()
        view.locator("[data-testid=dataops-view-insert-code]").click()
        page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="scratch.ipynb").click()
        cells = page.locator(".jp-NotebookPanel:visible .jp-Cell .jp-InputArea-editor").all_inner_texts()
        assert len(cells) == 2 and 'carrier_delays = dn.read("marts.carrier_delays")' in cells[1]
        page.locator(".jp-NotebookPanel:visible .jp-Cell").first.click()
        page.keyboard.press("Control+s")  # saved: nothing asks about it when later tests leave the page
        page.wait_for_function("() => !document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-dirty')")
        page.wait_for_load_state("networkidle")
        assert shared["errors"] == []
    # the sidebar's own dataset page opens the main-area one too
    page.locator("[data-testid=dataops-tab-catalog]").click()
    page.locator("[data-testid=dataops-catalog-search]").fill("airlines")
    page.locator('[data-testid=dataops-hit][data-dataset="raw.airlines"]').click()
    page.locator('[data-testid=dataops-dataset-page][data-dataset="raw.airlines"] [data-testid=dataops-open-dataset-page]').click()
    page.locator('[data-testid=dataops-dataset-view][data-dataset="raw.airlines"][data-ready=true]').wait_for()


def test_run_view_in_the_main_area_from_the_runs_panel(page, lab, shared):
    runs = lab.api("runs")["items"]  # newest first
    # the module's failed run (test_a_failed_step_and_its_skipped_downstream_stay_distinct)
    [chosen] = [r for r in runs if any(s["name"] == "carrier_delays" and s["status"] == "failed" for s in r["steps"])]
    page.locator("[data-testid=dataops-tab-runs]").click()
    page.locator(f'[data-testid=dataops-run][data-run="{chosen["run_id"]}"] [data-testid=dataops-open-run]').click()
    view = page.locator(f'[data-testid=dataops-run-view][data-run="{chosen["run_id"]}"][data-ready=true]')
    view.wait_for()
    assert page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").inner_text().strip() == f"Run {chosen['run_id']}"
    # the panel's row is not opened by the button
    assert page.locator(f'[data-testid=dataops-run][data-run="{chosen["run_id"]}"]').get_attribute("aria-expanded") == "false"
    shown = lab.api(f"runs/{chosen['run_id']}")
    steps = {row["step"]: row for row in _table(view.locator("[data-testid=dataops-run-steps]"))}
    assert list(steps) == shown["selection"] == ["carrier_delays", "report"]
    assert view.locator("[data-testid=dataops-run-environment]").inner_text() == "test"
    # the failure with its cell, the skip with its reason, the notebook of the failure
    assert steps["carrier_delays"]["outcome"] == "failed" and steps["report"]["outcome"] == "skipped"
    assert steps["carrier_delays"]["error"].startswith("Cell ")
    assert steps["carrier_delays"]["error"].endswith("ValueError: the carriers table is empty")
    assert steps["carrier_delays"]["duration"].endswith(" s")
    [skip] = [s for s in shown["steps"] if s["name"] == "report"]
    assert steps["report"]["error"] == f"Skipped: {skip['error']}" and "'carrier_delays' did not succeed" in skip["error"]
    assert steps["report"]["duration"] == ""
    step = "carrier_delays"
    given = view.locator("[data-testid=dataops-run-params]")
    if shown["params"]:  # STEP.KEY for a step's own parameters
        assert {r["parameter"]: r["value"] for r in _table(given)} == {
            f"{k}.{ik}" if isinstance(v, dict) else k: str(iv if isinstance(v, dict) else v)
            for k, v in shown["params"].items() for ik, iv in (v.items() if isinstance(v, dict) else [(None, v)])}
    else:
        assert given.inner_text() == "No parameters given: each step ran with its defaults."
    view.locator(f'[data-testid=dataops-run-view-notebook]:text("{step}.ipynb")').click()
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    page.wait_for_function(f"() => document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')?.textContent.includes('{step}.ipynb (run')")
    assert tab.inner_text().strip() == f"{step}.ipynb (run {chosen['run_id']})"

    # the newest run that published some of what the module's first run did, against that one:
    # the data diff of every dataset both published
    published = {r["run_id"]: {d["dataset"] for d in lab.api(f"runs/{r['run_id']}")["datasets"]} for r in runs}
    first = runs[-1]["run_id"]
    newest = next(r["run_id"] for r in runs[:-1] if published[r["run_id"]] & published[first])
    page.locator(f'[data-testid=dataops-run][data-run="{newest}"] [data-testid=dataops-open-run]').click()
    view = page.locator(f'[data-testid=dataops-run-view][data-run="{newest}"][data-ready=true]')
    view.wait_for()
    view.locator("[data-testid=dataops-diff-select]").select_option(first)
    view.locator("[data-testid=dataops-diff-run]").click()
    diff = view.locator(f'[data-testid=dataops-run-diff][data-b="{first}"]')
    diff.wait_for()
    expected = lab.api(f"runs/{newest}/diff/{first}")
    rows = diff.locator("[data-testid=dataops-run-diff-dataset]")
    assert rows.evaluate_all("els => els.map(e => [e.dataset.dataset, e.dataset.differs])") == [
        [d["dataset"], str(d["differs"]).lower()] for d in expected["datasets"]]
    assert [d["dataset"] for d in expected["datasets"]] == sorted(published[newest] & published[first])
    assert f"{len(expected['datasets'])} dataset" in diff.locator("[data-testid=dataops-run-diff-summary]").inner_text()
    labels = ("[data-testid=dataops-run-view] [data-testid=dataops-run-steps] td, [data-testid=dataops-run-view] .jp-DataOps-badge, "
              "[data-testid=dataops-run-view] [data-testid=dataops-run-diff] td")
    readable_in_both_themes(page, labels, "run-view")
    use_theme(page, "light")
    page.wait_for_load_state("networkidle")
    assert shared["errors"] == []


def test_launcher_card_shows_the_extension_icon(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="New Launcher").click()
    card = page.locator(".jp-Launcher:visible .jp-LauncherCard", has_text="Pipeline step")
    card.wait_for()
    assert card.locator(".jp-LauncherCard-icon svg").count() == 1
    assert card.locator(".jp-LauncherCard-noKernelIcon").count() == 0
    assert card.locator(".jp-LauncherCard-icon").inner_text().strip() == ""  # no stand-in letter


def test_new_step_dialog_checks_the_name_as_typed_and_keeps_the_input_on_refusal(page, lab):
    spec = lab.root / "dataops.yaml"
    original = spec.read_text()
    taken = lab.root / "notebooks" / "weekly.ipynb"
    taken.write_text("{}")  # a file of that name: the server refuses the step
    try:
        page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
        page.locator(".lm-Menu-itemLabel", has_text="New Launcher").click()
        page.locator(".jp-Launcher:visible .jp-LauncherCard", has_text="Pipeline step").click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for()
        name = dialog.locator("[data-testid=dataops-new-name]")
        problem = dialog.locator("[data-testid=dataops-new-problem]")
        create = dialog.locator(".jp-Dialog-button.jp-mod-accept")
        name.fill("2weekly")
        assert "starts with a letter" in problem.inner_text() and create.is_disabled()
        name.fill("clean")
        assert problem.inner_text() == "The pipeline already has a step 'clean'." and create.is_disabled()
        name.fill("weekly")
        assert problem.inner_text() == "" and create.is_enabled()
        dialog.locator("[data-testid=dataops-new-template]").select_option("sql_transform")
        dialog.locator('[data-testid=dataops-new-needs] [data-step="carrier_delays"] input').check()
        # the template's parameters, prefilled with their defaults
        source = dialog.locator('[data-testid=dataops-new-parameters] input[data-parameter="source"]')
        assert source.input_value() == "raw.example"
        source.fill("marts.carrier_delays")
        create.click()
        # refused: the dialog comes back with what was typed and why
        problem = page.locator(".jp-Dialog [data-testid=dataops-new-problem]")
        page.wait_for_function("() => document.querySelector('.jp-Dialog [data-testid=dataops-new-problem]')?.textContent.includes('already exists')")
        assert "notebooks/weekly.ipynb already exists" in problem.inner_text()
        dialog = page.locator(".jp-Dialog")
        assert dialog.locator("[data-testid=dataops-new-name]").input_value() == "weekly"
        assert dialog.locator('[data-testid=dataops-new-needs] [data-step="carrier_delays"] input').is_checked()
        assert dialog.locator("[data-testid=dataops-new-template]").input_value() == "sql_transform"
        assert dialog.locator('[data-testid=dataops-new-parameters] input[data-parameter="source"]').input_value() \
            == "marts.carrier_delays"
        save_screenshot(page, "new-step-refused")
        dialog.locator("[data-testid=dataops-new-name]").fill("weekly_carriers")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="weekly_carriers.ipynb").wait_for()
        step = next(s for s in lab.api("pipeline")["steps"] if s["name"] == "weekly_carriers")
        assert step["needs"] == ["carrier_delays"]
        created = json.loads((lab.root / "notebooks" / "weekly_carriers.ipynb").read_text())
        assert any("marts.carrier_delays" in "".join(c["source"]) for c in created["cells"])
    finally:
        write_whole(spec, original)
        taken.unlink()
        (lab.root / "notebooks" / "weekly_carriers.ipynb").unlink(missing_ok=True)


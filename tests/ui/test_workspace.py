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

from .conftest import TOKEN, Lab, contrast, open_sidebar, save_screenshot, use_theme

AA = 4.5  # WCAG AA, normal text
OUTCOME_LEGEND = ["success", "warn", "failed", "timed out", "quarantined", "skipped", "cancelled", "running", "pending",
                  "never ran"]


@pytest.fixture(scope="module")
def shared(lab: Lab, browser) -> Iterator[dict[str, Any]]:
    """One page for the module, with every uncaught page error it raised."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    page.goto(f"{lab.url}/lab?reset&token={TOKEN}")
    page.wait_for_selector(".jp-LabShell", state="attached", timeout=60_000)
    page.wait_for_selector('.jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id="dataops-sidebar"]')
    try:
        yield {"page": page, "errors": errors}
    finally:
        context.close()


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


def assert_readable(page, selector: str) -> int:
    """Every visible label matching `selector` passes WCAG AA against its rendered background."""
    measured = contrast(page, selector)
    assert measured, f"nothing visible matches {selector}"
    poor = [m for m in measured if m["ratio"] < AA]
    assert not poor, f"labels below {AA}:1: {poor}"
    return len(measured)


def readable_in_both_themes(page, selector: str, name: str) -> None:
    """The labels pass AA in the light theme and in the dark one; a screenshot of each."""
    for theme in ("light", "dark"):
        use_theme(page, theme)
        assert_readable(page, selector)
        save_screenshot(page, f"{name}-{theme}")


@contextmanager
def edited(path: Path, old: str, new: str) -> Iterator[str]:
    """`path` with `old` replaced by `new` for the block; as it was afterwards."""
    original = path.read_text()
    assert old in original
    path.write_text(original.replace(old, new))
    try:
        yield original
    finally:
        path.write_text(original)


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
        spec.write_text(original)
        taken.unlink()
        (lab.root / "notebooks" / "weekly_carriers.ipynb").unlink(missing_ok=True)

"""The DataOps sidebar in a real JupyterLab, driven by headless Chromium."""

from __future__ import annotations

import json
import urllib.error

import pytest

from .conftest import open_sidebar, run_notebook

STEPS = {"ingest", "clean", "flight_weather", "carrier_delays", "report"}


def test_sidebar_draws_the_pipeline(page):
    open_sidebar(page)
    graph = page.locator("[data-testid=dataops-graph]")
    graph.wait_for()
    nodes = page.locator("[data-testid=dataops-graph] g.jp-DataOps-node")
    assert {nodes.nth(i).get_attribute("data-step") for i in range(nodes.count())} == STEPS
    assert page.locator("[data-testid=dataops-graph] path.jp-DataOps-edge").count() == 5
    page.locator('[data-step="clean"]').click()
    details = page.locator("[data-testid=dataops-step-details]")
    assert "clean" in details.inner_text()
    assert details.locator("[data-testid=dataops-run-from]").is_visible()


def test_run_the_pipeline_and_watch_it_finish(page, lab):
    open_sidebar(page)
    page.locator("[data-testid=dataops-graph]").wait_for()
    before = {r["run_id"] for r in lab.api("runs")["items"]}
    # a changed first step: everything is stale, so "Run all" runs every step again
    ingest = lab.root / "notebooks" / "ingest.ipynb"
    notebook = json.loads(ingest.read_text())
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "id": "rerun", "metadata": {},
                              "outputs": [], "source": "rerun = True"})
    ingest.write_text(json.dumps(notebook))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=dataops-graph] [data-step=\"ingest\"]')?.dataset.freshness === 'stale'"
    )
    page.locator("[data-testid=dataops-run-all]").click()
    page.wait_for_selector("[data-testid=dataops-live] >> text=Run ", timeout=30_000)
    # live: a step shows as running while the run goes on
    page.wait_for_selector("[data-testid=dataops-graph] g.jp-DataOps-node[data-outcome=running]", timeout=60_000)
    # the run is a process of its own: reloading the browser neither stops nor loses it
    page.reload()
    page.wait_for_selector('.jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id="dataops-sidebar"]', timeout=60_000)
    open_sidebar(page)
    page.wait_for_function(
        """() => {
            const nodes = [...document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node')];
            return nodes.length === 5 && nodes.every(n => n.dataset.freshness === 'fresh'
                                                      && ['success', 'warn'].includes(n.dataset.outcome));
        }""",
        timeout=180_000,
    )
    assert "No run in progress" in page.locator("[data-testid=dataops-live]").inner_text()
    runs = lab.api("runs")["items"]
    new = [r for r in runs if r["run_id"] not in before]
    assert len(new) == 1 and new[0]["status"] == "success"
    page.locator("[data-testid=dataops-tab-runs]").click()
    first = page.locator("[data-testid=dataops-run]").first
    assert first.get_attribute("data-run") == new[0]["run_id"]
    # it succeeded; the row says `warn` when checks of what it published warned
    outcome = "warn" if new[0]["warnings"] else "success"
    assert first.get_attribute("data-outcome") == outcome and outcome in first.inner_text()


def test_open_an_executed_notebook_from_runs(page, lab):
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-runs]").click()
    run = page.locator("[data-testid=dataops-run]").first
    run_id = run.get_attribute("data-run")
    run.click()
    page.locator('[data-testid=dataops-run-step][data-step="clean"]').click()
    # in the main area, as the current tab
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text=f"clean.ipynb (run {run_id})")
    tab.wait_for(timeout=30_000)
    panel = page.locator(".jp-NotebookPanel.jp-DataOps-executed:visible")
    # the outputs the run left, not the step notebook's (which has none)
    [step] = [s for s in lab.api(f"runs/{run_id}")["steps"] if s["name"] == "clean"]
    executed_file = lab.root / step["output_notebook"]
    executed = json.loads(executed_file.read_text())
    printed = next("".join(o["text"]) for c in executed["cells"] for o in c.get("outputs", [])
                   if o["output_type"] == "stream")
    panel.locator(".jp-OutputArea-output", has_text=printed.strip().splitlines()[0]).wait_for()
    panel.locator(".jp-OutputArea-output").nth(1).wait_for()  # Lab renders cells as they come
    # read-only: Lab says so, typing changes nothing, saving is refused and writes nothing
    panel.locator(".jp-Toolbar", has_text="notebook is read-only").wait_for()
    editor = panel.locator(".jp-CodeCell .jp-InputArea-editor").first
    before = editor.inner_text()
    cells = panel.locator(".jp-Cell").count()
    editor.click()
    page.keyboard.type("qqq")
    assert editor.inner_text() == before and panel.locator(".jp-Cell").count() == cells
    bytes_before = executed_file.read_bytes()
    page.keyboard.press("Control+s")
    page.get_by_text(f"DataOpsRuns:{run_id}/clean.ipynb is read-only").wait_for()
    assert executed_file.read_bytes() == bytes_before
    # a record of what ran: no kernel was started for it, and the contents API still hides .dataops/
    assert not [s for s in lab.rest("api/sessions") if "DataOpsRuns" in s["path"]]
    with pytest.raises(urllib.error.HTTPError) as refused:
        lab.rest(f"api/contents/{step['output_notebook']}")
    assert refused.value.code == 404


def test_search_the_catalog_and_open_a_dataset(page):
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-catalog]").click()
    search = page.locator("[data-testid=dataops-catalog-search]")
    search.fill("carrier")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=dataops-hit]')?.dataset.dataset === 'marts.carrier_delays'"
    )
    page.locator('[data-testid=dataops-hit][data-dataset="marts.carrier_delays"]').click()
    dataset = page.locator('[data-testid=dataops-dataset-page][data-dataset="marts.carrier_delays"]')
    dataset.wait_for()
    text = dataset.inner_text()
    assert "Punctuality per airline" in text and "analytics" in text
    assert "on_time_rate" in text
    dataset.locator("[data-testid=dataops-upstream] >> text=staging.flights").click()
    page.locator('[data-testid=dataops-dataset-page][data-dataset="staging.flights"]').wait_for()


def test_record_a_review_decision(page, lab):
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-quality]").click()
    # one card per version, its checks inside
    card = page.locator("[data-testid=dataops-review-item]", has_text="not_null(dep_time)")
    card.wait_for()
    assert card.count() == 1
    version = card.get_attribute("data-target")
    checks = card.locator("[data-testid=dataops-review-check]")
    assert {checks.nth(i).get_attribute("data-check") for i in range(checks.count())} == {
        "not_null(dep_time)", "relationships(tailnum)"}
    # a current version with warnings: waive a check; accepting or keeping it in quarantine does not apply
    assert card.locator("[data-testid=dataops-accept], [data-testid=dataops-quarantine]").count() == 0
    # a reason half typed survives the panel's refreshes
    card.locator("[data-testid=dataops-reason]").fill("cancelled flights have no departure time")
    with page.expect_response(lambda r: "/dataops/reviews" in r.url and r.request.method == "GET"):
        pass
    assert card.locator("[data-testid=dataops-reason]").input_value() == "cancelled flights have no departure time"
    card.locator('[data-testid=dataops-review-check][data-check="not_null(dep_time)"] [data-testid=dataops-waive]').click()
    effect = page.locator("[data-testid=dataops-decision-effect]")
    effect.wait_for()
    assert effect.inner_text() == f"Waived not_null(dep_time) on {version}."
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=dataops-review-check][data-check=\"not_null(dep_time)\"]')"
    )
    card = page.locator(f'[data-testid=dataops-review-item][data-target="{version}"]')
    assert card.locator("[data-testid=dataops-review-check]").count() == 1
    rows = lab.project.ledger_rows("SELECT decision, user, reason FROM reviews ORDER BY id DESC LIMIT 1")
    assert rows == [("waive", "alice", "cancelled flights have no departure time")]


def test_create_a_step_from_a_template(page, lab):
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="New Launcher").click()
    page.locator(".jp-Launcher:visible .jp-LauncherCard", has_text="Pipeline step").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    dialog.locator("[data-testid=dataops-new-template]").select_option("sql_transform")
    dialog.locator("[data-testid=dataops-new-name]").fill("weekly")
    dialog.locator('[data-testid=dataops-new-needs] [data-step="clean"] input').check()
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="weekly.ipynb").wait_for()
    spec = (lab.root / "dataops.yaml").read_text()
    assert "- name: weekly" in spec and "notebooks/weekly.ipynb" in spec
    assert json.loads((lab.root / "notebooks" / "weekly.ipynb").read_text())["cells"]
    assert "weekly" in {s["name"] for s in lab.api("pipeline")["steps"]}


def test_review_and_catalog_widgets_render_in_a_notebook(page, lab):
    cells = [
        "import dataops_nb as dn\ndn.review()",
        "dn.catalog(query='flights')",
    ]
    run_notebook(page, lab, "widgets", cells)
    review = page.locator(".widget-vbox", has_text="Quality review").first
    review.wait_for(timeout=60_000)
    assert review.locator("button", has_text="Accept").count() >= 1
    assert "relationships(tailnum)" in review.inner_text()
    search = page.locator(".widget-text input[placeholder^='Search datasets']")
    search.wait_for()
    page.locator(".widget-button", has_text="staging.flights").first.wait_for()
    search.fill("carrier")
    page.locator(".widget-button", has_text="marts.carrier_delays").first.click()
    page.locator(".widget-html", has_text="Punctuality per airline").first.wait_for()
    page.wait_for_function(  # the page's "read it" snippet
        """() => [...document.querySelectorAll('.widget-textarea textarea')]
                 .some(t => t.value.includes('dn.read("marts.carrier_delays")'))"""
    )
    # "Insert code" on a dataset page puts a cell reading it into the active notebook
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-catalog]").click()
    page.locator("[data-testid=dataops-catalog-search]").fill("planes")
    page.locator('[data-testid=dataops-hit][data-dataset="raw.planes"]').click()
    page.locator("[data-testid=dataops-insert-code]").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell .jp-InputArea-editor')]
                 .some(e => e.textContent.includes('dn.read("raw.planes")'))"""
    )


VIEW = "#dataops-pipeline-view"
VIEW_GRAPH = f"{VIEW} [data-testid=dataops-pipelineview-graph]"


def view_nodes(page) -> dict[str, dict[str, str]]:
    """Each step node of the pipeline view's DAG: its outcome and freshness, as drawn."""
    return page.evaluate(
        f"""() => Object.fromEntries([...document.querySelectorAll('{VIEW_GRAPH} g.jp-DataOps-node[data-step]')]
                 .map(n => [n.dataset.step, {{outcome: n.dataset.outcome, freshness: n.dataset.freshness}}]))"""
    )


def view_transform(page) -> str:
    return page.locator(f"{VIEW_GRAPH} > g").get_attribute("transform")


def run_from_palette(page, label: str) -> None:
    """Run the command labelled `label` from the command palette, as a user does. The modal palette
    closes when something else takes the focus (a panel that refreshes while it opens): a user opens
    it again, and so does this, up to three times."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        page.keyboard.press("Control+Shift+C")
        try:
            page.locator(".lm-CommandPalette-input").fill(label, timeout=10_000)
            page.locator(".lm-CommandPalette-item", has_text=label).first.click(timeout=10_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"The command palette never offered '{label}'.")


def test_pipeline_view_in_the_main_area(page, lab):
    from .conftest import contrast, save_screenshot, use_theme

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    steps = {s["name"]: s for s in lab.api("pipeline")["steps"]}
    flow = lab.api("dataflow")["steps"]
    datasets = {d for f in flow for d in (*f["reads"], *f["publishes"])}
    # the sidebar's DAG, to compare the view's states with
    open_sidebar(page)
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node').length === {len(steps)}")
    sidebar = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node')]
                 .map(n => [n.dataset.step, {outcome: n.dataset.outcome, freshness: n.dataset.freshness}]))"""
    )
    # from the command palette
    run_from_palette(page, "Open the pipeline view")
    page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text="Pipeline").wait_for()
    page.wait_for_function(f"() => document.querySelectorAll('{VIEW_GRAPH} g.jp-DataOps-node[data-step]').length === {len(steps)}")
    drawn = view_nodes(page)
    assert drawn == sidebar and set(drawn) == set(steps)
    assert {n["outcome"] for n in drawn.values()} <= {"success", "warn", "never_ran"}
    assert drawn["ingest"] == {"outcome": "success", "freshness": "fresh"}
    # dataset nodes between the steps, on and off
    dataset_nodes = page.locator(f"{VIEW_GRAPH} g.jp-DataOps-dataset")
    assert dataset_nodes.count() == len(datasets) > 5
    assert {dataset_nodes.nth(i).get_attribute("data-dataset") for i in range(dataset_nodes.count())} == datasets
    raw = page.locator(f'{VIEW_GRAPH} g[data-dataset="raw.flights"]').bounding_box()
    assert page.locator(f'{VIEW_GRAPH} g[data-step="ingest"]').bounding_box()["y"] < raw["y"] \
        < page.locator(f'{VIEW_GRAPH} g[data-step="clean"]').bounding_box()["y"]
    page.locator("[data-testid=dataops-view-datasets]").uncheck()
    page.wait_for_function(f"() => document.querySelectorAll('{VIEW_GRAPH} g.jp-DataOps-dataset').length === 0")
    assert len(view_nodes(page)) == len(steps)
    page.locator("[data-testid=dataops-view-datasets]").check()
    page.wait_for_function(f"() => document.querySelectorAll('{VIEW_GRAPH} g.jp-DataOps-dataset').length === {len(datasets)}")
    # fit shows every node inside the canvas; zoom and pan change the transform
    fitted = view_transform(page)
    canvas = page.locator(VIEW_GRAPH).bounding_box()
    for i in range(page.locator(f"{VIEW_GRAPH} g.jp-DataOps-node").count()):
        box = page.locator(f"{VIEW_GRAPH} g.jp-DataOps-node").nth(i).bounding_box()
        assert canvas["x"] - 1 <= box["x"] and box["x"] + box["width"] <= canvas["x"] + canvas["width"] + 1
        assert canvas["y"] - 1 <= box["y"] and box["y"] + box["height"] <= canvas["y"] + canvas["height"] + 1
    scale = float(page.locator(VIEW_GRAPH).get_attribute("data-scale"))
    page.locator("[data-testid=dataops-view-zoomin]").click()
    assert float(page.locator(VIEW_GRAPH).get_attribute("data-scale")) == pytest.approx(scale * 1.25, rel=1e-3)
    page.mouse.move(canvas["x"] + 20, canvas["y"] + canvas["height"] - 20)
    page.mouse.wheel(0, 300)
    assert float(page.locator(VIEW_GRAPH).get_attribute("data-scale")) < scale * 1.25
    before_pan = view_transform(page)
    page.mouse.down()
    page.mouse.move(canvas["x"] + 120, canvas["y"] + canvas["height"] - 60, steps=4)
    page.mouse.up()
    assert view_transform(page) != before_pan
    page.locator("[data-testid=dataops-view-fit]").click()
    assert view_transform(page) == fitted
    # a step's card
    page.locator(f'{VIEW_GRAPH} g[data-step="clean"]').click()
    card = page.locator(f"{VIEW} [data-testid=dataops-step-details]")
    assert card.get_attribute("data-step") == "clean"
    assert "One typed row per scheduled departure" in card.inner_text()
    assert card.locator("[data-testid=dataops-step-freshness]").inner_text().startswith(("Fresh", "Stale"))
    # a dataset node opens the dataset's page
    page.locator(f'{VIEW_GRAPH} g[data-dataset="staging.flights"]').click()
    page.locator('[id="dataops-dataset:staging.flights"]').wait_for()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Pipeline").click()
    page.locator(VIEW_GRAPH).wait_for()
    # readable in both themes: node and legend labels against what is drawn behind them
    labels = f"{VIEW_GRAPH} text, {VIEW} [data-testid=dataops-legend] .jp-DataOps-badge, {VIEW} [data-testid=dataops-legend] .jp-DataOps-key"
    try:
        for theme in ("light", "dark"):
            use_theme(page, theme)
            page.locator("#jupyterlab-splash").wait_for(state="detached")
            measured = contrast(page, labels)
            assert len(measured) >= len(steps) + len(datasets)
            assert not [m for m in measured if m["ratio"] < 4.5], measured
            save_screenshot(page, f"pipeline-view-{theme}")
    finally:
        use_theme(page, "light")
    # a bad form is refused with a sentence, before anything is asked
    runs_before = {r["run_id"] for r in lab.api("runs")["items"]}
    page.locator("[data-testid=dataops-form-only]").fill("clena")
    page.locator("[data-testid=dataops-form-run]").click()
    assert page.locator(f"{VIEW} [data-testid=dataops-view-message]").inner_text().startswith('No step "clena" in the pipeline.')
    # run one step with --only and a parameter: "Starting…" at once, the button disabled, then the run
    page.locator("[data-testid=dataops-card-only]").click()
    assert page.locator("[data-testid=dataops-form-only]").input_value() == "clean"
    page.locator("[data-testid=dataops-form-params]").fill("sample_rows=2000")
    page.locator("[data-testid=dataops-form-force]").check()
    run_button = page.locator("[data-testid=dataops-form-run]")
    run_button.click()
    assert page.locator(f"{VIEW} [data-testid=dataops-view-message]").inner_text() == ""
    page.wait_for_function(
        f"""() => {{ const b = document.querySelector('{VIEW} [data-testid=dataops-form-run]');
                     return b.disabled && /Starting|Running/.test(b.textContent); }}""", timeout=10_000)
    # the live line names the run and opens its view (clicked as soon as it shows: the run is short)
    opened = page.wait_for_function(
        f"""() => {{ const link = document.querySelector('{VIEW} [data-testid=dataops-live] [data-testid=dataops-live-run]');
                     if (!link) {{ return false; }}
                     link.click();
                     return link.dataset.run; }}""", timeout=30_000).json_value()
    [new] = [r for r in lab.api("runs")["items"] if r["run_id"] not in runs_before]
    assert new["selection"] == ["clean"] and opened == new["run_id"]
    page.locator(f'[data-testid=dataops-run-view][data-run="{opened}"][data-ready=true]').wait_for()
    assert page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").inner_text().strip() == f"Run {opened}"
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Pipeline").click()
    page.locator(VIEW_GRAPH).wait_for()
    page.locator(f"{VIEW} [data-testid=dataops-live]", has_text="No run in progress").wait_for(timeout=180_000)
    ended = lab.api(f"runs/{new['run_id']}")
    assert ended["status"] in ("success", "warn")
    page.wait_for_function(f"() => document.querySelector('{VIEW} [data-testid=dataops-step-outcome]')?.textContent.includes('{new['run_id']}')")
    assert view_nodes(page)["clean"]["outcome"] == ("warn" if ended["warnings"] else "success")
    assert run_button.is_enabled() and run_button.inner_text() == "Run"
    save_screenshot(page, "pipeline-view-after-run")
    # from the sidebar and the launcher too: the one view comes forward
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Pipeline").locator(".lm-TabBar-tabCloseIcon").click()
    page.locator(VIEW).wait_for(state="detached")
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    page.locator("[data-testid=dataops-open-pipeline]").click()
    page.locator(VIEW_GRAPH).wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="New Launcher").click()
    card = page.locator(".jp-Launcher:visible .jp-LauncherCard").filter(
        has=page.locator(".jp-LauncherCard-label").get_by_text("Pipeline", exact=True))
    assert card.locator(".jp-LauncherCard-icon svg").count() == 1
    card.click()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text="Pipeline").wait_for()
    assert page.locator(VIEW).count() == 1
    assert errors == []

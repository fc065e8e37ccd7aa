"""History and monitoring in Chromium: the dataset page's history charts (row counts and check
outcomes per version, freshness) in the light and the dark theme; a running step watched live,
step durations with a much slower run marked, Cancel, the Lab's notifications when a run ends
and the Quality tab's count of open failures (screenshots kept).

The project is the demo plus `nap`, a step that publishes `scratch.naps` and then sleeps across
three cells for as long as its `seconds` parameter says (set in dataops.yaml by each test).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import REPO, ProjectFactory
from .conftest import Lab, contrast, open_sidebar, running_lab, save_screenshot, use_theme

NAP_STEP = """
  - name: nap
    notebook: notebooks/nap.ipynb
    description: Publishes scratch.naps, then sleeps across three cells.
    params: {seconds: 0, fail: false, rows: 1}
"""
NAP_DATASET = """
  scratch.naps:
    description: One row per nap (none when asked for none).
    owner: data-eng
    checks:
      - row_count: {min: 1, severity: warn}
"""
NAP_CELLS = [
    "import time\nimport dataops_nb as dn\nstep = dn.step()\n"
    "step.publish('scratch.naps', f'select range as n from range({rows})')\nprint('published scratch.naps', flush=True)",
    "time.sleep(seconds)\nprint('first nap done', flush=True)",
    "if fail:\n    raise ValueError('the nap was cut short')\ntime.sleep(seconds)\nprint('second nap done', flush=True)",
    "time.sleep(seconds)\nprint('woke up', flush=True)",
]
ALICE = {"DATAOPS_USER": "alice"}


def make_nap_project(root: Path) -> ProjectFactory:
    """The demo project (its test environment by default) with the `nap` step."""
    spec = (REPO / "dataops.yaml").read_text()
    spec = spec.replace("\ndatasets:\n", NAP_STEP + "\ndatasets:\n" + NAP_DATASET.lstrip("\n"), 1)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    project = ProjectFactory(root)
    project.notebook("nap", "seconds = 0.0\nfail = False\nrows = 1", *NAP_CELLS)
    (root / "dataops.yaml").write_text(spec + "\ndefault_environment: test\n")
    return project


def set_nap(root: Path, *, seconds: float = 0, fail: bool = False, rows: int = 1) -> None:
    """Change the nap step's parameters in dataops.yaml, as a user would before running it."""
    path = root / "dataops.yaml"
    text = re.sub(r"params: \{seconds: .*\}", f"params: {{seconds: {seconds}, fail: {str(fail).lower()}, rows: {rows}}}",
                  path.read_text(), count=1)
    path.write_text(text)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Lab on the nap project after a run of the test environment and two quick runs of nap:
    three earlier durations of nap to judge a slow one by."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "flights"
    root.mkdir()
    make_nap_project(root)

    def before(lab: Lab) -> None:
        lab.project.cli("run", "--env", "test", env=ALICE, check=0)
        for _ in range(2):
            lab.project.cli("run", "--env", "test", "--only", "nap", "--force", env=ALICE, check=0)

    with running_lab(base, root, before=before) as lab:
        yield lab


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


@pytest.fixture
def watched(page) -> Iterator[object]:
    """The Lab page; the test fails on any uncaught error in it."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    yield page
    assert not errors, errors


def start_nap(page) -> str:
    """Run the nap step from its card in the Pipeline panel; the id of the run it started."""
    open_sidebar(page)
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    page.locator('[data-testid=dataops-graph] g.jp-DataOps-node[data-step="nap"]').click()
    button = page.locator('[data-testid=dataops-step-details][data-step="nap"] [data-testid=dataops-run-step]')
    page.wait_for_function("() => !document.querySelector('[data-testid=dataops-run-step]')?.disabled")
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/dataops/runs") and r.request.method == "POST") as answer:
        button.click()
    assert answer.value.status == 201, answer.value.text()
    return str(answer.value.json()["run_id"])


def open_run(page, run_id: str):
    """The run's row in the Runs panel, opened to its steps (and, while it runs, its live view)."""
    page.locator("[data-testid=dataops-tab-runs]").click()
    row = page.locator(f'[data-testid=dataops-run][data-run="{run_id}"]')
    row.locator(".jp-DataOps-chevron").click()
    page.wait_for_selector(f'[data-testid=dataops-run][data-run="{run_id}"][aria-expanded=true]')
    return row


def seconds_of(text: str) -> float:
    minutes = re.match(r"(\d+) min (\d+) s", text)
    return int(minutes[1]) * 60 + int(minutes[2]) if minutes else float(text.removesuffix(" s"))


def toast(page, text: str):
    """The Lab notification (a toast) saying `text`."""
    found = page.locator(".Toastify__toast", has_text=text)
    found.wait_for(timeout=90_000)
    found.locator(".jp-toast-button").first.click(trial=True)  # once it has slid in and stands still
    return found


def test_a_running_step_is_watched_live_and_the_lab_says_when_it_ends(watched, lab):
    page = watched
    set_nap(lab.root, seconds=3)
    run_id = start_nap(page)
    open_run(page, run_id)
    live = page.locator('[data-testid=dataops-runs] [data-testid=dataops-live] [data-testid=dataops-live-step][data-step="nap"]')
    tail = live.locator("[data-testid=dataops-live-tail]")
    cell = live.locator("[data-testid=dataops-live-cell]")
    elapsed = live.locator("[data-testid=dataops-live-elapsed]")
    # the executed notebook as saved after each cell: the output so far, the cell running now
    page.wait_for_function("""() => document.querySelector('[data-testid=dataops-runs] [data-testid=dataops-live-tail]')
                                  ?.textContent.includes('first nap done')""", timeout=60_000)
    first_cell, first_elapsed = cell.inner_text(), seconds_of(elapsed.inner_text())
    assert re.fullmatch(r"cell \d+ of \d+", first_cell), first_cell
    assert "second nap done" not in tail.inner_text()
    assert "time.sleep(seconds)" in live.locator("[data-testid=dataops-live-code]").inner_text()
    # the executed notebook so far opens from the running step's row
    page.locator(f'li:has(> [data-run="{run_id}"]) [data-testid=dataops-run-step][data-step="nap"]').click()
    executed = page.locator(".jp-NotebookPanel.jp-DataOps-executed:visible")
    executed.locator(".jp-OutputArea-output", has_text="first nap done").wait_for()
    assert executed.locator(".jp-OutputArea-output", has_text="second nap done").count() == 0
    save_screenshot(page, "live-step")
    # refreshed while it runs: later output, a later cell, more time
    page.wait_for_function("""() => document.querySelector('[data-testid=dataops-runs] [data-testid=dataops-live-tail]')
                                  ?.textContent.includes('second nap done')""", timeout=60_000)
    later_cell = cell.inner_text()
    assert int(later_cell.split()[1]) > int(first_cell.split()[1])
    assert later_cell.split()[3] == first_cell.split()[3]  # of the same number of cells
    assert seconds_of(elapsed.inner_text()) > first_elapsed

    # the end: the Lab says so, and the row shows the outcome, without the live view or Cancel
    notice = toast(page, f"Run {run_id} succeeded")
    assert notice.inner_text().startswith(f"Run {run_id} succeeded: 1 step ran.")
    row = page.locator(f'[data-testid=dataops-run][data-run="{run_id}"]')
    page.wait_for_selector(f'[data-testid=dataops-run][data-run="{run_id}"][data-outcome=success]')
    assert row.locator("[data-testid=dataops-cancel-run]").count() == 0
    assert page.locator("[data-testid=dataops-runs] [data-testid=dataops-live]").count() == 0
    assert lab.api(f"runs/{run_id}")["status"] == "success"
    notice.locator(".jp-toast-button", has_text="Show run").click()
    page.wait_for_selector(f'[data-testid=dataops-run][data-run="{run_id}"][aria-expanded=true]')


def test_step_durations_mark_a_step_much_slower_than_its_median(watched, lab):
    """The nap just slept 9 s; its three earlier runs took about a second."""
    page = watched
    durations = next(s for s in lab.api("pipeline")["steps"] if s["name"] == "nap")["durations"]
    assert len(durations) == 4 and durations[-1]["duration_s"] > 2 * max(d["duration_s"] for d in durations[:-1])
    open_sidebar(page)
    # the Runs panel: a chart per step over the listed runs, and the slow step in its run
    page.locator("[data-testid=dataops-tab-runs]").click()
    page.locator("[data-testid=dataops-run-durations] summary").click()
    with page.expect_response(lambda r: "/dataops/runs?" in r.url and r.request.method == "GET"):
        pass  # it stays open while the list refreshes
    bars = page.locator('[data-testid=dataops-run-durations] tr[data-step="nap"] [data-testid=dataops-duration-chart] rect')
    bars.last.wait_for()  # shown
    assert bars.evaluate_all("els => els.map(e => e.dataset.marked)") == ["false", "false", "false", "true"]
    assert [round(float(v), 3) for v in bars.evaluate_all("els => els.map(e => e.dataset.value)")] == [
        round(d["duration_s"], 3) for d in durations]
    slow_run = durations[-1]["run_id"]
    open_run(page, slow_run)
    step = page.locator(f'li:has(> [data-run="{slow_run}"]) [data-testid=dataops-run-step][data-step="nap"]')
    assert re.fullmatch(r"\d+\.\d× slower", step.locator("[data-testid=dataops-slow-step]").inner_text())
    # an earlier run of it is not marked
    quick = durations[-2]["run_id"]
    open_run(page, quick)
    assert page.locator(f'li:has(> [data-run="{quick}"]) [data-testid=dataops-slow-step]').count() == 0
    save_screenshot(page, "run-durations")
    # the Pipeline panel: the step's card charts its last runs and says the latest was slow
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    page.locator('[data-testid=dataops-graph] g.jp-DataOps-node[data-step="nap"]').click()
    card = page.locator('[data-testid=dataops-step-details][data-step="nap"] [data-testid=dataops-step-durations]')
    marks = card.locator("[data-testid=dataops-duration-chart] rect").evaluate_all("els => els.map(e => e.dataset.marked)")
    assert marks == ["false", "false", "false", "true"]
    assert re.fullmatch(r"latest \d+\.\d× its median \(\d+\.\d s\)", card.locator("[data-testid=dataops-slow-step]").inner_text())
    save_screenshot(page, "step-durations")


def test_a_failed_run_is_notified_with_its_error_and_opens_its_notebook(watched, lab):
    page = watched
    set_nap(lab.root, seconds=0, fail=True)
    run_id = start_nap(page)
    notice = toast(page, f"Run {run_id} failed")
    [step] = lab.api(f"runs/{run_id}")["steps"]
    cell = re.match(r"cell (\d+)", step["error"])[1]
    assert notice.inner_text().startswith(
        f"Run {run_id} failed in step nap, cell {cell}: ValueError: the nap was cut short")
    assert "Traceback" not in notice.inner_text()
    save_screenshot(page, "failure-notification")
    # it stays until acted upon: its action opens the executed notebook where it failed
    notice.locator(".jp-toast-button", has_text="Open notebook").click()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text=f"nap.ipynb (run {run_id})").wait_for()
    page.locator(".jp-NotebookPanel.jp-DataOps-executed:visible .jp-OutputArea-output",
                 has_text="ValueError: the nap was cut short").first.wait_for()
    assert lab.api(f"runs/{run_id}")["status"] == "failed"


def test_cancel_a_running_run(watched, lab):
    page = watched
    set_nap(lab.root, seconds=30)
    current = lab.api("catalog/scratch.naps")["current_version"]
    run_id = start_nap(page)
    row = open_run(page, run_id)
    # the step has staged its version and sleeps
    page.wait_for_function("""() => document.querySelector('[data-testid=dataops-runs] [data-testid=dataops-live-tail]')
                                  ?.textContent.includes('published scratch.naps')""", timeout=60_000)
    cancel = row.locator("[data-testid=dataops-cancel-run]")
    assert cancel.inner_text() == "Cancel"
    cancel.click()
    page.wait_for_selector(f'[data-testid=dataops-run][data-run="{run_id}"][data-outcome=cancelled]', timeout=60_000)
    assert row.locator("[data-testid=dataops-cancel-run]").count() == 0
    assert "cancelled" in row.inner_text()
    assert page.locator("[data-testid=dataops-message]").inner_text() == ""  # nothing refused
    toast(page, f"Run {run_id} was cancelled")
    save_screenshot(page, "cancelled-run")
    # the server: the run ended cancelled, its step interrupted, and what it staged never became current
    run = lab.api(f"runs/{run_id}")
    assert run["status"] == "cancelled" and [(s["name"], s["status"]) for s in run["steps"]] == [("nap", "interrupted")]
    page_ = lab.api("catalog/scratch.naps")
    assert page_["current_version"] == current
    assert run_id not in {v["run_id"] for v in page_["versions"]}
    assert lab.api("pipeline")["running"] is None


def test_cancel_of_a_run_that_has_ended_meanwhile_says_why(watched, lab):
    """The panel still shows the run running (its list is slow to come back) when someone else
    cancelled it: the Lab's Cancel is refused with the server's sentence."""
    page = watched
    set_nap(lab.root, seconds=30)
    run_id = start_nap(page)
    row = open_run(page, run_id)
    cancel = row.locator("[data-testid=dataops-cancel-run]")
    page.wait_for_function("""() => document.querySelector('[data-testid=dataops-runs] [data-testid=dataops-live-tail]')
                                  ?.textContent.includes('published scratch.naps')""", timeout=60_000)
    held: list = []
    page.route(re.compile(r"/dataops/runs\?"), lambda route: held.append(route))  # the run list: answered late
    done = lab.project.cli("cancel", run_id, "--grace", "1s", "--json", env=ALICE, check=0)
    assert '"status": "cancelled"' in done.stdout
    cancel.click()
    message = page.locator("[data-testid=dataops-message]")
    message.filter(has_text=f"Run {run_id} is not running (it is cancelled): there is nothing to cancel.").wait_for()
    save_screenshot(page, "cancel-refused")
    for route in held:  # the list comes back at last
        route.continue_()
    page.unroute(re.compile(r"/dataops/runs\?"))
    page.wait_for_selector(f'[data-testid=dataops-run][data-run="{run_id}"][data-outcome=cancelled]')
    assert row.locator("[data-testid=dataops-cancel-run]").count() == 0
    assert lab.api(f"runs/{run_id}")["status"] == "cancelled"


def test_the_quality_tab_counts_open_failures(watched, lab):
    page = watched
    open_sidebar(page)
    count = page.locator("[data-testid=dataops-tab-quality] [data-testid=dataops-open-failures]")

    def shows(n: int) -> None:
        page.wait_for_selector(f"[data-testid=dataops-tab-quality] [data-testid=dataops-open-failures][data-count='{n}']",
                               state="attached", timeout=90_000)
        assert count.inner_text() == (str(n) if n else "")

    before = lab.api("reviews")["open_failures"]
    assert before >= 2  # the demo's warn checks in clean
    shows(before)
    assert count.is_visible()
    for theme in ("dark", "light"):  # legible in either theme
        use_theme(page, theme)
        [shown] = contrast(page, "[data-testid=dataops-tab-quality] [data-testid=dataops-open-failures]")
        assert shown["ratio"] >= 4.5, (theme, shown)
    # a run from the Lab that publishes with a warn check: one more, without opening the Quality panel
    set_nap(lab.root, seconds=0, rows=0)
    run_id = start_nap(page)
    toast(page, f"Run {run_id} succeeded with 1 warn check.")
    shows(before + 1)
    assert lab.api("reviews")["open_failures"] == before + 1
    save_screenshot(page, "open-failures-badge")
    # a decision closes one: one fewer
    page.locator("[data-testid=dataops-tab-quality]").click()
    card = page.locator('[data-testid=dataops-review-item]', has_text="scratch.naps")
    card.locator("[data-testid=dataops-reason]").fill("no naps is fine")
    card.locator('[data-testid=dataops-review-check][data-check="row_count"] [data-testid=dataops-waive]').click()
    page.locator("[data-testid=dataops-decision-effect]").wait_for()
    shows(before)
    assert lab.api("reviews")["open_failures"] == before

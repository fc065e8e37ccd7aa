"""The JupyterLab extension: prebuilt JavaScript size, sidebar click -> pipeline graph drawn, and the
main-area pipeline view of a 50-step pipeline drawn.

    python bench/ui.py [--quick] [--repeats N]

Starts a real `jupyter lab` on a copy of the demo project and drives headless Chromium
(/usr/bin/chromium). The time is measured in the page: from the click on the DataOps tab
to the SVG graph of the demo's steps being in the DOM (it includes the /dataops/pipeline
request, which computes each step's fresh/stale state). Lab's own file browser tab switch
is measured the same way, for scale.

The pipeline view is measured on a generated project of 50 steps whose notebooks read and
publish datasets (about 50 dataset nodes between the steps): from the click on the sidebar's
"Open view" to the DAG's last step and its dataset nodes in the DOM (it includes the
/dataops/pipeline and /dataops/dataflow requests), against the sidebar's own graph of the
same pipeline; the view's layout and drawing alone (no requests) is a row of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PY, REPO, Result, Row, judge, main, notebook_json, ratio, workdir  # noqa: E402

SECTION = "ui"
TOKEN = "dataops-bench"
CHROMIUM = os.environ.get("DATAOPS_CHROMIUM", "/usr/bin/chromium")
EXTENSION = REPO / "dataops_nb" / "labextension" / "static"

# the click and the wait both happen in the page, so no driver round trip is counted
MEASURE = """async ([tab, ready]) => {
    const target = document.querySelector(tab);
    const box = target.getBoundingClientRect();
    const at = {bubbles: true, cancelable: true, button: 0, pointerId: 1, isPrimary: true,
                clientX: box.x + box.width / 2, clientY: box.y + box.height / 2};
    const start = performance.now();
    // Lumino tab bars act on pointer events, as a real click sends them
    target.dispatchEvent(new PointerEvent('pointerdown', at));
    target.dispatchEvent(new PointerEvent('pointerup', at));
    while (!document.querySelector(ready)) {
        if (performance.now() - start > 20000) { return -1; }
        await new Promise(resolve => setTimeout(resolve, 1));
    }
    return performance.now() - start;
}"""
DATAOPS_TAB = '.jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id="dataops-sidebar"]'
GRAPH_DRAWN = "[data-testid=dataops-graph] g.jp-DataOps-node[data-step=report]"
FILES_TAB = '.jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id="filebrowser"]'
FILES_DRAWN = ".jp-FileBrowser:not(.lm-mod-hidden) .jp-DirListing-item"
OPEN_VIEW = "[data-testid=dataops-open-pipeline]"
VIEW_GRAPH = "#dataops-pipeline-view [data-testid=dataops-pipelineview-graph]"
STEPS = 50
# the click is a plain DOM click on a button; the wait is for the last step and the datasets
VIEW_MEASURE = """async ([button, ready]) => {
    const start = performance.now();
    document.querySelector(button).click();
    while (!document.querySelector(ready)) {
        if (performance.now() - start > 20000) { return [-1, -1]; }
        await new Promise(resolve => setTimeout(resolve, 1));
    }
    const drawn = performance.now() - start;
    return [drawn, Number(document.querySelector('""" + VIEW_GRAPH + """').dataset.drawMs)];
}"""


def bundle_kb() -> tuple[float, list[str]]:
    files = sorted(EXTENSION.glob("*.js"))
    return sum(f.stat().st_size for f in files) / 1024, [f"{f.name} {f.stat().st_size / 1024:.1f} KB" for f in files]


def start_lab(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = root.parent
    settings = base / "settings"
    settings.mkdir(exist_ok=True)
    (settings / "overrides.json").write_text(
        json.dumps({"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}})
    )
    env = {**os.environ, "HOME": str(base / "home"), "JUPYTER_CONFIG_DIR": str(base / "config"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # the frontend built from this tree, ahead of the copy the last `pip install` left
    extensions = base / "labextensions"
    shutil.rmtree(extensions, ignore_errors=True)
    shutil.copytree(EXTENSION.parent, extensions / "dataops-nb-lab")
    process = subprocess.Popen(
        [PY, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={settings}",
         f"--LabApp.extra_labextensions_path={extensions}"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"{url}/dataops/settings", headers={"Authorization": f"token {TOKEN}"})
            urllib.request.urlopen(request, timeout=5).read()
            return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("jupyter lab did not start")


def lab_page(browser, address: str, viewport: dict[str, int]):
    """A new page on Lab, settled, with the left area closed."""
    page = browser.new_page(viewport=viewport)
    page.goto(address)
    page.wait_for_selector(DATAOPS_TAB, timeout=60_000)
    page.wait_for_timeout(1500)  # let Lab settle (restored layout, kernelspecs)
    if "lm-mod-current" in (page.locator(FILES_TAB).get_attribute("class") or ""):
        page.locator(FILES_TAB).click()
        page.wait_for_timeout(300)
    return page


def click_to_drawn(url: str, repeats: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    sidebar, files = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(repeats + 1):  # the first load warms the server's caches; not counted
            page = lab_page(browser, f"{url}/lab?token={TOKEN}", {"width": 1400, "height": 900})
            drawn = page.evaluate(MEASURE, [DATAOPS_TAB, GRAPH_DRAWN])
            browsed = page.evaluate(MEASURE, [FILES_TAB, FILES_DRAWN])
            if drawn < 0 or browsed < 0:
                page.screenshot(path=str(workdir("ui") / "timeout.png"))
                raise RuntimeError(f"the page did not draw in 20 s (sidebar {drawn}, file browser {browsed})")
            sidebar.append(drawn)
            files.append(browsed)
            page.close()
        browser.close()
    return sidebar[1:], files[1:]


def fifty_step_project(root: Path) -> Path:
    """A 50-step pipeline as a team grows one: four sources, then steps that each read two or
    three datasets of earlier steps and publish one (the notebooks are read, never run)."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "notebooks").mkdir(parents=True)
    spec = ["name: bench50", "steps:"]
    for i in range(STEPS):
        needs = [] if i < 4 else sorted({f"s{i // 2 - 1:02d}", f"s{i - 3:02d}", *([f"s{i - 4:02d}"] if i % 5 == 0 else [])})
        reads = "\n".join(f'{n} = dn.read("ds.{n}")' for n in needs)
        body = f"import dataops_nb as dn\n{reads}\ndn.publish(\"ds.s{i:02d}\", df)"
        (root / "notebooks" / f"s{i:02d}.ipynb").write_text(json.dumps(notebook_json("df = None", body)))
        spec += [f"  - name: s{i:02d}", f"    notebook: notebooks/s{i:02d}.ipynb"]
        if needs:
            spec.append(f"    needs: [{', '.join(needs)}]")
    (root / "dataops.yaml").write_text("\n".join(spec) + "\n")
    return root


def view_drawn(url: str, repeats: int) -> tuple[list[float], list[float], list[float], int]:
    """Per repeat: click "Open view" -> 50-step DAG with datasets drawn, the view's own layout and
    drawing time, and click DataOps tab -> the sidebar's 50-step graph; the dataset nodes drawn."""
    from playwright.sync_api import sync_playwright

    ready = f"{VIEW_GRAPH}:not([data-datasets='0']) g.jp-DataOps-node[data-step=s{STEPS - 1:02d}]"
    views, draws, sidebars, datasets = [], [], [], 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(repeats + 1):  # the first load warms the server's caches; not counted
            page = lab_page(browser, f"{url}/lab?reset&token={TOKEN}", {"width": 1600, "height": 1000})
            sidebar = page.evaluate(MEASURE, [DATAOPS_TAB, f"[data-testid=dataops-graph] g.jp-DataOps-node[data-step=s{STEPS - 1:02d}]"])
            page.wait_for_selector(OPEN_VIEW)
            view, draw = page.evaluate(VIEW_MEASURE, [OPEN_VIEW, ready])
            if sidebar < 0 or view < 0:
                page.screenshot(path=str(workdir("ui") / "timeout.png"))
                raise RuntimeError(f"the page did not draw in 20 s (sidebar {sidebar}, view {view})")
            assert page.locator(f"{VIEW_GRAPH} g.jp-DataOps-node[data-step]").count() == STEPS
            datasets = page.locator(f"{VIEW_GRAPH} g.jp-DataOps-dataset").count()
            views.append(view)
            draws.append(draw)
            sidebars.append(sidebar)
            page.close()
        browser.close()
    return views[1:], draws[1:], sidebars[1:], datasets


def run(args: argparse.Namespace) -> list[Result]:
    size, files = bundle_kb()
    results = [Result(
        name="Prebuilt JavaScript of the extension",
        compared="dataops_nb/labextension/static/*.js (shared JupyterLab packages are not bundled)",
        rows=[Row("total", size, [size], "KB")],
        value=size, value_label="KB", target="<= 300 KB", passed=judge(size, 300.0), notes=files,
    )]
    root = workdir("ui") / "flights"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copy(REPO / "dataops.yaml", root / "dataops.yaml")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    subprocess.run([PY, "-m", "dataops_nb.cli", "run", "--env", "test", "-q"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    process, url = start_lab(root)
    try:
        sidebar, files = click_to_drawn(url, max(args.repeats, 5))
    finally:
        process.terminate()
        process.wait(timeout=20)
    big = fifty_step_project(workdir("ui") / "bench50")
    process, url = start_lab(big)
    try:
        views, draws, sidebars50, datasets = view_drawn(url, max(args.repeats, 5))
    finally:
        process.terminate()
        process.wait(timeout=20)
    drawn = Row.of("click DataOps tab -> demo graph drawn", sidebar, "ms")
    browsed = Row.of("click File Browser tab -> listing shown (Lab itself)", files, "ms")
    results.append(Result(
        name="Sidebar: click to pipeline graph (demo, 5 steps)",
        compared="the DataOps tab vs Lab's own file browser tab, same page, same run",
        rows=[drawn, browsed], value=drawn.median, value_label="ms to graph",
        target="<= 300 ms", passed=judge(drawn.median, 300.0),
        notes=[f"ratio to the file browser: {ratio(drawn, browsed):.2f}×" if ratio(drawn, browsed) else ""],
    ))
    view = Row.of(f"click Open view -> {STEPS} steps and {datasets} datasets drawn in the main area", views, "ms")
    drawing = Row.of("of which the view's layout and SVG drawing (no requests)", draws, "ms")
    side = Row.of(f"click DataOps tab -> the sidebar's graph of the same {STEPS} steps", sidebars50, "ms")
    results.append(Result(
        name=f"Pipeline view: time to draw the main-area DAG of a {STEPS}-step pipeline",
        compared=f"the main-area view (steps and dataset nodes, fitted) vs the sidebar's graph (steps only), same {STEPS}-step project, same run",
        rows=[view, drawing, side], value=view.median, value_label="ms to DAG",
        target="<= 300 ms", passed=judge(view.median, 300.0),
        notes=[f"ratio to the sidebar's graph: {ratio(view, side):.2f}×" if ratio(view, side) else ""],
    ))
    return results


if __name__ == "__main__":
    main(SECTION, __doc__ or "", run)

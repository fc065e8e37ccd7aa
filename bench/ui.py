"""The JupyterLab extension: prebuilt JavaScript size, and sidebar click -> pipeline graph drawn.

    python bench/ui.py [--quick] [--repeats N]

Starts a real `jupyter lab` on a copy of the demo project and drives headless Chromium
(/usr/bin/chromium). The time is measured in the page: from the click on the DataOps tab
to the SVG graph of the demo's steps being in the DOM (it includes the /dataops/pipeline
request, which computes each step's fresh/stale state). Lab's own file browser tab switch
is measured the same way, for scale.
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

from common import PY, REPO, Result, Row, judge, main, ratio, workdir  # noqa: E402

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
           "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    process = subprocess.Popen(
        [PY, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={settings}"],
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


def click_to_drawn(url: str, repeats: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    sidebar, files = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(repeats + 1):  # the first load warms the server's caches; not counted
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/lab?token={TOKEN}")
            page.wait_for_selector(DATAOPS_TAB, timeout=60_000)
            page.wait_for_timeout(1500)  # let Lab settle (restored layout, kernelspecs)
            if "lm-mod-current" in (page.locator(FILES_TAB).get_attribute("class") or ""):
                page.locator(FILES_TAB).click()  # start with the left area closed
                page.wait_for_timeout(300)
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
    drawn = Row.of("click DataOps tab -> demo graph drawn", sidebar, "ms")
    browsed = Row.of("click File Browser tab -> listing shown (Lab itself)", files, "ms")
    results.append(Result(
        name="Sidebar: click to pipeline graph (demo, 5 steps)",
        compared="the DataOps tab vs Lab's own file browser tab, same page, same run",
        rows=[drawn, browsed], value=drawn.median, value_label="ms to graph",
        target="<= 300 ms", passed=judge(drawn.median, 300.0),
        notes=[f"ratio to the file browser: {ratio(drawn, browsed):.2f}×" if ratio(drawn, browsed) else ""],
    ))
    return results


if __name__ == "__main__":
    main(SECTION, __doc__ or "", run)

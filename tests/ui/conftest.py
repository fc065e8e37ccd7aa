"""A real `jupyter lab` on a copy of the demo project, driven by headless Chromium (Playwright)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ..conftest import REPO, ProjectFactory

CHROMIUM = os.environ.get("DATAOPS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
TOKEN = "dataops-ui-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.project = ProjectFactory(root)

    def api(self, path: str) -> dict:
        return self.rest(f"dataops/{path}")

    def rest(self, path: str) -> Any:
        """GET a path of the server's REST API (the extension's or Jupyter's own), as JSON."""
        request = urllib.request.Request(f"{self.url}/{path}", headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root = base / "flights"
    root.mkdir()
    # the lab shows the sample the test environment builds
    (root / "dataops.yaml").write_text((REPO / "dataops.yaml").read_text() + "\ndefault_environment: test\n")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    with running_lab(base, root, before=lambda lab: lab.project.cli(
            "run", "--env", "test", env={"DATAOPS_USER": "alice"}, check=0)) as lab:
        yield lab


@contextmanager
def running_lab(base: Path, root: Path, *, before: Callable[[Lab], object] | None = None) -> Iterator[Lab]:
    """`jupyter lab` over the project at `root` (its Jupyter state under `base`), the server's token
    authenticating as alice; `before` prepares the project once Lab's environment is set."""
    home = base / "home"
    settings = base / "settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "overrides.json").write_text(
        json.dumps({"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
                    "dataops-nb-lab:plugin": {"refreshInterval": 300}})
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "DATAOPS_USER": "nobody",  # the server decides with Jupyter's user (alice), never with this
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    # the frontend built from this tree (`jlpm build:prod`) goes ahead of the copy that the last
    # `pip install` left in share/jupyter/labextensions: the browser runs the current source
    extensions = base / "labextensions"
    built = REPO / "dataops_nb" / "labextension"
    if (built / "package.json").is_file():
        shutil.copytree(built, extensions / "dataops-nb-lab")
    lab = Lab(root, _free_port())
    if before is not None:
        before(lab)
    log = (base / "lab.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
            f"--ServerApp.port={lab.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.identity_provider_class=tests.identities.TokenUsers",
            f"--TokenUsers.token={TOKEN}", "--TokenUsers.token_user=alice", f"--ServerApp.root_dir={root}",
            f"--LabApp.app_settings_dir={settings}", "--LabApp.news_url=",
            f"--LabApp.extra_labextensions_path={extensions}",
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                lab.api("settings")
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("jupyter lab did not start:\n" + (base / "lab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield lab
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"Chromium is needed at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(lab: Lab, browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A Lab page with the DataOps sidebar open; a screenshot is saved after each test."""
    with lab_page(lab, browser, request) as page:
        page.goto(f"{lab.url}/lab?token={TOKEN}")
        page.wait_for_selector(".jp-LabShell", state="attached", timeout=60_000)
        page.wait_for_selector('.jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id="dataops-sidebar"]')
        yield page


@contextmanager
def lab_page(lab: Lab, browser, request: pytest.FixtureRequest, *, permissions: tuple[str, ...] = ()) -> Iterator[Any]:
    """A fresh browser page (granted `permissions` on Lab's origin); its screenshot is saved at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    if permissions:
        context.grant_permissions(list(permissions), origin=lab.url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"))
        context.close()


@contextmanager
def module_page(lab: Lab, browser) -> Iterator[dict[str, Any]]:
    """One page for a module's story, on a clean Lab workspace with the DataOps sidebar's tab
    there, and every uncaught page error it raised (under "errors")."""
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


def run_notebook(page: Any, lab: Lab, name: str, cells: list[str]) -> None:
    """Write notebooks/NAME.ipynb with `cells`, open it in Lab, and run all its cells from the menu."""
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": source} for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (lab.root / "notebooks" / f"{name}.ipynb").write_text(json.dumps(notebook))
    # `reset`: a clean workspace, not the panels an earlier test left open (hidden behind this one)
    page.goto(f"{lab.url}/lab/tree/notebooks/{name}.ipynb?reset&token={TOKEN}")
    page.locator(".jp-NotebookPanel .jp-Cell").filter(visible=True).first.wait_for(timeout=60_000)
    kernel_dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        kernel_dialog.wait_for(timeout=5_000)
        kernel_dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    except Exception:  # noqa: BLE001 - Lab started the notebook's kernel without asking
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.get_by_text("Run All Cells", exact=True).click()


def open_sidebar(page) -> None:
    tab = page.locator('.jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id="dataops-sidebar"]')
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.wait_for_selector("#dataops-sidebar [data-testid=dataops-tab-pipeline]")



THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def use_theme(page: Any, theme: str) -> None:
    """Switch Lab's theme from the Settings menu, as a user does; waits until it applies."""
    light = "true" if theme == "light" else "false"
    if page.evaluate("() => document.body.dataset.jpThemeLight") == light:
        return
    layout = "() => getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim()"
    before = page.evaluate(layout)
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{THEMES[theme]}$")).click()
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
    # the theme's stylesheet applies after the attribute changes
    page.wait_for_function(f"() => ({layout})() !== {json.dumps(before)}", timeout=30_000)
    # Lab shows its splash while it swaps the theme's stylesheet
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=30_000)


def save_screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# The contrast of each element's text against what is rendered behind it, from the computed
# colours (a canvas resolves any CSS colour, color-mix() included, to RGBA). SVG text is read
# against the fill of the shape drawn before it in its group.
CONTRAST_JS = """
(selector) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const rgba = value => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = 'rgba(0, 0, 0, 0)';
    ctx.fillStyle = value;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const backdrop = node => {
    const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((acc, c) => over(c, acc), [255, 255, 255, 1]);
  };
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll(selector)].filter(e => e.getClientRects().length).map(e => {
    let bg, fg;
    if (e instanceof SVGElement) {
      const shape = e.parentElement.querySelector('rect');
      bg = over(rgba(getComputedStyle(shape).fill), backdrop(e.closest('svg').parentElement));
      fg = over(rgba(getComputedStyle(e).fill), bg);
    } else {
      bg = backdrop(e);
      fg = over(rgba(getComputedStyle(e).color), bg);
    }
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    return { text: e.textContent.trim().slice(0, 40), ratio: (l1 + 0.05) / (l2 + 0.05), fg: fg.map(Math.round), bg: bg.map(Math.round) };
  });
}
"""


def contrast(page: Any, selector: str) -> list[dict[str, Any]]:
    """Every visible element matching `selector`: its text, contrast ratio and rendered colours."""
    return page.evaluate(CONTRAST_JS, selector)



AA = 4.5  # WCAG AA, normal text


def assert_readable(page: Any, selector: str) -> int:
    """Every visible label matching `selector` passes WCAG AA against its rendered background."""
    measured = contrast(page, selector)
    assert measured, f"nothing visible matches {selector}"
    poor = [m for m in measured if m["ratio"] < AA]
    assert not poor, f"labels below {AA}:1: {poor}"
    return len(measured)


def readable_in_both_themes(page: Any, selector: str, name: str) -> None:
    """The labels pass AA in the light theme and in the dark one (a screenshot of each); light again after."""
    for theme in ("light", "dark"):
        use_theme(page, theme)
        assert_readable(page, selector)
        save_screenshot(page, f"{name}-{theme}")
    use_theme(page, "light")

"""The catalog widget's "Copy code" in a real JupyterLab: the snippet reaches the browser's clipboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import Lab, lab_page, run_notebook

SNIPPET = 'import dataops_nb as dn\n\ncarrier_delays = dn.read("marts.carrier_delays")\ncarrier_delays.head()'


@pytest.fixture
def clipboard_page(lab: Lab, browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A Lab page whose origin may read and write the clipboard (what a user's click allows)."""
    with lab_page(lab, browser, request, permissions=("clipboard-read", "clipboard-write")) as page:
        yield page


def test_copy_code_puts_the_snippet_on_the_clipboard(clipboard_page, lab: Lab) -> None:
    page = clipboard_page
    run_notebook(page, lab, "clipboard", ["import dataops_nb as dn\ndn.catalog(query='carrier')"])
    page.bring_to_front()  # the clipboard answers a focused page only
    page.evaluate("() => navigator.clipboard.writeText('nothing copied yet')")
    page.locator(".widget-button", has_text="marts.carrier_delays").first.click()
    page.locator(".widget-html", has_text="Punctuality per airline").first.wait_for(timeout=60_000)

    page.locator(".widget-button", has_text="Copy code").first.click()
    # the browser, not the kernel, says whether the copy worked
    page.locator(".widget-output", has_text="Copied to the clipboard").first.wait_for(timeout=30_000)
    assert page.evaluate("() => navigator.clipboard.readText()") == SNIPPET
    assert "Code copied" not in page.locator(".jp-NotebookPanel").filter(visible=True).first.inner_text()

    # a second click copies again, replacing the first confirmation rather than adding to it
    page.evaluate("() => navigator.clipboard.writeText('overwritten')")
    page.locator(".widget-button", has_text="Copy code").first.click()
    assert clipboard_becomes(page, SNIPPET)
    assert page.locator(".widget-output", has_text="Copied to the clipboard").count() == 1


def clipboard_becomes(page, text: str, timeout: float = 30.0) -> bool:
    """Whether the clipboard holds `text` within `timeout` (the copy lands asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate("() => navigator.clipboard.readText()") == text:
            return True
        page.wait_for_timeout(100)
    return False

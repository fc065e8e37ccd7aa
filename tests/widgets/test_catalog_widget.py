"""`dn.catalog()` in a real kernel: type a query, open a page, follow lineage, read the snippet."""

from __future__ import annotations

import json
import re


def test_catalog_widget_searches_and_shows_pages(two_steps, kernel_in):
    two_steps.cli("run", check=0)
    kernel = kernel_in(two_steps.root / "notebooks")
    shown = kernel.run(
        """
        import dataops_nb as dn
        panel = dn.catalog()
        print(sorted(hit["name"] for hit in panel.hits))
        panel.search.value = "doubled"
        print([hit["name"] for hit in panel.hits])
        panel.results.children[0].children[0].click()
        page = panel.page
        print(page.page["name"])
        print("<td style='padding:2px 8px'>j</td>" in page.schema.value, "BIGINT" in page.schema.value)
        print([b.description for b in page.upstream], [b.description for b in page.downstream])
        print(page.code.value.splitlines()[2])
        page.upstream[0].click()
        print(panel.page.page["name"], [b.description for b in panel.page.downstream])
        panel.search.value = "nothing-matches-this"
        print(panel.message.value)
        """
    )
    lines = shown.splitlines()
    assert lines[0] == "['raw.numbers', 'staging.doubled']"
    assert lines[1] == "['staging.doubled']"
    assert lines[2] == "staging.doubled"
    assert lines[3] == "True True"
    assert lines[4] == "['raw.numbers'] []"
    assert lines[5] == 'doubled = dn.read("staging.doubled")'
    assert lines[6] == "raw.numbers ['staging.doubled']"
    assert "No dataset matches" in lines[7]


def test_catalog_widget_masks_pii_in_the_preview(project, kernel_in):
    project.notebook(
        "make", "n = 3",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.people", f"select range as id, 'person' || range || '@example.com' as email from range({n})")
        """,
    )
    project.spec(
        """
        name: people
        steps:
          - name: make
            notebook: notebooks/make.ipynb
        datasets:
          raw.people:
            description: People.
            columns:
              id: {description: Key}
              email: {description: Address, tags: [pii]}
        access:
          roles:
            steward: {read: ["*"], unmask: ["*"]}
            viewer: {read: ["*"]}
          members: {sam: [steward], bob: [viewer]}
        """
    )
    project.cli("run", check=0)
    kernel = kernel_in(project.root / "notebooks")
    shown = kernel.run(
        """
        import os
        import dataops_nb as dn
        os.environ["DATAOPS_USER"] = "bob"
        panel = dn.catalog(query="people")
        panel.show_dataset("raw.people")
        print("person0@example.com" in panel.page.preview.value, "***" in panel.page.preview.value)
        os.environ["DATAOPS_USER"] = "sam"
        panel.show_dataset("raw.people")
        print("person0@example.com" in panel.page.preview.value)
        """
    )
    assert shown.splitlines() == ["False True", "True"]


def test_copy_code_sends_the_snippet_to_the_front_end_and_claims_nothing(two_steps, kernel_in):
    """A button callback has no cell to display into: the copy goes through the page's Output widget."""
    two_steps.cli("run", check=0)
    kernel = kernel_in(two_steps.root / "notebooks")
    shown = kernel.run(
        """
        import json
        import dataops_nb as dn
        panel = dn.catalog()
        panel.show_dataset("staging.doubled")
        page = panel.page
        page.copy_code.click()
        [output] = page.clipboard.outputs
        script = output["data"]["application/javascript"]
        print(json.dumps({
            "type": output["output_type"],
            "snippet": json.dumps(page.code.value) in script,
            "writes": "navigator.clipboard.writeText(text)" in script,
            "plain": output["data"]["text/plain"],
            "message": panel.message.value,
            "shown": page.clipboard in [c for box in page.children if hasattr(box, "children") for c in box.children],
        }))
        page.copy_code.click()
        print(len(page.clipboard.outputs))
        """
    )
    first, again = shown.splitlines()
    result = json.loads(first)
    assert result["type"] == "display_data"
    assert result["snippet"] and result["writes"]  # the script carries the exact snippet to the clipboard
    assert "Ctrl+C" in result["plain"]  # a front end without JavaScript says how to copy by hand
    assert "copied" not in result["message"].lower()  # the kernel cannot know whether the browser copied
    assert result["shown"]  # the Output widget is part of the page, so the front end renders it
    assert again == "1"  # a second click sends the script again, in place of the first


HISTORY_SPEC = """
name: people
steps:
  - {name: make, notebook: notebooks/make.ipynb}
datasets:
  raw.people:
    freshness: {warn_after: 0s, error_after: 30d}
    columns:
      id: {checks: [not_null]}
      email: {tags: [pii]}
      score: {checks: [{range: {min: 0, max: 50, severity: warn}}]}
access:
  roles:
    steward: {read: ["*"], unmask: ["*"]}
    viewer: {read: ["*"]}
  members: {sam: [steward], bob: [viewer]}
"""


def test_catalog_widget_charts_rows_check_outcomes_and_freshness_per_version(project, kernel_in):
    """Three versions: all checks pass, a warn check fails, an error check fails (quarantined). The page
    draws one bar per version (its rows), one square per version coloured by its worst outcome, and the
    age of the newest data against the SLA, in the theme's colours; no value of the data shows."""
    project.notebook("make", "n = 3\nscale = 1\nhole = False", """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.people", f'''
            select case when {hole} and range = 0 then null else range end as id,
                   'person' || range || '@example.com' as email, range * {scale} as score
            from range({n})''')
        """)
    project.spec(HISTORY_SPEC)
    project.cli("run", check=0)  # 3 rows, checks pass
    project.cli("run", "-p", "n=4", "-p", "scale=100", check=0)  # 4 rows, the warn check fails
    project.cli("run", "-p", "n=5", "-p", "hole=True")  # 5 rows, the error check fails
    kernel = kernel_in(project.root / "notebooks")
    shown = kernel.run(
        """
        import json, os
        import dataops_nb as dn
        os.environ["DATAOPS_USER"] = "bob"
        panel = dn.catalog()
        panel.show_dataset("raw.people")
        page = panel.page
        print(json.dumps({"svg": page.history.value, "shown": page.history in page.children,
                          "versions": page.page["versions"]}))
        """
    )
    result = json.loads(shown)
    chart, versions = result["svg"], list(reversed(result["versions"]))
    assert result["shown"]
    assert [v["rows"] for v in versions] == [3, 4, 5]
    assert [v["status"] for v in versions][-1] == "quarantined"

    rows = re.search(r'<svg[^>]*data-testid="dataops-rows-chart".*?</svg>', chart).group(0)
    bars = re.findall(r'<rect [^>]*data-value="([\d.]+)"', rows)
    assert [float(v) for v in bars] == [3.0, 4.0, 5.0]  # one bar per version, oldest first
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', rows)]
    assert heights[0] < heights[1] < heights[2]  # scaled to the rows
    assert "var(--jp-error-color1" in re.findall(r"<rect [^>]*>", rows)[2]  # the quarantined version

    strip = re.search(r'<svg[^>]*data-testid="dataops-checks-strip".*?</svg>', chart).group(0)
    cells = re.findall(r'<rect [^>]*style="([^"]*)"[^>]*data-outcome="(\w+)"', strip)
    assert [outcome for _, outcome in cells] == ["pass", "warn", "error"]
    assert [style.split(";")[0] for style, _ in cells] == [
        "fill:var(--jp-success-color1, #1a7f37)", "fill:var(--jp-warn-color1, #9a6700)",
        "fill:var(--jp-error-color1, #cf222e)"]  # themed by JupyterLab's variables
    assert "1 warn" in strip and "1 error" in strip  # the tooltips count the outcomes

    gauge = re.search(r'<svg[^>]*data-testid="dataops-freshness-chart".*?</svg>', chart).group(0)
    assert 'data-status="warn"' in gauge and 'data-limit="error_after"' in gauge and "30.0 d" in gauge

    assert "@example.com" not in chart and "person" not in chart  # no value of the data, PII or not

"""`dn.catalog()` in a real kernel: type a query, open a page, follow lineage, read the snippet."""

from __future__ import annotations

import json


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

"""Values from data, notebooks, errors and the spec reach the terminal as literal text."""

from __future__ import annotations

MARKUP = "[bold red]ALERT[/] [link=https://x]click[/link]"


def test_markup_in_data_and_errors_is_shown_literally(project):
    project.notebook(
        "make", "n = 1",
        f"""
        import dataops_nb as dn
        dn.step().publish("raw.notes", "select 1 as id, '{MARKUP}' as note, '[/oops]' as other")
        """,
    )
    project.notebook("boom", "n = 1", "raise ValueError('[/oops] [bold]loud[/bold]')")
    project.spec(
        """
        name: markup
        steps:
          - {name: make, notebook: notebooks/make.ipynb}
          - {name: boom, notebook: notebooks/boom.ipynb}
        datasets:
          raw.notes: {description: "[/oops] notes [bold]described[/bold]"}
        """
    )
    project.cli("run", check=1)
    color = {"FORCE_COLOR": "1", "COLUMNS": "200"}  # styles and links would be written, were they parsed
    page = project.cli("catalog", "show", "raw.notes", env=color, check=0).stdout
    assert MARKUP in page and "[/oops]" in page and "[bold]described[/bold]" in page
    assert "\x1b]8;" not in page  # no OSC-8 hyperlink
    assert "\x1b[1;31mALERT" not in page  # header styles are the kit's; nothing in the data is styled
    shown = project.cli("show", env=color, check=0).stdout
    assert "[/oops] [bold]loud[/bold]" in shown and "MarkupError" not in shown

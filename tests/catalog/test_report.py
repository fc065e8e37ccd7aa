"""`dataops-nb report`: a run as one HTML file, read back as a reader would see it."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from dataops_nb.metadata.pii import MASK

from .conftest import SPEC
from .test_access import GUEST


class Page(HTMLParser):
    """The text, the links and the scripts of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.words: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.links += [value for name, value in attrs if tag == "a" and name == "href"]

    def handle_data(self, data):
        self.words.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def report(project, *args, user="bob"):
    out = json.loads(project.cli("report", *args, "--json", env={"DATAOPS_USER": user}, check=0).stdout)
    return out, Path(project.root / out["path"])


def test_report_of_a_run_shows_steps_outputs_checks_and_failing_rows(people):
    people.spec(SPEC.replace("name: people", "name: people\ndescription: \"Sign-ups <script>alert(1)</script>\"", 1))
    people.cli("run", check=0)
    run_id = people.ledger_rows("SELECT max(run_id) FROM runs")[0][0]
    out, path = report(people)
    assert out == {"run_id": run_id, "status": "success", "path": f".dataops/reports/{run_id}.html", "failures": 1}
    page = Page(path.read_text())
    text = page.text
    assert f"Run {run_id} of people" in text
    assert "2 success; 2 dataset version(s) published; 1 open check failure(s), 0 accepted, 0 waived" in text
    assert "people success 1" in text and "summary success 1" in text
    assert "raw.people" in text and "marts.people_by_city" in text
    assert "warn range(score) (1 failing)" in text and "pass not_null(id)" in text
    # the failing row, with PII masked for this reader
    assert "Boston" in text and "31415926" in text  # Barbara Liskov's row: score 55
    assert "Ada Lovelace" not in text and "Barbara Liskov" not in text
    # the executed notebooks are links that open from where the report is
    notebooks = [link for link in page.links if link.endswith(".ipynb")]
    assert sorted(Path(link).name for link in notebooks) == ["people.ipynb", "summary.ipynb"]
    assert all((path.parent / link).is_file() for link in notebooks)
    # a dataset without checks says so; no table is a heading over nothing
    assert "marts.people_by_city" in text and "no checks" in text
    assert all("<td>" in table for table in path.read_text().split("<table>")[1:])
    # what the spec says is text, never markup
    assert page.scripts == 0 and "Sign-ups <script>alert(1)</script>" in text
    # elsewhere, for a CI artifact: links still lead to the notebooks
    out, moved = report(people, run_id, "-o", str(people.root / "artifacts" / "run.html"))
    assert moved == people.root / "artifacts" / "run.html"
    assert all((moved.parent / link).is_file() for link in Page(moved.read_text()).links if link.endswith(".ipynb"))


def test_a_reader_without_read_access_gets_the_report_without_rows(people):
    people.spec(GUEST)
    people.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
    _, path = report(people, user="carol")
    text = Page(path.read_text()).text
    assert "warn range(score) (1 failing)" in text  # how many
    assert "Boston" not in text and "31415926" not in text  # not which


def test_report_bad_input_is_one_sentence(people, tmp_path):
    none_yet = people.cli("report", check=2)
    assert "No runs yet" in none_yet.stderr and "Traceback" not in none_yet.stderr
    people.cli("run", check=0)
    unknown = people.cli("report", "20990101-000000-0000000", check=2)
    assert "Unknown run '20990101-000000-0000000'" in unknown.stderr
    assert not (people.root / ".dataops" / "reports").exists()
    folder = people.cli("report", "-o", str(tmp_path), check=2)
    assert "is a directory" in folder.stderr and "Traceback" not in folder.stderr


def test_the_report_embeds_each_executed_notebook_for_a_reader_who_may_see_it_unmasked(people):
    people.cli("run", check=0)
    # alice may unmask raw.*: both notebooks are embedded, collapsed, their code and output in the file,
    # PII values masked all the same (a report travels: a CI artifact, an email)
    _, path = report(people, user="alice")
    html = path.read_text()
    page = Page(html)
    assert html.count("<details data-notebook=") == 2 and page.scripts == 0
    assert '<details data-notebook="people"><summary>people: people.ipynb</summary><div class="notebook">' in html
    assert "Ada Lovelace" not in html and MASK in page.text  # the people notebook's source, its names masked
    assert "In [" in page.text and "Out[" in page.text  # cells with their prompts, outputs included
    # bob sees full_name masked everywhere, so not the notebooks that show it: a sentence, and the link
    _, path = report(people, user="bob")
    page = Page(path.read_text())
    assert "Ada Lovelace" not in page.text
    assert "people: people.ipynb not embedded for bob: it may show columns masked for them: raw.people (card, email, full_name, phone, ssn)" \
        in page.text
    assert sorted(Path(link).name for link in page.links if link.endswith(".ipynb")) == ["people.ipynb",
                                                                                          "summary.ipynb"]

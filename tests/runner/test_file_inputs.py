"""File inputs: a step that reads a CSV goes stale when the CSV changes, and says so."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO

SPEC = """
name: companies
steps:
  - name: ingest
    notebook: notebooks/ingest.ipynb
    inputs: [data/companies.csv, "data/raw/*.parquet"]
  - name: summary
    notebook: notebooks/summary.ipynb
    needs: [ingest]
"""


def _why(project) -> dict[str, list[str]]:
    return {row["step"]: row["reasons"] for row in json.loads(project.cli("plan", "--json", check=0).stdout)}


@pytest.fixture
def companies(project):
    data = project.root / "data"
    (data / "raw").mkdir(parents=True)
    (data / "companies.csv").write_text("symbol,name\nAAA,Alpha\nBBB,Beta\n")
    project.spec(SPEC)
    project.notebook(
        "ingest",
        "",
        """
        import dataops_nb as dn
        step = dn.step()
        csv = (step.project / "data/companies.csv").as_posix()
        step.publish("raw.companies", f"select * from read_csv('{csv}')")
        """,
    )
    project.notebook(
        "summary",
        "",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("marts.company_count", "select count(*) as n from Raw.Companies")
        """,
    )
    return project


def _current(project, dataset: str) -> pl.DataFrame:
    [(path,)] = project.ledger_rows(
        f"select path from dataset_versions where dataset = '{dataset}' and status = 'current'"
    )
    return pl.read_parquet(project.root / ".dataops" / path)


def _age(path: Path, seconds: int = 60) -> None:
    """As if the file had been written a minute ago (older than the clock's racy window)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 1_000_000_000))


def test_editing_a_declared_file_makes_the_step_and_its_dependents_stale(companies):
    project = companies
    project.cli("run", check=0)
    assert _current(project, "marts.company_count")["n"].to_list() == [2]
    assert _why(project) == {"ingest": [], "summary": []}

    (project.root / "data/companies.csv").write_text("symbol,name\nAAA,Alpha\nBBB,Beta\nCCC,Gamma\n")
    assert _why(project) == {"ingest": ["input file changed: data/companies.csv"],
                             "summary": ["upstream 'ingest' is stale"]}
    text = project.cli("plan", check=0).stdout
    assert "input file changed: data/companies.csv" in text
    project.cli("run", check=0)
    assert _current(project, "marts.company_count")["n"].to_list() == [3]
    assert _why(project) == {"ingest": [], "summary": []}

    # a file that a declared glob now matches is a change too
    pl.DataFrame({"x": [1]}).write_parquet(project.root / "data/raw/extra.parquet")
    assert _why(project)["ingest"] == ["input file added: data/raw/extra.parquet"]
    project.cli("run", check=0)
    (project.root / "data/raw/extra.parquet").unlink()
    assert _why(project)["ingest"] == ["input file missing: data/raw/extra.parquet"]


def test_an_unchanged_file_is_not_read_again(companies):
    project = companies
    csv = project.root / "data/companies.csv"
    _age(csv)
    project.cli("run", check=0)
    cache = json.loads((project.root / ".dataops/cache/files.json").read_text())
    size, mtime, _ = cache["data/companies.csv"]
    assert (size, mtime) == (csv.stat().st_size, csv.stat().st_mtime_ns)
    # same size and mtime, other bytes: a plan that trusts the stat does not see it (it read nothing)
    csv.write_text(csv.read_text().replace("Alpha", "Alpho"))
    os.utime(csv, ns=(mtime, mtime))
    assert _why(project)["ingest"] == []
    # a new mtime is looked at
    _age(csv, 30)
    assert _why(project)["ingest"] == ["input file changed: data/companies.csv"]


def test_file_inputs_are_in_lineage_and_openlineage(companies):
    project = companies
    project.cli("run", check=0)
    lineage = project.cli("lineage", "marts.company_count", "--upstream", check=0).stdout
    assert "data/companies.csv  (file, " in lineage
    assert "raw.companies" in lineage  # the edge from the mixed-case `Raw.Companies` in the SQL
    graph = json.loads(project.cli("lineage", "raw.companies", "--format", "json", check=0).stdout)
    files = [n for n in graph["nodes"] if n["kind"] == "file"]
    assert [f["name"] for f in files] == ["data/companies.csv"]
    assert any(e["source"] == files[0]["id"] and e["target"].startswith("st_") for e in graph["edges"])
    downstream = json.loads(project.cli("lineage", "raw.companies", "--downstream", "--format", "json",
                                        check=0).stdout)
    assert "marts.company_count" in {n["name"] for n in downstream["nodes"]}

    [events_file] = (project.root / ".dataops/openlineage").glob("*.jsonl")
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    [ingest_end] = [e for e in events if e["job"]["name"].endswith("ingest") and e["eventType"] == "COMPLETE"]
    inputs = {(i["namespace"], i["name"]) for i in ingest_end["inputs"]}
    assert ("file://", (project.root / "data/companies.csv").resolve().as_posix()) in inputs


def test_a_declared_file_that_does_not_exist_is_refused_before_the_run(companies):
    project = companies
    (project.root / "data/companies.csv").unlink()
    before = project.snapshot()
    result = project.cli("run")
    assert result.returncode == 2
    assert "step 'ingest' declares input data/companies.csv, which does not exist." in result.stderr
    assert "dataops.yaml:5:" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.snapshot() == before


def test_the_ingest_file_template_declares_the_file_it_reads(project):
    (project.root / "data").mkdir(parents=True)
    (project.root / "data/companies.csv").write_text("symbol\nAAA\n")
    shutil.copy(REPO / "templates" / "ingest_file.ipynb", project.root / "notebooks" / "ingest.ipynb")
    project.spec(
        """
        name: tpl
        steps:
          - name: ingest
            notebook: notebooks/ingest.ipynb
            params: {path: data/companies.csv, dataset: raw.companies}
        """
    )
    project.cli("run", check=0)
    assert _why(project)["ingest"] == []
    (project.root / "data/companies.csv").write_text("symbol\nAAA\nBBB\n")
    assert _why(project)["ingest"] == ["input file changed: data/companies.csv"]
    project.cli("run", check=0)
    assert _current(project, "raw.companies")["symbol"].to_list() == ["AAA", "BBB"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_input_is_versioned_by_its_headers(project, http_dir):
    served, base = http_dir
    (served / "prices.csv").write_text("symbol,price\nAAA,1\n")
    _age(served / "prices.csv")
    project.spec(
        f"""
        name: remote
        steps:
          - name: prices
            notebook: notebooks/prices.ipynb
            inputs: ["{base}/prices.csv"]
        """
    )
    project.notebook(
        "prices",
        "",
        f"""
        import urllib.request
        import polars as pl
        import dataops_nb as dn
        step = dn.step()
        with urllib.request.urlopen("{base}/prices.csv") as response:
            step.publish("raw.prices", pl.read_csv(response.read()))
        """,
    )
    project.cli("run", check=0)
    assert _why(project)["prices"] == []
    (served / "prices.csv").write_text("symbol,price\nAAA,2\nBBB,3\n")
    _age(served / "prices.csv", 10)
    assert _why(project)["prices"] == [f"input URL changed: {base}/prices.csv"]


def test_lint_warns_about_a_project_file_the_step_does_not_declare(companies):
    project = companies
    project.spec(SPEC.replace('    inputs: [data/companies.csv, "data/raw/*.parquet"]\n', ""))
    findings = json.loads(project.cli("lint", "--json").stdout)
    findings = findings.get("findings", findings) if isinstance(findings, dict) else findings
    nb111 = [f for f in findings if f["code"] == "NB111"]
    assert len(nb111) == 1 and nb111[0]["path"] == "notebooks/ingest.ipynb"
    assert "data/companies.csv" in nb111[0]["message"] and "inputs:" in nb111[0]["message"]
    project.spec(SPEC)
    findings = json.loads(project.cli("lint", "--json").stdout)
    findings = findings.get("findings", findings) if isinstance(findings, dict) else findings
    assert not [f for f in findings if f["code"] == "NB111"]


def test_re_ingesting_identical_data_makes_no_new_version_and_leaves_downstream_fresh(companies):
    project = companies
    project.cli("run", check=0)
    [(first,)] = project.ledger_rows("select version_id from dataset_versions where dataset = 'raw.companies'")

    # the file changes (line endings), the data it holds does not
    (project.root / "data/companies.csv").write_text("symbol,name\r\nAAA,Alpha\r\nBBB,Beta\r\n")
    result = project.cli("run", check=0)

    assert (f"step 'ingest' published the same content again, so no new version of: raw.companies (as {first})"
            in result.stdout)
    runs = json.loads(project.cli("runs", "--json", check=0).stdout)
    assert {s["name"]: s["status"] for s in runs[0]["steps"]} == {"ingest": "success", "summary": "fresh"}
    assert project.ledger_rows("select version_id, status from dataset_versions where dataset = 'raw.companies'") == [
        (first, "current")]
    assert len(list((project.root / ".dataops/data/raw.companies").glob("*.parquet"))) == 1
    assert _why(project) == {"ingest": [], "summary": []}

    (project.root / "data/companies.csv").write_text("symbol,name\nAAA,Alpha\nBBB,Beta\nCCC,Gamma\n")
    project.cli("run", check=0)
    assert _current(project, "marts.company_count")["n"].to_list() == [3]

"""Lineage over real runs: ingest -> clean -> report, with an `export` branch off clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from dataops_nb.errors import NotFoundError
from dataops_nb.metadata.lineage import (
    column_lineage,
    dataset_id,
    lineage,
    render,
    step_id,
)
from dataops_nb.project import Project
from tests.conftest import ProjectFactory

SPEC = """
name: lineage
steps:
  - {name: ingest, notebook: notebooks/ingest.ipynb}
  - {name: clean, notebook: notebooks/clean.ipynb, needs: [ingest]}
  - {name: report, notebook: notebooks/report.ipynb, needs: [clean]}
  - {name: export, notebook: notebooks/export.ipynb, needs: [clean]}
datasets:
  raw.flights: {description: Departures.}
  raw.airlines: {description: Carriers.}
"""

FLIGHTS_SQL = (
    "select range as id, ['AA', 'UA', 'DL'][range % 3 + 1] as carrier, "
    "(range * 7) % 60 - 10 as dep_delay from range({n})"
)
AIRLINES_SQL = "select * from (values ('AA', 'American'), ('UA', 'United'), ('DL', 'Delta')) t(carrier, name)"
CLEAN_SQL = "select id, carrier, greatest(dep_delay, 0) as delay from raw.flights where dep_delay is not null"
# a CTE, a join, aggregates, a CASE over an aggregate, and a Python UDF nobody can see into
REPORT_SQL = """
with d as (select carrier, delay from staging.flights)
select a.name as airline, d.carrier, avg(d.delay) as avg_delay, count(*) as flights,
       case when avg(d.delay) > 15 then 'late' else 'ok' end as verdict,
       shout(a.name) as loud
from d join raw.airlines a on a.carrier = d.carrier
group by all
"""


def build(project: ProjectFactory) -> ProjectFactory:
    project.notebook(
        "ingest",
        "n = 30",
        f"""
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.flights", {FLIGHTS_SQL!r}.format(n=n))
        step.publish("raw.airlines", {AIRLINES_SQL!r})
        """,
    )
    project.notebook(
        "clean", "x = 1",
        f"import dataops_nb as dn\ndn.step().publish('staging.flights', {CLEAN_SQL!r})",
    )
    project.notebook(
        "report",
        "y = 1",
        f"""
        import dataops_nb as dn
        step = dn.step()
        step.con.create_function("shout", lambda s: s.upper() + "!", ["VARCHAR"], "VARCHAR")
        step.publish("marts.delays", {REPORT_SQL!r})
        """,
    )
    project.notebook(
        "export",
        "z = 1",
        """
        import polars as pl
        import dataops_nb as dn
        step = dn.step()
        step.publish("marts.export", step.read("staging.flights").filter(pl.col("delay") > 0))
        """,
    )
    project.spec(SPEC)
    return project


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> ProjectFactory:
    project = build(ProjectFactory(tmp_path_factory.mktemp("lineage") / "proj"))
    project.cli("run", check=0)
    return project


def sql_by_dataset(dataset: str) -> str | None:
    """The SQL each version was published from, as the runtime will record it."""
    return {
        "raw.flights": FLIGHTS_SQL.format(n=30),
        "raw.airlines": AIRLINES_SQL,
        "staging.flights": CLEAN_SQL,
        "marts.delays": REPORT_SQL,
    }.get(dataset)


def test_upstream_and_downstream_with_depth(pipeline: ProjectFactory) -> None:
    project = Project(pipeline.root)

    up = lineage(project, "marts.delays", direction="upstream")
    assert up.datasets == {"marts.delays", "staging.flights", "raw.airlines", "raw.flights"}
    assert up.steps == {"report", "clean", "ingest"}
    assert up.dataset_edges() == {
        ("staging.flights", "report", "marts.delays"),
        ("raw.airlines", "report", "marts.delays"),
        ("raw.flights", "clean", "staging.flights"),
    }
    one = lineage(project, "marts.delays", direction="upstream", depth=1)
    assert one.datasets == {"marts.delays", "staging.flights", "raw.airlines"}
    assert one.steps == {"report"}
    assert lineage(project, "marts.delays", direction="downstream").datasets == {"marts.delays"}

    # the branch: clean's output feeds both report and export
    down = lineage(project, "raw.flights", direction="downstream")
    assert down.datasets == {"raw.flights", "staging.flights", "marts.delays", "marts.export"}
    assert "raw.airlines" not in down.datasets  # a sibling input is not downstream
    assert lineage(project, "raw.flights", direction="downstream", depth=1).datasets == {
        "raw.flights", "staging.flights"
    }
    both = lineage(project, "staging.flights", depth=1)
    assert both.datasets == {"raw.flights", "staging.flights", "marts.delays", "marts.export"}
    assert both.steps == {"clean", "report", "export"}
    assert lineage(project, "staging.flights", depth=0).datasets == {"staging.flights"}

    # each dataset names the version, step, run and executed notebook behind it
    node = up.dataset("marts.delays")
    (run_id,) = pipeline.ledger_rows("select run_id from runs")[0]
    assert (node.version, node.step, node.run_id, node.status, node.rows) == (
        f"marts.delays@{run_id}", "report", run_id, "current", 3
    )
    assert node.notebook == f".dataops/runs/{run_id}/report.ipynb"
    assert (pipeline.root / node.notebook).is_file()

    with pytest.raises(NotFoundError, match="marts.delay'.*did you mean 'marts.delays'"):
        lineage(project, "marts.delay")


def test_renderers(pipeline: ProjectFactory) -> None:
    project = Project(pipeline.root)
    graph = lineage(project, "staging.flights")
    (run_id,) = pipeline.ledger_rows("select run_id from runs")[0]

    mermaid = render(graph, "mermaid")
    assert mermaid.startswith("graph LR\n")
    assert '    ds_staging_2eflights[("staging.flights")]' in mermaid
    assert '    st_clean(["clean"])' in mermaid
    for edge in ("ds_raw_2eflights --> st_clean", "st_clean --> ds_staging_2eflights",
                 "ds_staging_2eflights --> st_report", "st_report --> ds_marts_2edelays",
                 "ds_staging_2eflights --> st_export", "st_export --> ds_marts_2eexport",
                 "st_ingest --> ds_raw_2eflights"):
        assert f"    {edge}\n" in mermaid
    assert "raw.airlines" not in mermaid  # another input of report is not staging.flights' lineage
    ids = re.findall(r"^    (\S+) -\.?-> (\S+)$", mermaid, re.M)
    assert ids and all(re.fullmatch(r"[a-z0-9_]+", i) for pair in ids for i in pair)

    dot = render(graph, "dot")
    assert dot.startswith("digraph lineage {")
    assert 'ds_staging_2eflights [label="staging.flights", shape=cylinder, penwidth=3];' in dot
    assert "    ds_raw_2eflights -> st_clean;" in dot
    assert "    st_export -> ds_marts_2eexport;" in dot
    assert dot.rstrip().endswith("}")

    text = render(graph, "text")
    assert text.startswith(f"upstream:\nstaging.flights  (staging.flights@{run_id}, 30 rows)\n")
    assert f"└── clean  (step, run {run_id}, .dataops/runs/{run_id}/clean.ipynb)" in text
    assert f"    └── raw.flights  (raw.flights@{run_id}, 30 rows)" in text
    assert "downstream:" in text and "├── export" in text and "└── report" in text
    assert "marts.export" in text and "marts.delays" in text

    data = json.loads(render(graph, "json"))
    assert data["dataset"] == "staging.flights" and data["direction"] == "both"
    assert {n["name"] for n in data["nodes"] if n["kind"] == "dataset"} == graph.datasets
    assert {"source": "ds_raw_2eflights", "target": "st_clean", "version": f"raw.flights@{run_id}",
            "stale": False} in data["edges"]

    with pytest.raises(NotFoundError, match="lineage format 'svg'"):
        render(graph, "svg")


def test_ids_are_injective_and_safe() -> None:
    names = ["a_.b", "a.__b", "a__.b", "a._b", "raw.flights"]
    assert len({dataset_id(n) for n in names}) == len(names)
    assert step_id("Load-Data") != step_id("load_data")
    assert all(re.fullmatch(r"[a-z0-9_]+", i) for i in [*map(dataset_id, names), step_id("Load-Data")])


def test_column_lineage_of_the_sql_the_steps_ran(pipeline: ProjectFactory) -> None:
    project = Project(pipeline.root)
    schemas = {ds: [c["name"] for c in v.schema] for ds, v in project.ledger.current_versions().items()}

    report = column_lineage(REPORT_SQL, schemas)
    assert report == {
        "airline": [("raw.airlines", "name")],
        "carrier": [("staging.flights", "carrier")],
        "avg_delay": [("staging.flights", "delay")],
        "flights": [],  # count(*): from no dataset column
        "verdict": [("staging.flights", "delay")],
    }
    # every other column of the published version is there; the UDF's is left out, not guessed
    assert set(schemas["marts.delays"]) - set(report) == {"loud"}

    assert column_lineage(CLEAN_SQL, schemas) == {
        "id": [("raw.flights", "id")],
        "carrier": [("raw.flights", "carrier")],
        "delay": [("raw.flights", "dep_delay")],
    }
    # select * expands only when the columns are known; table functions are no dataset
    assert column_lineage("select * from raw.airlines", schemas) == {
        "carrier": [("raw.airlines", "carrier")], "name": [("raw.airlines", "name")]
    }
    assert column_lineage("select * from raw.airlines", {}) == {}
    assert column_lineage(FLIGHTS_SQL.format(n=3), schemas) == {}
    # an unqualified column of a join resolves with schemas and is omitted without them
    join = ("select name, f.carrier as c, coalesce(f.delay, 0) + 1 as d1 "
            "from staging.flights f join raw.airlines a on a.carrier = f.carrier")
    assert column_lineage(join, schemas) == {
        "name": [("raw.airlines", "name")], "c": [("staging.flights", "carrier")],
        "d1": [("staging.flights", "delay")],
    }
    assert column_lineage(join, {}) == {
        "c": [("staging.flights", "carrier")], "d1": [("staging.flights", "delay")]
    }
    # a UNION maps by position; nested subqueries and the SQL DuckDB generates for a relation
    assert column_lineage("select carrier from raw.airlines union all select carrier from staging.flights",
                          schemas) == {"carrier": [("raw.airlines", "carrier"), ("staging.flights", "carrier")]}
    con = duckdb.connect()
    relation = con.sql("select 1 as carrier, 2 as delay").filter("delay > 0").aggregate(
        "carrier, sum(delay) as total", "carrier")
    generated = relation.sql_query().replace("select 1 as carrier, 2 as delay",
                                             "select carrier, delay from staging.flights")
    assert column_lineage(generated, schemas) == {
        "carrier": [("staging.flights", "carrier")], "total": [("staging.flights", "delay")]
    }
    # not a query, or not SQL at all: nothing
    assert column_lineage("insert into raw.t values (1)", schemas) == {}
    assert column_lineage("select from where (", schemas) == {}


def test_column_lineage_in_the_graph(pipeline: ProjectFactory) -> None:
    project = Project(pipeline.root)
    graph = lineage(project, "marts.delays", direction="upstream",
                    sql_for=lambda version: sql_by_dataset(version.dataset))
    columns = dict(graph.dataset("marts.delays").columns or ())
    assert columns["airline"] == (("raw.airlines", "name"),)
    assert "loud" not in columns
    assert dict(graph.dataset("staging.flights").columns or ())["delay"] == (("raw.flights", "dep_delay"),)
    text = render(graph, "text")
    assert "columns:\n" in text
    assert "  airline    <- raw.airlines.name\n" in text
    assert "  flights    <- (no dataset column)\n" in text
    payload = json.loads(render(graph, "json"))
    delays = next(n for n in payload["nodes"] if n["name"] == "marts.delays")
    assert delays["columns"]["avg_delay"] == [{"dataset": "staging.flights", "column": "delay"}]

    # a dataframe publish has no SQL: no column lineage is invented for it
    export = lineage(project, "marts.export", direction="upstream")
    assert export.dataset("marts.export").columns is None


def test_a_step_that_read_an_older_version_shows_as_stale(tmp_path: Path) -> None:
    project = build(ProjectFactory(tmp_path / "proj"))
    project.cli("run", check=0)
    project.cli("run", "--only", "ingest", "-p", "n=12", check=0)
    [(first,), (second,)] = project.ledger_rows("select run_id from runs order by run_id")

    graph = lineage(Project(project.root), "staging.flights", direction="upstream")
    edge = next(e for e in graph.edges if e.source == dataset_id("raw.flights"))
    assert (edge.version, edge.stale) == (f"raw.flights@{first}", True)
    assert graph.dataset("raw.flights").version == f"raw.flights@{second}"
    assert "    ds_raw_2eflights -.-> st_clean\n" in render(graph, "mermaid")
    assert "    ds_raw_2eflights -> st_clean [style=dashed];" in render(graph, "dot")
    assert f"└── clean  (step, run {first}, .dataops/runs/{first}/clean.ipynb)" in render(graph, "text")
    assert f"[read raw.flights@{first}, not the version in effect]" in render(graph, "text")


KEPT_SPEC = """
name: kept
environments:
  dev: {base: prod}
steps:
  - {name: ingest, notebook: notebooks/ingest.ipynb}
  - {name: mart, notebook: notebooks/mart.ipynb, needs: [ingest]}
"""


def test_a_kept_unchanged_mart_is_derived_from_the_input_it_was_rebuilt_from(tmp_path: Path) -> None:
    """The mart publishes the same bytes from a new version of its input: it keeps its version, and
    lineage and the catalog say it was built from the input version of that run."""
    project = ProjectFactory(tmp_path / "proj")
    project.notebook("ingest", "price = 1", "import dataops_nb as dn\nstep = dn.step()\nstep.publish('raw.prices', "
                     "f\"select range as id, 'S' || (range % 3) as symbol, {price} as price from range(30)\")")
    project.notebook("mart", "x = 1", "import dataops_nb as dn\nstep = dn.step()\n"
                     "step.publish('marts.symbols', 'select distinct symbol from raw.prices order by symbol')")
    project.spec(KEPT_SPEC)
    project.cli("run", check=0)
    again = project.cli("run", "-p", "ingest.price=2", check=0)
    [(first,), (second,)] = project.ledger_rows("select run_id from runs order by run_id")
    assert f"no new version of: marts.symbols (as marts.symbols@{first})" in again.stdout

    def seen(*env: str) -> tuple[dict, dict, str]:
        graph = json.loads(project.cli("lineage", "marts.symbols", "--json", *env, check=0).stdout)
        page = json.loads(project.cli("catalog", "show", "marts.symbols", "--json", *env, check=0).stdout)
        text = project.cli("lineage", "marts.symbols", *env, check=0).stdout
        edge = next(e for e in graph["edges"] if e["source"] == dataset_id("raw.prices"))
        return edge, page, text

    edge, page, text = seen()
    assert page["current_version"]["version"] == f"marts.symbols@{first}"  # kept, not re-made
    assert (edge["version"], edge["stale"]) == (f"raw.prices@{second}", False)
    assert page["upstream"] == [{"dataset": "raw.prices", "version": f"raw.prices@{second}", "status": "current"}]
    assert "not the version in effect" not in text and f"raw.prices  (raw.prices@{second}, 30 rows)" in text

    # a run in dev re-derives prod's kept mart from dev's input: dev sees that, prod does not
    project.cli("run", "--env", "dev", "-p", "ingest.price=3", check=0)
    [(third,)] = project.ledger_rows(f"select run_id from runs where run_id > '{second}'")
    edge, page, _ = seen("--env", "dev")
    assert (edge["version"], edge["stale"]) == (f"raw.prices@{third}", False)
    assert page["current_version"]["version"] == f"marts.symbols@{first}"
    edge, page, _ = seen()
    assert (edge["version"], edge["stale"]) == (f"raw.prices@{second}", False)
    assert page["upstream"][0]["version"] == f"raw.prices@{second}"

"""Catalog search through the real CLI: ranking, filters, JSON shape, bad queries."""

from __future__ import annotations

import json

import pytest

# the same search tests on the SQLite ledger (FTS5) and on a PostgreSQL one (tsvector)
pytestmark = pytest.mark.usefixtures("ledger_backend")

SPEC = """
name: searchable
steps: []
datasets:
  staging.flights:
    description: One row per scheduled departure from the city's airports.
    owner: data-eng
    tags: [core, aviation]
    columns:
      flight_id: {description: Surrogate key}
      passenger_email: {description: Who booked, tags: [pii]}
  staging.flights_daily:
    description: Departures rolled up per day.
    owner: analytics
  marts.delays:
    description: Average delay per carrier and month, with the tailnum of the worst plane.
    owner: analytics
    tags: [gold]
  raw.planes:
    description: Aircraft registry with manufacturer and year built.
    owner: data-eng
    columns:
      tailnum: {description: Registration mark}
  raw.weather:
    description: Hourly weather observations at each airport.
    owner: data-eng
    columns:
      visibility: {description: "Miles, as reported next to the tailnum list"}
  ref.airlines:
    description: Carrier codes and airline names.
    owner: ref-data
  ref.airports:
    description: Airport codes, names and time zones.
    owner: ref-data
"""


@pytest.fixture
def catalog(project):
    project.spec(SPEC)
    return project


def search(project, *query):
    result = project.cli("catalog", "search", *query, "--json", check=0)
    return json.loads(result.stdout)


def names(project, *query):
    return [row["name"] for row in search(project, *query)]


def test_exact_then_prefix_name_matches_rank_first(catalog):
    found = names(catalog, "flights")
    # exact table name, then the name that starts with it, then the rest by bm25
    assert found[:2] == ["staging.flights", "staging.flights_daily"]
    assert names(catalog, "staging.flights")[0] == "staging.flights"
    assert names(catalog, "ref.air")[:2] == ["ref.airlines", "ref.airports"]
    prefix = names(catalog, "stag")
    assert prefix[:2] == ["staging.flights", "staging.flights_daily"]


def test_bm25_weighs_description_over_columns(catalog):
    # 'tailnum' is in marts.delays' description, raw.planes' column name and raw.weather's
    # column description: description beats column name beats column description
    assert names(catalog, "tailnum") == ["marts.delays", "raw.planes", "raw.weather"]
    # every term must match; a term is a prefix
    assert names(catalog, "hourly airp") == ["raw.weather"]
    assert names(catalog, "registration") == ["raw.planes"]


def test_filters(catalog):
    assert names(catalog, "tag:core") == ["staging.flights"]
    assert names(catalog, "owner:analytics") == ["marts.delays", "staging.flights_daily"]
    assert names(catalog, "pii:yes") == ["staging.flights"]
    assert "staging.flights" not in names(catalog, "pii:no")
    assert names(catalog, "departure", "owner:analytics") == ["staging.flights_daily"]  # a prefix of 'departures'
    assert names(catalog, "departure", "owner:data-eng") == ["staging.flights"]
    assert names(catalog, "tag:gold", "delay") == ["marts.delays"]
    assert names(catalog, "airport", "owner:ref-data", "tag:gold") == []


def test_json_shape_best_first(catalog):
    rows = search(catalog, "flights")
    assert all(set(row) == {"name", "description", "owner", "tags", "score", "published_by"} for row in rows)
    first = rows[0]
    assert first["description"] == "One row per scheduled departure from the city's airports."
    assert first["owner"] == "data-eng" and first["tags"] == ["core", "aviation"]
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_empty_result_and_human_output(catalog):
    assert search(catalog, "zzzzunknown") == []
    nothing = catalog.cli("catalog", "search", "zzzzunknown", check=0)
    assert nothing.stdout.strip() == "No datasets match."
    table = catalog.cli("catalog", "search", "tag:core", check=0)
    assert "staging.flights" in table.stdout and "data-eng" in table.stdout


@pytest.mark.parametrize(
    "query, message",
    [
        ("colour:red", "Unknown search filter 'colour:' (use tag:NAME, owner:NAME or pii:yes|no)."),
        ("pii:maybe", "The search filter 'pii:maybe' takes yes or no."),
        ("tag:", "The search filter 'tag:' needs a value, as in tag:core."),
    ],
)
def test_malformed_filter_is_bad_input(catalog, query, message):
    result = catalog.cli("catalog", "search", query)
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: {message}"
    assert result.stdout == ""


def test_spec_edits_reach_the_index(catalog):
    assert names(catalog, "zeppelin") == []
    catalog.spec(SPEC + "  raw.zeppelins:\n    description: Airships.\n    owner: history\n")
    assert names(catalog, "zeppelin") == ["raw.zeppelins"]
    catalog.spec(SPEC)
    assert names(catalog, "zeppelin") == []


def test_a_kept_handle_answers_from_memory_only_while_nobody_changed_the_catalog(catalog):
    """The server keeps one ledger handle and its answers; a write from elsewhere (a run, another
    machine) is seen by its searches (on PostgreSQL once the handle hears the commit's NOTIFY)."""
    import time

    from dataops_nb.project import Project
    from dataops_nb.service import catalog_search

    def names_once(predicate):
        deadline = time.monotonic() + 30
        while True:
            found = [hit["name"] for hit in catalog_search(server, "tailnum")]
            if predicate(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    catalog.cli("catalog", "search", "x", check=0)  # the ledger holds the spec's datasets
    server = Project(catalog.root)
    first = catalog_search(server, "tailnum")
    tags = list(first[0]["tags"])
    first[0]["tags"].append("changed by the caller")  # the caller's copy: the kept answer is its own
    assert catalog_search(server, "tailnum") == [{**first[0], "tags": tags}, *first[1:]]

    elsewhere = Project(catalog.root).writable_ledger()
    with elsewhere.transaction():
        elsewhere.catalog.write_dataset_meta("raw.tails", description="Every tailnum ever seen.", owner="ops")
        elsewhere.catalog.reindex("raw.tails")
    assert "raw.tails" in names_once(lambda found: "raw.tails" in found)
    with elsewhere.transaction():
        elsewhere.catalog.drop_dataset("raw.tails")
    assert names_once(lambda found: "raw.tails" not in found) == [hit["name"] for hit in first]

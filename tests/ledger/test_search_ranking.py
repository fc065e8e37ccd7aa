"""Catalog search through the ledger on both backends: the text tier's order when many datasets
match, filters whose words also occur in other datasets' text, and the limit."""

from __future__ import annotations

from dataops_nb.ledger import reindex_dataset, write_dataset_meta
from dataops_nb.ledger.search import search


def add(ledger, name, description="", *, owner=None, tags=(), columns=None):
    with ledger.transaction() as con:
        write_dataset_meta(con, name, description=description, owner=owner, tags=list(tags), columns=columns or {},
                           in_spec=True)
        reindex_dataset(con, name)


def names(ledger, query, limit=20):
    return [hit["name"] for hit in search(ledger.db, query, limit=limit)]


def test_a_word_in_the_name_ranks_before_the_same_word_elsewhere(ledger):
    add(ledger, "raw.orders", "Everything sold.")
    add(ledger, "raw.ledger", "Invoices and refunds of every order, order by order.", columns={"order_id": {}})
    add(ledger, "marts.customers", "Who placed an order.")
    add(ledger, "raw.unrelated", "Weather.")
    found = search(ledger.db, "order")
    assert [hit["name"] for hit in found] == ["raw.orders", "raw.ledger", "marts.customers"]
    scores = [hit["score"] for hit in found]
    assert scores == sorted(scores, reverse=True)


def test_more_name_hits_than_the_limit_fill_it_best_first(ledger):
    for i in range(8):
        add(ledger, f"sales.flight_{i:02d}", "Flights." if i % 2 else "Flights, flights and flights.")
    add(ledger, "raw.planes", "Every flight's plane.")
    found = names(ledger, "flight", limit=5)
    assert len(found) == 5 and all(name.startswith("sales.flight_") for name in found)
    assert "raw.planes" in names(ledger, "flight", limit=9)


def test_filters_with_text_keep_only_what_the_filter_names(ledger):
    add(ledger, "raw.gold_prices", "Gold prices per day, owned by finance.", owner="data-eng")
    add(ledger, "marts.prices", "Prices, reviewed.", owner="finance", tags=["gold"])
    add(ledger, "raw.prices_eu", "European prices.", owner="ref-data",
        columns={"email": {"tags": ["pii"]}})
    add(ledger, "raw.pii_notes", "Prices; mentions pii but holds none.", owner="ref-data")
    assert names(ledger, "prices tag:gold") == ["marts.prices"]  # 'gold' in another's name and text
    assert names(ledger, "prices owner:finance") == ["marts.prices"]  # 'finance' in another's text
    assert sorted(names(ledger, "prices owner:finance owner:ref-data")) == [
        "marts.prices", "raw.pii_notes", "raw.prices_eu"]
    assert names(ledger, "prices pii:yes") == ["raw.prices_eu"]  # 'pii' in another's text
    assert "raw.prices_eu" not in names(ledger, "prices pii:no")
    assert names(ledger, "owner:ref-data") == ["raw.pii_notes", "raw.prices_eu"]


def test_a_forgotten_dataset_is_not_found_by_name_or_text(ledger):
    add(ledger, "raw.kept", "Weather stations.")
    add(ledger, "raw.weather", "Weather stations.")
    ledger.catalog.forget("raw.weather", "2026-12-02T12:00:00Z")
    assert names(ledger, "weather") == ["raw.kept"]
    assert names(ledger, "raw.weather") == []

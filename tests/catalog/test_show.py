"""The dataset page through the real CLI after real runs."""

from __future__ import annotations

import pytest

from .conftest import cli_json


@pytest.mark.usefixtures("ledger_backend")  # on SQLite and on PostgreSQL
def test_dataset_page(people):
    people.cli("run", check=0)
    people.cli("run", "-p", "bump=1", "--force", check=0)  # a second version of both datasets (--force: the mart too)
    runs = [r["run_id"] for r in cli_json(people, "runs")]
    first, second = runs[1], runs[0]

    page = cli_json(people, "catalog", "show", "raw.people", user="bob")
    assert page["name"] == "raw.people"
    assert page["description"] == "Customers who signed up, one row per person."
    assert page["owner"] == "growth" and page["tags"] == ["customers", "core"]

    columns = {c["name"]: c for c in page["columns"]}
    assert columns["id"]["description"] == "Surrogate key"
    assert {c: columns[c]["type"] for c in ("id", "email", "score", "signed_up")} == {
        "id": "BIGINT", "email": "VARCHAR", "score": "BIGINT", "signed_up": "DATE"}
    assert columns["score"]["profile"]["max"] == 56  # the current version's profile (55 + bump)
    assert columns["full_name"]["pii"] and columns["full_name"]["masked"]

    current = page["current_version"]
    assert current["version"] == f"raw.people@{second}" and current["status"] == "current"
    assert current["rows"] == 6 and current["step"] == "people" and current["bytes"] > 0
    assert [(v["version"], v["status"]) for v in page["versions"]] == [
        (f"raw.people@{second}", "current"), (f"raw.people@{first}", "superseded")]

    fresh = page["freshness"]
    assert fresh["status"] == "ok" and fresh["measured_by"] == "max(signed_up)"
    assert fresh["sla"] == {"column": "signed_up", "warn_after": 172800.0, "error_after": 2592000.0}
    assert 0 <= fresh["age_s"] < 86400 + 60

    quality = page["quality"]
    assert quality["status"] == "warn"
    statuses = {c["check"]: c["status"] for c in quality["checks"]}
    assert statuses["not_null(id)"] == "pass" and statuses["range(score)"] == "warn"

    assert page["upstream"] == []
    assert page["downstream"] == [
        {"dataset": "marts.people_by_city", "version": f"marts.people_by_city@{second}", "status": "current"}]

    notebook = page["notebook"]
    assert notebook["run_id"] == second and notebook["step"] == "people" and notebook["exists"]
    assert notebook["path"] == f".dataops/runs/{second}/people.ipynb"
    assert (people.root / notebook["path"]).is_file()

    mart = cli_json(people, "catalog", "show", "marts.people_by_city", user="bob")
    assert mart["upstream"] == [{"dataset": "raw.people", "version": f"raw.people@{second}", "status": "current"}]
    assert mart["downstream"] == []
    assert mart["freshness"]["status"] == "error" and mart["freshness"]["measured_by"] == "publish time"
    assert mart["quality"] == {"status": None, "checks": [], "accepted": 0, "waived": 0}
    assert mart["preview"]["rows"][0] == {"city": "Boston", "people": 1}
    assert [c["name"] for c in mart["columns"]] == ["city", "people"]


def test_human_page(people):
    people.cli("run", check=0)
    text = people.cli("catalog", "show", "raw.people", env={"DATAOPS_USER": "bob"}, check=0).stdout
    assert "raw.people  owner growth  tags customers, core" in text
    assert "Customers who signed up, one row per person." in text
    assert "freshness ok" in text and "quality warn" in text and "range(score): warn" in text
    assert "downstream marts.people_by_city" in text
    assert "auto email 1.0" in text
    assert "preview (masked for bob: card, email, full_name, phone, ssn):" in text
    assert "Ada Lovelace" not in text


def test_declared_but_never_published(people):
    page = cli_json(people, "catalog", "show", "marts.people_by_city")
    assert page["description"] == "Sign-ups per city." and page["current_version"] is None
    assert page["versions"] == [] and page["preview"]["rows"] == [] and page["freshness"]["status"] == "no data"


def test_unknown_dataset_is_bad_input(people):
    people.cli("run", "--only", "people", check=0)
    result = people.cli("catalog", "show", "raw.peopel")
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: Unknown dataset 'raw.peopel' (did you mean 'raw.people'?)."
    assert people.cli("catalog", "show", "people").stderr.strip() == (
        "Error: Unknown dataset 'people' (did you mean 'raw.people'?).")

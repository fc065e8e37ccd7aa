"""Profiles computed at publish, PII flagged by the classifier, masking by role."""

from __future__ import annotations

import datetime as dt

from dataops_nb.security import MASK

from .conftest import cli_json


def test_profile_matches_hand_computed_values(people):
    people.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
    page = cli_json(people, "catalog", "show", "raw.people", user="alice")
    columns = {c["name"]: c for c in page["columns"]}
    assert list(columns) == ["id", "full_name", "email", "phone", "card", "ssn", "city", "code", "score", "signed_up"]
    assert columns["id"]["type"] == "BIGINT"
    assert columns["id"]["profile"] == {"null_count": 0, "approx_distinct": 6, "min": 1, "max": 6}
    # score: 10, 20, null, 40, 55, 20
    assert columns["score"]["profile"] == {"null_count": 1, "approx_distinct": 4, "min": 10, "max": 55}
    today = dt.date.today()
    assert columns["signed_up"]["type"] == "DATE"
    assert columns["signed_up"]["profile"]["min"] == (today - dt.timedelta(days=5)).isoformat()
    assert columns["signed_up"]["profile"]["max"] == today.isoformat()
    # strings: nulls and distinct values, no min/max
    assert columns["email"]["profile"] == {"null_count": 1, "approx_distinct": 5, "min": None, "max": None}
    assert columns["city"]["profile"]["approx_distinct"] == 5
    # the profile is kept per version in the ledger
    (count,) = people.ledger_rows("select count(*) from column_profiles where version_id like 'raw.people@%'")[0]
    assert count == 10


def test_classifier_flags_pii_columns_with_confidence(people):
    people.cli("run", check=0)
    page = cli_json(people, "catalog", "show", "raw.people", user="bob")
    tags = {c["name"]: c["tags"] for c in page["columns"]}
    auto = {name: [t for t in found if t["source"] == "auto"] for name, found in tags.items()}
    assert auto["email"] == [{"tag": "pii", "source": "auto", "kind": "email", "confidence": 1.0}]
    assert auto["phone"] == [{"tag": "pii", "source": "auto", "kind": "phone", "confidence": 1.0}]
    assert auto["card"] == [{"tag": "pii", "source": "auto", "kind": "card_number", "confidence": 1.0}]
    assert auto["ssn"] == [{"tag": "pii", "source": "auto", "kind": "national_id", "confidence": 1.0}]
    for plain in ("id", "city", "code", "score", "signed_up", "full_name"):
        assert auto[plain] == [], plain
    # the spec's own tag stays, with its source
    assert tags["full_name"] == [{"tag": "pii", "source": "spec", "kind": None, "confidence": None}]
    # an auto-flagged dataset is found by pii:yes even though its spec tags nothing but full_name;
    # the summary has no PII at all
    found = [r["name"] for r in cli_json(people, "catalog", "search", "pii:yes")]
    assert found == ["raw.people"]
    assert [r["name"] for r in cli_json(people, "catalog", "search", "pii:no")] == ["marts.people_by_city"]


def test_preview_masked_unless_the_role_unmasks(people):
    people.cli("run", check=0)
    masked = {"full_name", "email", "phone", "card", "ssn"}
    bob = cli_json(people, "catalog", "show", "raw.people", user="bob")
    assert set(bob["preview"]["masked_columns"]) == masked and bob["preview"]["may_unmask"] is False
    rows = bob["preview"]["rows"]
    assert len(rows) == 6
    for row in rows:
        for column in masked:
            assert row[column] in (MASK, None)
        assert row["city"] != MASK and row["code"] != MASK
    assert rows[5]["email"] is None  # a null stays null
    assert "ada@example.com" not in people.cli("catalog", "show", "raw.people", "--json",
                                               env={"DATAOPS_USER": "bob"}, check=0).stdout
    assert "Ada Lovelace" not in people.cli("catalog", "show", "raw.people", env={"DATAOPS_USER": "bob"}, check=0).stdout

    alice = cli_json(people, "catalog", "show", "raw.people", user="alice")
    assert alice["preview"]["masked_columns"] == [] and alice["preview"]["may_unmask"] is True
    assert alice["preview"]["rows"][0]["email"] == "ada@example.com"
    assert alice["preview"]["rows"][0]["full_name"] == "Ada Lovelace"
    # someone with no membership at all sees no rows (access names members: roles decide)
    nobody = cli_json(people, "catalog", "show", "raw.people", user="mallory")
    assert nobody["preview"]["rows"] == [] and "mallory may not read raw.people" in nobody["preview"]["notice"]


def test_review_samples_use_the_same_policy(people):
    # the warn-severity range check fails on score 55: its failing row is the sample
    people.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
    for user, visible in (("bob", False), ("alice", True)):
        items = cli_json(people, "review", user=user)
        [failure] = [f for f in items["failures"] if f["check"] == "range(score)"]
        [row] = failure["sample"]
        assert row["score"] == 55 and row["city"] == "Boston"
        if visible:
            assert row["email"] == "barbara@mit.edu" and row["full_name"] == "Barbara Liskov"
        else:
            assert {row[c] for c in ("email", "full_name", "phone", "card", "ssn")} == {MASK}


def test_a_run_by_a_user_without_unmask_stores_masked_samples(people):
    people.cli("run", env={"DATAOPS_USER": "bob"}, check=0)
    import json

    [(sample,)] = people.ledger_rows("select sample from check_results where check_name = 'range(score)'")
    [row] = json.loads(sample)
    assert row["email"] == MASK and row["card"] == MASK and row["full_name"] == MASK and row["city"] == "Boston"
    # even a steward cannot get back what was never stored
    items = cli_json(people, "review", user="alice")
    [failure] = [f for f in items["failures"] if f["check"] == "range(score)"]
    assert failure["sample"][0]["email"] == MASK

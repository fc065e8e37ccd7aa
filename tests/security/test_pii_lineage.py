"""PII follows the data (issue point 6): along column lineage into derived datasets, into the
failing-row samples of custom SQL checks, and past the classifier's patterns (Luhn card
numbers stored as integers, numeric identifiers). Real kernels, real files, real server;
the assertions are on the bytes printed, stored and served."""

from __future__ import annotations

import json

import pytest

from dataops_nb.metadata.pii import classify_values, kind_of
from dataops_nb.security import MASK

from ..pii_project import pii_project, pii_spec
from .forms import leaks

SPEC = pii_spec("lineage-pii", [
    "{name: customers, notebook: notebooks/customers.ipynb}",
    "{name: contacts, notebook: notebooks/contacts.ipynb, needs: [customers]}",
    "{name: frame, notebook: notebooks/frame.ipynb, needs: [customers]}",
], """
  raw.customers:
    columns:
      id: {type: BIGINT}
      full_name: {tags: [pii]}
      ssn: {tags: [pii]}
      score: {type: BIGINT}
    checks:
      - sql: {query: "select ssn as ref, id from {this} where score > 50", severity: warn}
  marts.contacts:
    columns:
      id: {type: BIGINT}
      who: {description: Who to contact}
      ssn_tail: {type: VARCHAR}
    checks:
      - sql: {query: "select who as w, (select max(ssn_tail) from {this}) as top, id from {this} where id = 1", severity: warn}
""", steward_reviews=True)

CUSTOMERS = """
import polars as pl
import dataops_nb as dn
dn.step().publish("raw.customers", pl.DataFrame({
    "id": [1, 2, 3],
    "full_name": ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
    "ssn": ["123-45-6789", "219-09-9999", "078-05-1120"],
    "card_no": [4111111111111111, 5500000000000004, 4012888888881881],
    "city": ["London", "London", "New York"],
    "score": [10, 60, 70],
}))
"""
# copies and renames PII columns in SQL; the ssn column is derived, not copied
CONTACTS = """
import dataops_nb as dn
dn.step().publish("marts.contacts",
    "select id, full_name as who, card_no as card, right(ssn, 4) as ssn_tail, city from raw.customers")
"""
# a dataframe step: no SQL to follow, the column keeps its name
FRAME = """
import dataops_nb as dn
frame = dn.read("raw.customers").select(["id", "full_name"])
dn.step().publish("marts.frame", frame)
"""

NOTEBOOKS = {"customers": CUSTOMERS, "contacts": CONTACTS, "frame": FRAME}

NAMES = ("Ada Lovelace", "Alan Turing", "Grace Hopper")
VALUES = NAMES + ("123-45-6789", "219-09-9999", "078-05-1120",
                  "4111111111111111", "5500000000000004", "4012888888881881")


def leaked(data: bytes, values=VALUES) -> list[str]:
    """`value:encoding` for every value found in `data` in any of its encoded forms."""
    return leaks(data, {value: value for value in values})


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return pii_project(tmp_path_factory.mktemp("lineage-pii"), SPEC, NOTEBOOKS)


def as_user(project, user, *args):
    return project.cli(*args, env={"DATAOPS_USER": user}, check=0).stdout


def test_derived_columns_inherit_pii_shown_with_their_source(pipeline):
    page = json.loads(as_user(pipeline, "bob", "catalog", "show", "marts.contacts", "--json"))
    tags = {c["name"]: c["tags"] for c in page["columns"]}
    inherited = {name: [t["from"] for t in found if t["source"] == "inherited"] for name, found in tags.items()}
    assert inherited == {"id": [], "who": [["raw.customers.full_name"]], "card": [["raw.customers.card_no"]],
                         "ssn_tail": [["raw.customers.ssn"]], "city": []}
    assert set(page["preview"]["masked_columns"]) == {"who", "card", "ssn_tail"}
    assert {row[c] for row in page["preview"]["rows"] for c in ("who", "card", "ssn_tail")} == {MASK}
    columns = {c["name"]: c for c in page["columns"]}
    assert columns["card"]["profile"]["min"] is None and columns["card"]["profile"]["max"] is None  # never stored
    # the CLI's page says where it came from; neither it nor the JSON holds any value
    text = as_user(pipeline, "bob", "catalog", "show", "marts.contacts")
    assert "inherited from raw.customers.full_name" in text and "inherited from raw.customers.ssn" in text
    page_bytes = (text + json.dumps(page)).encode()
    assert leaked(page_bytes) == []
    # a dataframe step's column inherits by name; the steward sees the values
    frame = json.loads(as_user(pipeline, "bob", "catalog", "show", "marts.frame", "--json"))
    assert frame["preview"]["masked_columns"] == ["full_name"]
    assert [t["from"] for c in frame["columns"] for t in c["tags"] if t["source"] == "inherited"] == [
        ["raw.customers.full_name"]]
    alice = json.loads(as_user(pipeline, "alice", "catalog", "show", "marts.contacts", "--json"))
    assert alice["preview"]["masked_columns"] == [] and "Ada Lovelace" in {r["who"] for r in alice["preview"]["rows"]}
    # stored on publish, so search finds the derived datasets as PII
    found = {r["name"] for r in json.loads(as_user(pipeline, "bob", "catalog", "search", "pii:yes", "--json"))}
    assert found == {"raw.customers", "marts.contacts", "marts.frame"}


def test_a_column_tagged_upstream_after_the_publish_is_masked_downstream(pipeline):
    original = (pipeline.root / "dataops.yaml").read_text()
    try:
        pipeline.spec(original.replace("      ssn: {tags: [pii]}\n", "      ssn: {tags: [pii]}\n      city: {tags: [pii]}\n"))
        page = json.loads(as_user(pipeline, "bob", "catalog", "show", "marts.contacts", "--json"))
        assert "city" in page["preview"]["masked_columns"]
        assert "London" not in json.dumps(page["preview"]) and "London" not in json.dumps(page["columns"])
    finally:
        pipeline.spec(original)


def test_sql_check_samples_are_masked_by_the_lineage_of_their_columns(pipeline):
    # the run was alice's, who may unmask: what is stored is masked all the same where a
    # column is renamed (readers' masking goes by name) or where lineage cannot tell
    samples = pipeline.ledger_rows("SELECT check_name, sample FROM check_results WHERE kind = 'sql' ORDER BY dataset")
    assert len(samples) == 2
    by_dataset = {name: json.loads(sample) for name, sample in
                  pipeline.ledger_rows("SELECT dataset, sample FROM check_results WHERE kind = 'sql'")}
    assert by_dataset["raw.customers"] == [{"ref": MASK, "id": 2}, {"ref": MASK, "id": 3}]
    # who is inherited PII; top's lineage is unknown (a scalar subquery), so it is withheld
    assert by_dataset["marts.contacts"] == [{"w": MASK, "top": MASK, "id": 1}]
    assert leaked("".join(sample for _, sample in samples).encode()) == []
    for user in ("alice", "bob"):
        review = as_user(pipeline, user, "review", "--json")
        assert leaked(review.encode()) == [], user
        assert MASK in review
    pipeline.cli("report", "--output", "report.html", env={"DATAOPS_USER": "alice"}, check=0)
    html = (pipeline.root / "report.html").read_bytes()
    assert leaked(html) == [] and MASK.encode() in html
    checked = pipeline.cli("check", "--json", env={"DATAOPS_USER": "alice"}, check=None).stdout
    assert leaked(checked.encode()) == [] and checked.count(MASK) >= 3


async def test_the_catalog_api_masks_inherited_columns(jp_fetch, jp_root_dir):
    from ..identities import as_user as headers

    pii_project(jp_root_dir, SPEC, NOTEBOOKS)
    bob = await jp_fetch("dataops", "catalog", "marts.contacts", headers=headers("bob"))
    assert bob.code == 200 and leaked(bob.body) == []
    page = json.loads(bob.body)
    assert {c["name"] for c in page["columns"] if any(t["source"] == "inherited" for t in c["tags"])} == {
        "who", "card", "ssn_tail"}
    alice = await jp_fetch("dataops", "catalog", "marts.contacts", headers=headers("alice"))
    assert b"Ada Lovelace" in alice.body


def test_widget_data_marks_inherited_columns(pipeline):
    from dataops_nb.widgets.catalog import tag_text

    page = json.loads(as_user(pipeline, "bob", "catalog", "show", "marts.contacts", "--json"))
    [who] = [c for c in page["columns"] if c["name"] == "who"]
    assert [tag_text(t) for t in who["tags"]] == ["pii (inherited from raw.customers.full_name)"]


# --- the classifier: card numbers (Luhn) and numeric identifiers ---------------------------


def test_luhn_card_numbers_as_text_or_integers_and_numeric_identifiers():
    assert kind_of(4111111111111111) == "card_number" and kind_of("4111111111111111") == "card_number"
    assert kind_of(4111111111111112) is None  # one digit off: Luhn fails, an integer is no id
    assert kind_of(1111111111111111) is None  # one digit repeated
    assert kind_of("4111111111111112") == "numeric_id"  # text of 16 digits is an identifier anyway
    assert kind_of("123456789") == "numeric_id" and kind_of("12345678") is None
    assert classify_values([1_700_000_000_000 + 997 * i for i in range(200)]) is None  # epoch milliseconds
    assert classify_values([4111111111111111, 5500000000000004, 4012888888881881, None]) == ("card_number", 1.0)
    assert classify_values([f"{i * 7919:010d}" for i in range(1, 50)]) == ("numeric_id", 1.0)
    assert classify_values([str(10 ** i) for i in range(9, 19)]) is None  # digits of many lengths: amounts


def test_integer_card_numbers_are_masked_and_left_out_of_openlineage(pipeline):
    page = json.loads(as_user(pipeline, "bob", "catalog", "show", "raw.customers", "--json"))
    columns = {c["name"]: c for c in page["columns"]}
    assert [t["kind"] for t in columns["card_no"]["tags"]] == ["card_number"]
    assert columns["card_no"]["profile"]["min"] is None and "card_no" in page["preview"]["masked_columns"]
    exported = pipeline.cli("export", "openlineage", env={"DATAOPS_USER": "alice"}, check=0)
    # no profile keeps a PII column's extremes: not the manifests, not the ledger, not the export
    store = pipeline.root / ".dataops"
    data = b"".join(p.read_bytes() for p in [*store.rglob("*.json*"), *store.glob("ledger.db*")] if p.is_file())
    assert leaked(exported.stdout.encode() + data, VALUES[-3:]) == []
    assert str(4111111111111111) not in exported.stdout
    assert leaked(json.dumps(page).encode()) == []

"""A step's bookkeeping in few statements, on both backends: the ancestry of versions read at
once answers as the ledger does, a transaction of many catalog writes still tells kept search
answers they are stale, and a transaction whose writes wait for their answers (PostgreSQL's
pipeline) keeps all or nothing."""

from __future__ import annotations

import pytest

from dataops_nb.ledger import VersionRecord, now
from dataops_nb.metadata.pii import personal


def stage(ledger, dataset, run, inputs=(), *, sql=None, pii=None, schema=("id", "email")):
    record = VersionRecord(f"{dataset}@{run}", dataset, run, "s", f"data/{dataset}/{run}.parquet", 1, 10,
                           [{"name": c, "type": "VARCHAR"} for c in schema], "staged", now(),
                           profile=[{"name": c, "type": "VARCHAR"} for c in schema], pii=pii or {})
    ledger.versions.stage(record, list(inputs), sql=sql)
    ledger.versions.transition([record.version_id], "current")
    return record.version_id


@pytest.fixture
def chain(ledger):
    """raw.users (email flagged) -> staging.users (SQL keeps email) -> marts.users (from a frame) -> marts.count."""
    users = stage(ledger, "raw.users", "r1", pii={"email": {"kind": "email", "confidence": 0.9}})
    staged = stage(ledger, "staging.users", "r2", [users], sql="SELECT id, email FROM raw.users")
    marts = stage(ledger, "marts.users", "r3", [staged])
    counted = stage(ledger, "marts.count", "r4", [marts, users], sql="SELECT count(*) AS n FROM marts.users",
                    schema=("n",))
    return [users, staged, marts, counted]


def test_the_ancestry_answers_as_the_ledger_does(ledger, chain):
    ancestry = ledger.ancestry([chain[-1]])
    for version_id in [*chain, "raw.users@missing"]:
        assert ancestry.versions.get(version_id) == ledger.versions.get(version_id)
        assert ancestry.versions.sql_of(version_id) == ledger.versions.sql_of(version_id)
        assert ancestry.inputs_of(version_id) == ledger.inputs_of(version_id)
    for version_id in chain:
        dataset = ledger.versions.get(version_id).dataset
        assert ancestry.auto_pii(dataset, version_id) == ledger.auto_pii(dataset, version_id)
        assert ancestry.auto_pii(dataset) == ledger.auto_pii(dataset)
    # PII along column lineage: the same answer, walking the snapshot or the ledger
    for version_id in chain:
        dataset = ledger.versions.get(version_id).dataset
        assert personal(None, ancestry, dataset, version_id) == personal(None, ledger, dataset, version_id)
    assert personal(None, ancestry, "marts.users", chain[2]) == {"email"}
    assert personal(None, ancestry, "marts.count", chain[3]) == set()


def test_one_transaction_of_many_catalog_writes_makes_kept_answers_stale(ledger, chain):
    assert [hit["name"] for hit in ledger.catalog.search("zeppelin")] == []
    before = ledger.catalog.changes()
    with ledger.transaction():
        stage(ledger, "raw.zeppelins", "r5")  # metadata, index, promotion: several catalog writes
        ledger.catalog.write_dataset_meta("raw.zeppelins", description="Airships.")
        ledger.catalog.reindex("raw.zeppelins")
    assert ledger.catalog.changes() == before + 1
    assert [hit["name"] for hit in ledger.catalog.search("zeppelin")] == ["raw.zeppelins"]
    ledger.catalog.write_dataset_meta("raw.zeppelins", description="Balloons.")  # outside a transaction
    assert ledger.catalog.changes() == before + 2


def test_a_failing_write_in_a_transaction_keeps_nothing(ledger, chain):
    with pytest.raises(Exception), ledger.transaction():  # noqa: B017 - the driver's own error
        ledger.audit.append(user="u", origin="cli", action="review", target="x", details={})
        ledger.runs.open("20261202-120000-abcd", user="u", params={}, selection=[], pid=1, host="h")
        ledger.runs.open("20261202-120000-abcd", user="u", params={}, selection=[], pid=1, host="h")  # same id
        ledger.runs.recent()  # a read after the failing write
    assert ledger.runs.get("20261202-120000-abcd") is None
    assert ledger.audit.entries() == []


def test_row_counts_of_writes_in_a_transaction(ledger, chain):
    with ledger.transaction():
        ledger.runs.open("20261202-120000-abcd", user="u", params={}, selection=["s"], pid=1, host="h")
        ledger.runs.set_step("20261202-120000-abcd", "s", status="failed", fingerprint="{}")
        quarantined = stage(ledger, "raw.more", "20261202-120000-abcd")
    ledger.versions.transition([quarantined], "quarantined")
    ledger.db.execute("UPDATE dataset_versions SET step = 's' WHERE version_id = ?", (quarantined,))
    assert ledger.versions.accept_quarantined(quarantined) is True  # the step run's row changed
    assert ledger.runs.step("20261202-120000-abcd", "s").status == "accepted"
    assert ledger.versions.accept_quarantined(quarantined) is False  # nothing left to change


def test_which_step_published_each_current_version_is_kept_until_the_catalog_changes(ledger, ledger_backend,
                                                                                      tmp_path, chain):
    """A server's handle answers every catalog search with the publishing steps; it reads them once,
    and again after another handle makes a version current or takes one back (on PostgreSQL as soon
    as the change's notification reaches it)."""
    import time

    from dataops_nb.ledger import Ledger

    def steps_after_a_search() -> dict[str, str]:
        deadline = time.monotonic() + 10
        while True:
            reader.catalog.search("users")
            found = reader.publishing_steps()
            if found != before or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    reader = Ledger.open(ledger_backend or tmp_path / "ledger.db", readonly=True, store_root=tmp_path)
    try:
        for _ in range(3):  # a server searches again and again (on PostgreSQL it then listens for changes)
            reader.catalog.search("users")
            assert reader.publishing_steps() == {"raw.users": "s", "staging.users": "s", "marts.users": "s",
                                                 "marts.count": "s"}
        record = VersionRecord("raw.planes@r6", "raw.planes", "r6", "ingest", "data/raw.planes/r6.parquet", 1, 10,
                               [{"name": "id", "type": "VARCHAR"}], "staged", now())
        before = reader.publishing_steps()
        ledger.versions.stage(record, [])
        ledger.versions.transition([record.version_id], "current")
        assert steps_after_a_search()["raw.planes"] == "ingest"
        before = reader.publishing_steps()
        ledger.versions.transition([record.version_id], "quarantined")  # no version of raw.planes is current now
        assert "raw.planes" not in steps_after_a_search()
    finally:
        reader.close()

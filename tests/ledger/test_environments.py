"""Environments in the ledger: each is a set of "current" pointers; a version is current while one points at it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dataops_nb.ledger import MIGRATIONS, Ledger, VersionRecord, now


@pytest.fixture
def ledger(ledger_backend, tmp_path):
    led = Ledger.open(ledger_backend or tmp_path / "ledger.db", store_root=tmp_path)
    led.migrate()
    yield led
    led.close()


def stage(ledger, run, dataset="raw.a", environment="prod"):
    record = VersionRecord(f"{dataset}@{run}", dataset, run, "s", f"data/{dataset}/{run}.parquet", 1, 10,
                           [{"name": "x", "type": "BIGINT"}], "staged", now(), environment=environment)
    ledger.versions.stage(record, [])
    return record.version_id


def status(ledger, version_id):
    return ledger.versions.get(version_id).status


def test_a_version_is_current_only_in_its_environment_and_the_base_shows_through(ledger):
    prod_a, prod_b = stage(ledger, "r1"), stage(ledger, "r1", "raw.b")
    ledger.versions.transition([prod_a, prod_b], "current")
    dev_a = stage(ledger, "r2", environment="dev")
    ledger.versions.transition([dev_a], "current")

    assert ledger.versions.pointers("prod") == {"raw.a": prod_a, "raw.b": prod_b}
    assert ledger.versions.pointers("dev") == {"raw.a": dev_a}
    assert {d: v.version_id for d, v in ledger.versions.current().items()} == {"raw.a": prod_a, "raw.b": prod_b}
    deferred = ledger.versions.current(["dev", "prod"])
    assert {d: v.version_id for d, v in deferred.items()} == {"raw.a": dev_a, "raw.b": prod_b}
    assert status(ledger, prod_a) == "current" and status(ledger, dev_a) == "current"
    assert ledger.versions.environments_of(dev_a) == ["dev"]


def test_promotion_points_the_target_at_the_same_version_and_drop_lets_go(ledger):
    old = stage(ledger, "r1")
    ledger.versions.transition([old], "current")
    new = stage(ledger, "r2", environment="dev")
    ledger.versions.transition([new], "current")

    changes = ledger.versions.transition([new], "current", environment="prod", action="promote")
    assert [(c.version_id, c.after) for c in changes] == [(old, "superseded")]
    assert ledger.versions.environments_of(new) == ["dev", "prod"]

    ledger.versions.drop_environment("dev")
    assert ledger.versions.pointers("dev") == {} and status(ledger, new) == "current"  # prod still has it
    assert ledger.versions.previous_in("prod", "raw.a", new) == old
    ledger.versions.transition([old], "current", environment="prod", action="rollback")
    assert status(ledger, new) == "superseded" and ledger.versions.pointers("prod") == {"raw.a": old}
    assert [h["action"] for h in ledger.versions.history("prod", "raw.a")] == ["rollback", "promote", "run"]


def test_a_quarantined_version_hands_current_back_in_each_environment(ledger):
    prod_old, dev_old = stage(ledger, "r1"), stage(ledger, "r2", environment="dev")
    ledger.versions.transition([prod_old, dev_old], "current")
    shared = stage(ledger, "r3", environment="dev")
    ledger.versions.transition([shared], "current")
    ledger.versions.transition([shared], "current", environment="prod")

    ledger.versions.transition([shared], "quarantined")
    assert status(ledger, shared) == "quarantined"
    assert ledger.versions.pointers("prod") == {"raw.a": prod_old}
    assert ledger.versions.pointers("dev") == {"raw.a": dev_old}


def test_a_schema_7_ledger_makes_its_current_versions_prods(tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(Path(__file__).resolve().parent.parent / "data" / "ledger-v7.db", path)
    before = Ledger.open(path, store_root=tmp_path)
    current = {row["dataset"]: row["version_id"]
               for row in before.db.query("SELECT dataset, version_id FROM dataset_versions WHERE status = 'current'")}
    before.close()
    assert current

    ledger = Ledger.open(path, store_root=tmp_path)
    ledger.migrate()
    assert ledger.schema_version == len(MIGRATIONS)
    assert ledger.versions.pointers("prod") == current
    assert {v.environment for d in current for v in ledger.versions.of_dataset(d)} == {"prod"}
    assert [e["environment"] for e in ledger.versions.environments()] == ["prod"]
    # what was current before can be rolled back to: the upgrade kept when each version was prod's
    doubled = current["staging.doubled"]
    older = ledger.versions.previous_in("prod", "staging.doubled", doubled)
    assert older is not None and ledger.versions.get(older).status == "superseded"
    ledger.close()

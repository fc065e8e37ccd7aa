"""Records and statuses; one method moves a version's status and refuses an illegal move."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dataops_nb.errors import DataOpsError, IllegalTransitionError
from dataops_nb.ledger import Ledger, VersionRecord, VersionStatus, now


@pytest.fixture
def ledger(ledger_backend, tmp_path):
    """A migrated ledger, once on SQLite and once on PostgreSQL."""
    led = Ledger.open(ledger_backend or tmp_path / "ledger.db", store_root=tmp_path)
    led.migrate()
    yield led
    led.close()


def stage(ledger, run, dataset="raw.a"):
    record = VersionRecord(f"{dataset}@{run}", dataset, run, "s", f"data/{dataset}/{run}.parquet", 1, 10,
                           [{"name": "x", "type": "BIGINT"}], "staged", now())
    ledger.versions.stage(record, [])
    return record.version_id


def statuses(ledger, dataset="raw.a"):
    return {v.version_id: v.status for v in ledger.versions.of_dataset(dataset)}


def test_records_are_frozen_and_statuses_are_text(ledger):
    stage(ledger, "r1")
    (record,) = ledger.versions.of_dataset("raw.a")
    assert record.status is VersionStatus.STAGED and record.status == "staged"
    assert json.dumps({"status": record.status}) == '{"status": "staged"}'
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = VersionStatus.CURRENT  # type: ignore[misc]
    with pytest.raises(ValueError):
        VersionStatus("gone")


def test_promotion_supersedes_and_quarantine_of_current_rolls_back(ledger):
    first, second = stage(ledger, "r1"), stage(ledger, "r2")
    ledger.versions.transition([first], "current")
    changes = ledger.versions.transition([second], VersionStatus.CURRENT)
    assert [(c.version_id, c.before, c.after) for c in changes] == [
        (first, "current", "superseded"), (second, "staged", "current"),
    ]
    changes = ledger.versions.transition([second], "quarantined")
    assert [(c.version_id, c.after) for c in changes] == [(second, "quarantined"), (first, "current")]
    assert statuses(ledger) == {second: "quarantined", first: "current"}
    assert [c["name"] for c in ledger.catalog.columns("raw.a")] == ["x"]


@pytest.mark.parametrize(("before", "wanted"), [
    ("staged", "superseded"), ("staged", "deleted"), ("quarantined", "staged"), ("current", "deleted"),
    ("deleted", "current"), ("deleted", "superseded"), ("quarantined", "superseded"), ("current", "staged"),
])
def test_an_illegal_move_is_refused_and_changes_nothing(ledger, before, wanted):
    older, version = stage(ledger, "r0"), stage(ledger, "r1")
    path = {"staged": [], "current": ["current"], "quarantined": ["quarantined"],
            "deleted": ["current", "superseded", "deleted"]}[before]
    ledger.versions.transition([older], "current")
    for step in path:
        if step == "superseded":
            ledger.versions.transition([older], "current")
        else:
            ledger.versions.transition([version], step)
    assert statuses(ledger)[version] == before
    snapshot = statuses(ledger)
    with pytest.raises(IllegalTransitionError) as caught:
        ledger.versions.transition([version], wanted)
    assert isinstance(caught.value, DataOpsError) and caught.value.exit_code == 2
    assert str(caught.value) == f"Version {version} is {before}; it cannot become {wanted}."
    assert (caught.value.current, caught.value.wanted) == (before, wanted)
    assert statuses(ledger) == snapshot


def test_a_status_outside_the_life_cycle_is_refused(ledger):
    version = stage(ledger, "r1")
    with pytest.raises(ValueError):
        ledger.versions.transition([version], "gone")
    with pytest.raises(DataOpsError, match="Unknown version 'raw.a@nope'"):
        ledger.versions.transition(["raw.a@nope"], "current")


def test_a_call_with_one_illegal_move_changes_nothing(ledger):
    first, second = stage(ledger, "r1"), stage(ledger, "r2")
    ledger.versions.transition([first], "current")
    with pytest.raises(IllegalTransitionError):
        ledger.versions.transition([second, first], "deleted")  # staged -> deleted: refused after a legal one
    assert statuses(ledger) == {first: "current", second: "staged"}

"""`dataops-nb ledger info|migrate|copy`: what a ledger is and holds, upgrading it, moving it between
SQLite and PostgreSQL with every row verified. The ledger used is one the schema-7 release wrote
(tests/data), holding runs, versions of every status, check results, reviews, lineage and a catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dataops_nb.ledger import Ledger, contents
from dataops_nb.ledger.migrations import latest

DATA = Path(__file__).resolve().parent.parent / "data" / "ledger-v7.db"
LATEST = latest("sqlite")


def _with_v7_ledger(project) -> Path:
    path = project.root / ".dataops" / "ledger.db"
    path.parent.mkdir(parents=True)
    shutil.copy(DATA, path)
    return path


def _json(project, *args: str, env: dict[str, str] | None = None) -> dict:
    return json.loads(project.cli("--json", *args, env=env, check=0).stdout)


def _hash(url: str | Path, store: Path) -> str:
    ledger = Ledger.open(url, readonly=True, store_root=store, any_schema=True)
    try:
        return contents.content_hash(ledger.db)
    finally:
        ledger.close()


def test_info_of_a_fresh_project_says_there_is_no_ledger_and_writes_nothing(two_steps):
    info = _json(two_steps, "ledger", "info")
    assert info["backend"] == "sqlite" and info["exists"] is False and info["schema_version"] == 0
    assert info["url"] == f"sqlite:///{two_steps.root / '.dataops' / 'ledger.db'}"
    assert set(info["counts"].values()) == {0}
    shown = two_steps.cli("ledger", "info", check=0).stdout
    assert "schema: none yet" in shown and "audit entries" in shown
    assert not (two_steps.root / ".dataops").exists()


def test_migrate_upgrades_a_schema_7_ledger_in_place_and_says_what_it_applied(two_steps):
    path = _with_v7_ledger(two_steps)
    before = _json(two_steps, "ledger", "info")
    assert (before["schema_version"], before["latest_schema"]) == (7, LATEST)
    assert before["counts"]["runs"] == 3 and before["counts"]["reviews"] > 0
    assert f"schema: 7 of {LATEST}: `dataops-nb ledger migrate` applies" in two_steps.cli("ledger", "info").stdout
    refused = two_steps.cli("runs")  # a read never migrates: it names the command that does
    assert refused.returncode == 2 and "`dataops-nb ledger migrate`" in refused.stderr

    done = two_steps.cli("ledger", "migrate", check=0).stdout.strip()
    applied = ", ".join(str(n) for n in range(8, LATEST + 1))
    assert done == f"Migrated the ledger sqlite:///{path} from schema 7 to {LATEST} (applied {applied})."
    after = _json(two_steps, "ledger", "info")
    assert after["schema_version"] == LATEST and after["counts"] == before["counts"]
    assert [r["status"] for r in _json(two_steps, "runs")] == ["failed", "success", "failed"]
    again = two_steps.cli("ledger", "migrate", check=0).stdout.strip()
    assert again == f"The ledger sqlite:///{path} is at schema {LATEST}, the latest: nothing to migrate."


def test_copy_moves_every_row_to_postgresql_and_back_verified_by_content_hash(two_steps, pg_url, tmp_path):
    path = _with_v7_ledger(two_steps)
    two_steps.cli("ledger", "migrate", check=0)
    on_sqlite = {"runs": _json(two_steps, "runs"), "info": _json(two_steps, "ledger", "info")["counts"],
                 "review": _json(two_steps, "review"), "search": _json(two_steps, "catalog", "search", "numbers")}
    sqlite_bytes = path.read_bytes()

    done = _json(two_steps, "ledger", "copy", "--to", pg_url)
    assert done["verified"] is True and done["to"] == pg_url
    assert done["copied"]["runs"] == 3 and done["copied"]["audit_log"] == on_sqlite["info"]["audit entries"]
    assert path.read_bytes() == sqlite_bytes  # the source is only read
    team = {"DATAOPS_LEDGER_URL": pg_url}
    info = _json(two_steps, "ledger", "info", env=team)
    assert (info["backend"], info["schema_version"], info["from"]) == ("postgresql", latest("postgresql"),
                                                                      "DATAOPS_LEDGER_URL")
    assert info["counts"] == on_sqlite["info"]
    # the same history, review queue and catalog (its full-text index rebuilt) on the team's server
    assert _json(two_steps, "runs", env=team) == on_sqlite["runs"]
    assert _json(two_steps, "review", env=team) == on_sqlite["review"]
    assert _json(two_steps, "catalog", "search", "numbers", env=team) == on_sqlite["search"]
    assert _hash(pg_url, path.parent) == _hash(path, path.parent) == done["content_hash"]

    back = tmp_path / "back" / "ledger.db"
    returned = _json(two_steps, "ledger", "copy", "--to", f"sqlite:///{back}", env=team)
    assert returned["content_hash"] == done["content_hash"] == _hash(back, path.parent)

    # ids the copy carried over: the next check result and audit entry on PostgreSQL follow them
    ledger = Ledger.open(pg_url, store_root=path.parent)
    highest = max(int(r["id"]) for r in ledger.db.query("SELECT id FROM check_results"))
    version = next(iter(ledger.versions.current().values()))
    ledger.checks.record([{"dataset": version.dataset, "version_id": version.version_id, "check_name": "rows",
                           "kind": "row_count", "origin": "spec", "severity": "error", "status": "pass"}])
    assert max(int(r["id"]) for r in ledger.db.query("SELECT id FROM check_results")) == highest + 1
    ledger.close()
    copied_hash = _hash(pg_url, path.parent)

    # a target that holds anything is refused, and left as it was
    for target in (pg_url, f"sqlite:///{path}"):
        refused = two_steps.cli("ledger", "copy", "--to", target)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "is not empty" in lines[0] or "the project's own ledger" in lines[0]
    assert _hash(pg_url, path.parent) == copied_hash and path.read_bytes() == sqlite_bytes


def test_info_and_migrate_on_an_empty_postgresql_database(two_steps, pg_url):
    team = {"DATAOPS_LEDGER_URL": pg_url}
    info = _json(two_steps, "ledger", "info", env=team)
    assert (info["backend"], info["url"], info["exists"], info["schema_version"]) == ("postgresql", pg_url, False, 0)
    done = two_steps.cli("ledger", "migrate", env=team, check=0).stdout.strip()
    newest = latest("postgresql")
    applied = ", ".join(str(n) for n in range(1, newest + 1))
    assert done == f"Migrated the ledger {pg_url} from schema 0 to {newest} (applied {applied})."
    assert _json(two_steps, "ledger", "info", env=team)["schema_version"] == newest
    assert not (two_steps.root / ".dataops").exists()  # the team's ledger is on the server, the store untouched

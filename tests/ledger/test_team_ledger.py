"""A team's ledger on a PostgreSQL server: a bad URL, server, login or database is one sentence
(naming the setting, never the password), exit 2, and nothing anywhere is written."""

from __future__ import annotations

import socket

import pytest

from dataops_nb.ledger import Ledger

PASSWORD = "Tr0ub4dor-and-3"  # the secret a message must never show


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _role(pg_server) -> str:
    """A login role with a password (the test server asks every role but postgres for one)."""
    import psycopg

    try:
        pg_server.sql(f"CREATE ROLE ann LOGIN PASSWORD 'right-{PASSWORD}'")
    except psycopg.errors.DuplicateObject:
        pass
    return "ann"


def _tables(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()]
        return {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _bad_ledger(case: str, pg_server, pg_url: str) -> tuple[str, str]:
    """The URL of a bad ledger of kind `case` and a phrase its message must hold."""
    port = pg_server.port
    database = pg_url.rsplit("/", 1)[1]
    if case == "unreachable":
        return f"postgresql://ann:{PASSWORD}@127.0.0.1:{_closed_port()}/ledger", "Cannot reach the PostgreSQL server"
    if case == "credentials":
        return f"postgresql://{_role(pg_server)}:{PASSWORD}@127.0.0.1:{port}/{database}", "refused the credentials"
    if case == "scheme":
        return f"mysql://ann:{PASSWORD}@127.0.0.1/ledger", "scheme 'mysql'"
    if case == "other application":
        pg_server.sql("CREATE TABLE invoices (id int PRIMARY KEY, total numeric)", database)
        pg_server.sql("INSERT INTO invoices VALUES (1, 9.5)", database)
        return pg_url, "is not a dataops-nb ledger"
    assert case == "newer schema"
    ledger = Ledger.open(pg_url, store_root=pg_server.dir)
    ledger.migrate()
    ledger.close()
    pg_server.sql("UPDATE dataops_meta SET value = '999' WHERE key = 'schema_version'", database)
    return pg_url, "newer dataops-nb (schema 999)"


@pytest.mark.parametrize("case", ["unreachable", "credentials", "scheme", "other application", "newer schema"])
def test_a_bad_team_ledger_is_one_sentence_naming_the_setting_and_writes_nothing(case, two_steps, pg_server,
                                                                              pg_url):
    url, phrase = _bad_ledger(case, pg_server, pg_url)
    database_before = _tables(pg_url)
    project_before = two_steps.snapshot()
    for command in (["run"], ["runs"], ["ledger", "info"]):
        result = two_steps.cli(*command, env={"DATAOPS_LEDGER_URL": url})
        shown = result.stdout + result.stderr
        assert result.returncode == 2, shown
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and lines[0].endswith((".", "?")), shown
        assert phrase in lines[0] and "DATAOPS_LEDGER_URL" in lines[0], shown
        assert PASSWORD not in shown and "Traceback" not in shown
    assert two_steps.snapshot() == project_before  # no store, no run folder, no lock file
    assert not (two_steps.root / ".dataops").exists()
    assert _tables(pg_url) == database_before


@pytest.mark.parametrize("setting, prepared", [(None, True), ("off", False)])
def test_statements_are_prepared_once_unless_a_pooler_needs_them_not_to_be(setting, prepared, pg_url, tmp_path,
                                                                           monkeypatch):
    """Each statement is prepared on first use (planned once per connection); DATAOPS_LEDGER_PREPARE=off,
    for PgBouncer in transaction mode, prepares none, and the ledger works the same."""
    if setting is None:
        monkeypatch.delenv("DATAOPS_LEDGER_PREPARE", raising=False)
    else:
        monkeypatch.setenv("DATAOPS_LEDGER_PREPARE", setting)
    ledger = Ledger.open(pg_url, store_root=tmp_path)
    try:
        ledger.migrate()
        run_id = "20261203-120000-000abcd"
        ledger.runs.open(run_id)
        for _ in range(3):
            assert ledger.runs.get(run_id).run_id == run_id
        names = [row[0] for row in ledger.db.query("SELECT statement FROM pg_prepared_statements")]
        assert any("FROM runs WHERE run_id" in name for name in names) is prepared
    finally:
        ledger.close()

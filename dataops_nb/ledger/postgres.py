"""The PostgreSQL backend of the ledger (psycopg 3), for a team sharing one ledger.

Imported only when a ledger URL is `postgresql://...`. Repositories write SQL for both
backends with `?` placeholders; `translate` turns it into psycopg's (`%s`, a literal `%` as
`%%`, the reserved column name `user` quoted). The schema version and an application marker
live in `dataops_meta`, so a database of another application is refused rather than written.
No message ever carries the URL's password.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from ..errors import LedgerError
from .db import Joining

APPLICATION = "dataops-nb"
CONNECT_TIMEOUT_S = 5
# a transaction lock every migrating process takes: two machines never migrate at once
MIGRATION_LOCK = 0x64617461  # "data"

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\?(\d*)|%|\buser\b", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL without its password (and without a query string, which may carry one)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def translate(sql: str, args: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQLite-style SQL (`?`, `?N`) as psycopg's (`%s`), with the arguments in the order it needs."""
    text, order = _translation(sql)
    return text, [args[number - 1] for number in order] if order is not None else list(args)


@functools.lru_cache(maxsize=1024)
def _translation(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """The psycopg text of `sql` and which argument each `%s` takes (None: no placeholders, the
    arguments as given). Kept per statement text: a repository's statements are few and asked
    over and over."""
    out: list[str] = []
    order: list[int] = []
    position = 0
    highest = 0
    last = 0
    for match in _TOKEN.finditer(sql):
        text = match.group(0)
        out.append(sql[last:match.start()])
        last = match.end()
        if text.startswith(("'", '"')):
            out.append(text)
        elif text == "%":
            out.append("%%")
        elif text.lower() == "user":
            out.append('"user"')
        else:  # a placeholder: `?` takes the next number after the highest seen, as in SQLite
            number = int(match.group(1)) if match.group(1) else max(highest, position) + 1
            highest = max(highest, number)
            position = number
            order.append(number)
            out.append("%s")
    out.append(sql[last:])
    return "".join(out), tuple(order) if highest else None


# Settings of the ledger's own sessions, sent with the connection (no round trip): a ledger is
# small and stays in the server's cache, so an index lookup costs about what a sequential read
# does; its statements are short, so a parallel worker (a process started per statement)
# costs more than it saves, most of all on a busy machine; and a prepared statement is planned
# once (its plan does not depend on the values: the ledger's lookups are by key, and search
# passes every value through its one-row CTE), not again for each of its first executions.
SESSION_SETTINGS = {"random_page_cost": "1.1", "max_parallel_workers_per_gather": "0",
                    "plan_cache_mode": "force_generic_plan"}
# Every statement is prepared when first sent (parsed and planned once per connection): a
# handle sends the same few dozen statements over and over, and parsing and planning them
# again each time cost the server more than running them. DATAOPS_LEDGER_PREPARE=off prepares
# none, for a pooler that cannot keep them (PgBouncer in transaction mode before 1.22).
PREPARE_ENV = "DATAOPS_LEDGER_PREPARE"
PREPARED_MAX = 512  # the distinct statements a handle keeps prepared (psycopg's default: 100)


def prepare_threshold() -> int | None:
    """psycopg's `prepare_threshold`: 0 (every statement), or None (none) when PREPARE_ENV says off."""
    return None if os.environ.get(PREPARE_ENV, "").strip().lower() in ("off", "0", "no", "false") else 0


def _session_options(url: str, *, readonly: bool) -> str:
    """The `options` of the connection: the URL's own, then the ledger's settings."""
    from psycopg.conninfo import conninfo_to_dict

    settings = {**SESSION_SETTINGS, **({"default_transaction_read_only": "on"} if readonly else {})}
    given = str(conninfo_to_dict(url).get("options") or "")
    return " ".join([given, *(f"-c {name}={value}" for name, value in settings.items())]).strip()


class PgRow(tuple):
    """A row by position and by column name, like sqlite3.Row."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    return _row_type(tuple(column.name for column in cursor.description or ()))


@functools.lru_cache(maxsize=512)
def _row_type(names: tuple[str, ...]) -> type[PgRow]:
    """A row class per list of column names (a statement's rows share one)."""
    return type("Row", (PgRow,), {"_index": {name: i for i, name in enumerate(names)}})


class _Queued:
    """The cursor of a statement queued in a pipeline: its rows and its row count wait for the
    server's answer (fetching syncs by itself; the row count asks for it)."""

    def __init__(self, cursor: psycopg.Cursor[Any], pipeline: psycopg.Pipeline) -> None:
        self._cursor, self._pipeline = cursor, pipeline

    @property
    def rowcount(self) -> int:
        self._pipeline.sync()
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class PostgresDatabase(Joining):
    """One connection to a PostgreSQL database; thread-safe (statements take turns)."""

    dialect = "postgresql"

    def __init__(self, url: str, *, readonly: bool = False, source: str | None = None) -> None:
        self.url = redact(url)
        self.source = source
        # the ledger as messages name it: its URL without the password, and the setting that gave it
        self.where = f"{self.url} (from {source})" if source else self.url
        self.readonly = readonly
        self._lock = threading.RLock()
        self._depth = 0
        self._pipeline: psycopg.Pipeline | None = None  # while a transaction is open
        self._version: int | None = None  # the schema version, as read at opening or migrating
        self._password = urlsplit(url).password or ""
        self._dsn = url  # kept for reopen(); never shown
        try:
            self._con = psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_row_factory,
                application_name="dataops-nb", options=_session_options(url, readonly=readonly),
                prepare_threshold=prepare_threshold(),
            )
        except psycopg.Error as exc:
            raise LedgerError(self._connect_problem(exc), url=self.url) from None
        self._con.prepared_max = PREPARED_MAX
        self._check_application()

    # --- opening ----------------------------------------------------------------

    def _connect_problem(self, exc: psycopg.Error) -> str:
        text = self._clean(str(exc)).lower()
        where = self.where
        if "password authentication failed" in text or "no password supplied" in text or "authentication" in text:
            return f"The PostgreSQL ledger {where} refused the credentials (wrong user or password)."
        if "does not exist" in text and "database" in text:
            return f"The PostgreSQL ledger {where} names a database that does not exist (create it first)."
        if "role" in text and "does not exist" in text:
            return f"The PostgreSQL ledger {where} names a user that does not exist."
        return f"Cannot reach the PostgreSQL server of the ledger {where}: is it running and reachable?"

    def _clean(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    def _tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {row[0] for row in rows}

    def _check_application(self) -> None:
        """A database with tables but no ledger marker belongs to another application; a newer schema is refused.

        One round trip when the database is a ledger: its marker and schema version in one statement."""
        from .migrations import latest

        meta = self._meta()
        if meta is None:
            tables = self._tables()
            if tables:
                shown = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
                message = (f"The database {self.where} is not a dataops-nb ledger (it holds tables of another "
                           f"application: {shown}); point the ledger URL at an empty database.")
                raise LedgerError(message, url=self.url)
            self._version = 0
            return
        if meta.get("application") != APPLICATION:
            message = f"The database {self.where} is not a dataops-nb ledger (its dataops_meta names another application)."
            raise LedgerError(message, url=self.url)
        self._version = int(meta.get("schema_version") or 0)
        if self._version > latest(self.dialect):
            message = (f"The ledger {self.where} was written by a newer dataops-nb (schema {self._version}); "
                       "upgrade the kit to open it.")
            raise LedgerError(message, url=self.url)

    def _meta(self) -> dict[str, str] | None:
        """The ledger's marker and schema version (None: no dataops_meta table). Outside a
        transaction the table is read at once (a missing one is an error that aborts nothing in
        autocommit); inside one, asked for first."""
        if self._depth and "dataops_meta" not in self._tables():
            return None
        try:
            rows = self.query("SELECT key, value FROM dataops_meta WHERE key IN ('application', 'schema_version')")
        except psycopg.errors.UndefinedTable:
            return None
        return {row[0]: row[1] for row in rows}

    # --- statements -------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg's errors that mean something to a caller, as the ledger's."""
        try:
            yield
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise LedgerError(f"The ledger {self.url} is open read-only.", url=self.url) from exc
        except psycopg.OperationalError as exc:
            raise LedgerError(f"Lost the connection to the PostgreSQL ledger {self.url}.", url=self.url) from exc

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        text, values = translate(sql, args)
        with self._lock, self._errors():
            cursor = self._con.execute(text, values)  # type: ignore[arg-type]
            return cursor if self._pipeline is None else _Queued(cursor, self._pipeline)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        text, _ = translate(sql, rows[0])
        with self._lock, self.transaction():
            self._con.cursor().executemany(text, [translate(sql, row)[1] for row in rows])  # type: ignore[arg-type]

    def executescript(self, script: str) -> None:
        from .db import split_statements

        for statement in split_statements(script):
            with self._lock:
                self._con.execute(statement)  # type: ignore[arg-type]  # DDL of a migration: no parameters

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self.execute(sql, tuple(args)).fetchall()  # type: ignore[no-any-return]

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        """BEGIN ... COMMIT in pipeline mode: a write does not wait for its answer, so the writes
        between two reads (and the COMMIT) cost one round trip to the server, not one each. An
        error of a queued write is raised by the next read or by the COMMIT, and rolls back."""
        if self.readonly:
            with self._errors(), self._con.transaction():
                yield
            return
        with self._errors(), self._con.pipeline() as pipeline, self._con.transaction():
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline = None

    # --- schema -----------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version as this handle read it when it opened (or migrated) the database:
        asking again costs no round trip."""
        if self._version is None:
            meta = self._meta()
            self._version = int((meta or {}).get("schema_version") or 0)
        return self._version

    def migrate(self) -> list[int]:
        """Apply pending migrations in one transaction (under a lock no other migrating process holds)."""
        from .migrations import migrations_for

        if self.readonly:
            raise LedgerError(f"The ledger {self.url} is open read-only; it cannot be migrated.", url=self.url)
        migrations = migrations_for(self.dialect)
        if self._version == len(migrations):  # up to date when opened (a newer schema is refused there)
            return []
        applied = []
        with self._unprepared(), self.transaction():
            self.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            self.execute("CREATE TABLE IF NOT EXISTS dataops_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.execute(
                "INSERT INTO dataops_meta (key, value) VALUES ('application', ?) ON CONFLICT (key) DO NOTHING",
                (APPLICATION,),
            )
            rows = self.query("SELECT value FROM dataops_meta WHERE key = 'schema_version'")  # under the lock
            version = int(rows[0][0]) if rows else 0
            for index in range(version, len(migrations)):
                migration = migrations[index]
                if callable(migration):
                    migration(self)
                else:
                    self.executescript(migration)
                self.execute(
                    "INSERT INTO dataops_meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(index + 1),),
                )
                applied.append(index + 1)
                version = index + 1
        self._version = version  # committed
        return applied

    @contextmanager
    def _unprepared(self) -> Iterator[None]:
        """No statement prepared while a migration runs. An ALTER makes psycopg forget what it
        prepared and ask the server to do the same; inside a pipeline the server can carry that
        out after statements prepared since, which psycopg then takes for prepared (the next
        command failed with "prepared statement ... does not exist")."""
        threshold = self._con.prepare_threshold
        self._con.prepare_threshold = None
        try:
            yield
        finally:
            self._con.prepare_threshold = threshold

    def integrity(self) -> str:
        return "ok"

    def tables(self) -> list[str]:
        return sorted(self._tables())

    def _column_rows(self, table: str) -> list[Any]:
        return self.query(
            "SELECT column_name, is_generated, is_identity FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )

    def columns(self, table: str, *, all_columns: bool = False) -> list[str]:
        """Stored columns, leaving out generated ones and the identity `rowid` (SQLite's implicit one)."""
        rows = self._column_rows(table)
        return [r[0] for r in rows if all_columns or (r[1] == "NEVER" and r[0] != "rowid")]

    def identities_follow(self, table: str) -> None:
        from .db import column_list

        for name, _, identity in self._column_rows(table):
            if identity == "YES" and name != "rowid":
                column, quoted = column_list([name]), column_list([table])
                self.execute(
                    f"SELECT setval(pg_get_serial_sequence('{quoted}', '{column}'), "
                    f"coalesce(max({column}), 0) + 1, false) FROM {quoted}"
                )

    def watch(self, channel: str) -> Watch:
        """A flag raised by every NOTIFY on `channel` (a connection and thread of its own)."""
        return Watch(self._dsn, channel)

    def reopen(self) -> PostgresDatabase:
        return PostgresDatabase(self._dsn, readonly=self.readonly, source=self.source)

    def close(self) -> None:
        with self._lock:
            self._con.close()


class Watch:
    """LISTEN on a channel from a thread: `changed()` is True once a notification came since the
    last call (and always, once the listening connection is lost: the caller asks the database)."""

    def __init__(self, dsn: str, channel: str) -> None:
        self._seen = threading.Event()
        self._seen.set()  # nothing is known before the first look
        self._lost = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(dsn, channel), name=f"listen-{channel}", daemon=True)
        self._thread.start()
        self._ready.wait(CONNECT_TIMEOUT_S)

    def _listen(self, dsn: str, channel: str) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                 application_name="dataops-nb-watch") as con:
                con.execute(f"LISTEN {channel}")  # a fixed identifier of this package, never input
                self._ready.set()
                for _ in con.notifies():
                    self._seen.set()
        except psycopg.Error:
            pass
        finally:
            self._lost = True
            self._seen.set()
            self._ready.set()

    def changed(self) -> bool:
        if self._lost:
            return True
        was = self._seen.is_set()
        self._seen.clear()
        return was

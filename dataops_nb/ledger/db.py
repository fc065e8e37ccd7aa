"""The database seam: what a repository may ask of a database, and the SQLite implementation.

Repositories write SQL with `?` placeholders against a `Database`; a backend translates
what its driver needs. A transaction on one thread joins an enclosing one, so a repository
method makes its own writes atomic and a caller groups several methods with
`with ledger.transaction():`. Only this package imports a database driver.

A read-only database never writes: no migration, no pragma that changes the file, no
journal-mode switch. A SQLite ledger that does not exist yet opens read-only as an empty
in-memory ledger with the current schema, so reading a fresh project creates nothing.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ..errors import LedgerError


class Row(Protocol):
    """A result row: by column name (`row["status"]`), by position (`row[0]`), `keys()`."""

    def __getitem__(self, key: str | int) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database(Protocol):
    """A connection to one ledger database; thread-safe."""

    url: str  # without a password: safe in messages
    dialect: str  # "sqlite" | "postgresql"
    readonly: bool

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[Row]: ...

    def transaction(self) -> Any: ...  # a context manager yielding this Database

    def schema_version(self) -> int: ...

    def migrate(self) -> list[int]: ...

    def tables(self) -> list[str]: ...

    def columns(self, table: str, *, all_columns: bool = False) -> list[str]:
        """The stored columns of `table` (with `all_columns`, generated and hidden ones too)."""
        ...

    def identities_follow(self, table: str) -> None:
        """After rows were inserted with explicit ids, the next generated id follows the highest."""
        ...

    def close(self) -> None: ...


def sqlite_path(url: str | Path) -> Path:
    """The file of `sqlite:///relative/path`, `sqlite:////absolute/path` or a plain path."""
    text = str(url)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif text.startswith("sqlite:"):
        message = f"'{text}' is not a SQLite ledger URL (use sqlite:///path/to/ledger.db)."
        raise LedgerError(message, url=text)
    return Path(text)


def open_database(url: str | Path, *, readonly: bool = False, source: str | None = None,
                  any_schema: bool = False) -> Database:
    """The database of a ledger URL: `sqlite:///...` (or a file path) or `postgresql://...`.

    `source` names the setting the URL came from (an environment variable), for messages.
    Read-only, a PostgreSQL database without a ledger reads as an empty ledger, unless
    `any_schema` asks for the database as it is."""
    text = str(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        from . import postgres  # type: ignore[attr-defined]  # psycopg is imported only for PostgreSQL

        database = postgres.PostgresDatabase(text, readonly=readonly, source=source)
        if readonly and not any_schema and database.schema_version() == 0:  # no ledger there yet: read it as an empty one
            database.close()
            return SqliteDatabase(Path("/nonexistent/dataops-nb-empty-ledger.db"), readonly=True)
        return database  # type: ignore[no-any-return]
    if scheme not in ("", "sqlite"):
        given = f" in {source}" if source else ""
        message = f"Ledger URL scheme '{scheme}'{given} is not supported (use sqlite:///... or postgresql://...)."
        raise LedgerError(message, url=f"{scheme}://...")
    return SqliteDatabase(sqlite_path(text), readonly=readonly)


SQLITE_HEADER = b"SQLite format 3\x00"
# (device, inode) of every ledger file this process has opened with SQLite. Such a file is never
# opened again other than by SQLite: closing any descriptor of it releases every POSIX lock the process
# holds on it, those of its open connections too (even of a connection its handle has dropped but a
# cursor keeps alive). Another process closing its last connection would then see no reader, reset
# the WAL under them, and they would never see a later commit (the server answered 404 for a run
# the worker had just opened).
_CONNECTED: set[tuple[int, int]] = set()
_OPENING = threading.Lock()  # a file's check and its first connection, one thread at a time


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


def check_ledger_file(path: Path) -> None:
    """Refuse a ledger file that exists but is empty, truncated or not an SQLite database."""
    from ..errors import LedgerUnreadableError

    try:
        stat = path.stat()
    except FileNotFoundError:
        return  # a new project: the ledger is created
    size = stat.st_size
    if size == 0:
        raise LedgerUnreadableError(path, "is empty (0 bytes)")
    if (stat.st_dev, stat.st_ino) in _CONNECTED:
        return  # SQLite has read it in this process; reading its header here would blind its connections
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise LedgerUnreadableError(path, "is not an SQLite database")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # the page count in the header is valid when its change counter matches (SQLite file format 1.3)
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        raise LedgerUnreadableError(path, f"is truncated ({size} of {pages * page_size} bytes)")


class Joining:
    """The transactions of a backend: the outermost one on a connection is the backend's
    (`_outermost`); one opened inside it, on this thread, joins it."""

    _lock: threading.RLock
    _depth: int
    _done: set[str] | None = None  # what `first_in_transaction` was asked in the open transaction

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            self._done = set()
            try:
                with self._outermost():
                    yield self
            finally:
                self._depth = 0
                self._done = None

    def first_in_transaction(self, key: str) -> bool:
        """Whether `key` is asked for the first time in the open transaction (always, outside one):
        a statement that the transaction needs once however many writes it groups."""
        with self._lock:
            if self._done is None:
                return True
            if key in self._done:
                return False
            self._done.add(key)
            return True

    def _outermost(self) -> Any:  # a context manager: BEGIN ... COMMIT, ROLLBACK on an error
        raise NotImplementedError


class SqliteDatabase(Joining):
    """One SQLite file in WAL mode (or, read-only and missing, an empty in-memory ledger)."""

    dialect = "sqlite"
    identity: tuple[int, int] | None = None  # (device, inode) of the file, once it is open
    _seen: tuple[tuple[int, int] | None, ...] = ()  # the files a reader's connection was opened on

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.readonly = readonly
        self.in_memory = readonly and not path.exists()
        self._lock = threading.RLock()
        self._depth = 0
        if self.in_memory:
            self._con = self._connect(":memory:")
            self.migrate()
            self._con.execute("PRAGMA query_only = ON")
        else:
            try:
                with _OPENING:
                    # SQLite would silently start an empty database over an empty or foreign file
                    check_ledger_file(path)
                    if readonly:
                        self._con = self._connect_reader()
                    else:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        self._con = self._connect(str(path))
                    stat = path.stat()
                    self.identity = (stat.st_dev, stat.st_ino)
                    _CONNECTED.add(self.identity)
                if not readonly:
                    self._con.execute("PRAGMA journal_mode=WAL")
                    self._con.execute("PRAGMA synchronous=NORMAL")
                self.schema_version()
                self._con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except (sqlite3.DatabaseError, LedgerError) as exc:
                cause = exc.__cause__ if isinstance(exc, LedgerError) else exc
                if not isinstance(cause, sqlite3.DatabaseError) or "locked" in str(cause):
                    raise
                from ..errors import LedgerUnreadableError

                raise LedgerUnreadableError(path, f"cannot be read as a database ({cause})") from exc
        self._check_not_newer()

    def _connect_reader(self) -> sqlite3.Connection:
        con = self._connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True)
        con.execute("PRAGMA query_only = ON")
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # maps the WAL index
        self._seen = (_inode(self.path), _inode(self._wal))
        return con

    @property
    def _wal(self) -> Path:
        return self.path.with_name(self.path.name + "-wal")

    def _current(self) -> sqlite3.Connection:
        """The connection; a reader's is opened again when the ledger file or its WAL is another file
        than the one it was opened on (replaced, or the WAL started anew after every connection had
        closed). A WAL that only grew or started over keeps it, and its page cache: the connection
        sees every commit through the WAL index."""
        if self.readonly and not self.in_memory and self._depth == 0 and (
                _inode(self.path), _inode(self._wal)) != self._seen:
            self._con.close()
            self._con = self._connect_reader()
        return self._con

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(target, timeout=30, check_same_thread=False, isolation_level=None, uri=uri)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            message = f"Cannot open the ledger {self.path}: {exc}."
            raise LedgerError(message, url=self.url) from exc
        return con

    def _check_not_newer(self) -> None:
        from .migrations import latest

        version = self.schema_version()
        if version > latest(self.dialect):
            message = (
                f"{self.path} was written by a newer dataops-nb (schema {version}); "
                "upgrade the kit to open it."
            )
            raise LedgerError(message, url=self.url)

    # --- statements -------------------------------------------------------------

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._current().execute(sql, tuple(args))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self._con.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        """Statements separated by `;` (a migration), inside the caller's transaction."""
        for statement in split_statements(script):
            self.execute(statement)

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._current().execute(sql, tuple(args)).fetchall()

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (a writer takes the write lock at once) ... COMMIT."""
        self._con.execute("BEGIN" if self.readonly else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # --- schema -----------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self.query("PRAGMA user_version")[0][0])

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; the versions applied."""
        from .migrations import migrations_for

        if self.readonly and not self.in_memory:
            message = f"The ledger {self.path} is open read-only; it cannot be migrated."
            raise LedgerError(message, url=self.url)
        migrations = migrations_for(self.dialect)
        applied = []
        with self._lock:
            for index in range(self.schema_version(), len(migrations)):
                with self.transaction():
                    migration = migrations[index]
                    if callable(migration):
                        migration(self)
                    else:
                        self.executescript(migration)
                    self.execute(f"PRAGMA user_version = {index + 1}")
                applied.append(index + 1)
        return applied

    def integrity(self) -> str:
        return str(self.query("PRAGMA integrity_check")[0][0])

    def tables(self) -> list[str]:
        return [row[0] for row in self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def columns(self, table: str, *, all_columns: bool = False) -> list[str]:
        rows = self.query(f"PRAGMA table_xinfo({column_list([table])})")
        return [row["name"] for row in rows if all_columns or row["hidden"] == 0]  # 2, 3: generated

    def identities_follow(self, table: str) -> None:
        """AUTOINCREMENT already follows explicitly inserted ids."""

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for the few SQLite-only statements of this package."""
        return self._con

    def close(self) -> None:
        with self._lock:
            self._con.close()


def split_statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list or a VALUES row of `count` values."""
    return ", ".join("?" * count)


IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def column_list(names: Iterable[str]) -> str:
    """Column names for generated SQL, refused unless they are plain identifiers."""
    names = list(names)
    for name in names:
        if not IDENTIFIER.match(name):
            raise ValueError(f"not a column name: {name!r}")
    return ", ".join(names)

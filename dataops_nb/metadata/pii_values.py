"""The values of PII columns, read once per file and kept, so masking a message is cheap.

Masking a step's error (or a check's message) looks up which values of the PII columns of
the datasets the step used occur in the text. Asking DuckDB each time scanned every such
column of every file once per message: a runs listing with a few failed steps scanned the
same files over and over. Here the distinct values of one column of one parquet file are
read once and indexed by their first characters; a text is then searched in one pass over
it, in Python, with no query.

A dataset file never changes once written (a version is immutable), so an index is keyed
by the file's path, size and modification time, and is never stale. The indexes are kept
within a budget of values (least recently used go first); a column with more distinct
values than `MAX_INDEXED` is not indexed, and its text is searched by DuckDB as before.

Which columns of a version are PII (`pii.personal`: spec tags, flags found on publish,
lineage) and where its file is are kept per ledger handle until the catalog changes
(`changes_seen`).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

MIN_VALUE_LENGTH = 3  # shorter values would mask letters and digits everywhere
MAX_INDEXED = 100_000  # distinct values of one column kept in memory
BUDGET = 1_000_000  # values kept over all indexes
T = TypeVar("T")


@dataclass(frozen=True)
class ValueIndex:
    """The distinct values (as text) of one column, by their first `MIN_VALUE_LENGTH` characters,
    then by length: a text is searched with one set lookup per position and length."""

    buckets: dict[str, tuple[tuple[int, frozenset[str]], ...]]
    size: int

    @classmethod
    def of(cls, values: Iterable[str]) -> ValueIndex:
        grouped: dict[str, dict[int, set[str]]] = {}
        count = 0
        for value in values:
            if len(value) >= MIN_VALUE_LENGTH:
                grouped.setdefault(value[:MIN_VALUE_LENGTH], {}).setdefault(len(value), set()).add(value)
                count += 1
        return cls({head: tuple((length, frozenset(found)) for length, found in sorted(by_length.items()))
                    for head, by_length in grouped.items()}, count)

    def found_in(self, text: str) -> set[str]:
        """The values that occur in `text`."""
        found: set[str] = set()
        get, width = self.buckets.get, MIN_VALUE_LENGTH
        for start in range(len(text) - width + 1):
            lengths = get(text[start:start + width])
            if lengths:
                for length, values in lengths:
                    piece = text[start:start + length]
                    if piece in values:
                        found.add(piece)
        return found


_NOT_INDEXED = ValueIndex({}, 0)  # a column too large to keep: searched by DuckDB
_lock = threading.Lock()
_indexes: OrderedDict[tuple[str, int, int, str], ValueIndex] = OrderedDict()
_schemas: OrderedDict[tuple[str, int, int], frozenset[str]] = OrderedDict()
_kept = 0


def clear() -> None:
    """Forget every kept index (benchmarks measure the first search this way)."""
    global _kept
    with _lock:
        _indexes.clear()
        _schemas.clear()
        _kept = 0
        _kept_answers.clear()


def values_in(path: Path | str, columns: Iterable[str], text: str) -> set[str]:
    """The values of `columns` (those the file has) of the parquet file at `path` that occur in `text`.

    Raises what DuckDB raises for a file it cannot read."""
    from ..store import quote_path, scratch

    stat = Path(path).stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    con = None
    try:
        with _lock:
            names = _schemas.get(key)
        if names is None:
            con = con or scratch()
            names = frozenset(row[0] for row in con.execute(
                f"SELECT name FROM parquet_schema({quote_path(path)})").fetchall())
            with _lock:
                _schemas[key] = names
                while len(_schemas) > 4096:
                    _schemas.popitem(last=False)
        found: set[str] = set()
        for column in sorted(set(columns) & names):
            with _lock:
                index = _indexes.get((*key, column))
                if index is not None:
                    _indexes.move_to_end((*key, column))
            if index is None:
                con = con or scratch()
                index = _load(con, str(path), column)
                _keep((*key, column), index)
            if index is _NOT_INDEXED:
                con = con or scratch()
                found.update(_searched(con, str(path), column, text))
            else:
                found |= index.found_in(text)
        return found
    finally:
        if con is not None:
            con.close()


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _load(con: Any, path: str, column: str) -> ValueIndex:
    from ..store import quote_path

    rows = con.execute(
        f"SELECT DISTINCT v FROM (SELECT CAST({_ident(column)} AS VARCHAR) AS v FROM read_parquet({quote_path(path)})) "
        f"WHERE length(v) >= {MIN_VALUE_LENGTH} LIMIT {MAX_INDEXED + 1}"
    ).fetchall()
    if len(rows) > MAX_INDEXED:
        return _NOT_INDEXED
    return ValueIndex.of(str(row[0]) for row in rows)


def _searched(con: Any, path: str, column: str, text: str) -> set[str]:
    from ..store import quote_path

    rows = con.execute(
        f"SELECT DISTINCT v FROM (SELECT CAST({_ident(column)} AS VARCHAR) AS v FROM read_parquet({quote_path(path)})) "
        f"WHERE length(v) >= {MIN_VALUE_LENGTH} AND contains(?, v)", [text],
    ).fetchall()
    return {str(row[0]) for row in rows}


def _keep(key: tuple[str, int, int, str], index: ValueIndex) -> None:
    global _kept
    with _lock:
        if key in _indexes:
            return
        _indexes[key] = index
        _kept += index.size
        while _kept > BUDGET and len(_indexes) > 1:
            _, dropped = _indexes.popitem(last=False)
            _kept -= dropped.size


# --- what the ledger says of a version, kept until the catalog changes ----------------------------

_kept_answers: weakref.WeakKeyDictionary[Any, tuple[Any, int, dict[tuple[Any, ...], Any]]] = \
    weakref.WeakKeyDictionary()


def kept(spec: Any, ledger: Any, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """`compute()` (an answer about one dataset version: its PII columns, its file), answered from
    what this ledger handle kept while neither the spec object nor the catalog has changed."""
    try:
        seen = ledger.catalog.changes_seen()
    except AttributeError:  # a ledger-like object of a test or an older handle: nothing kept
        return compute()
    with _lock:
        try:
            entry = _kept_answers.get(ledger)
            if entry is None or entry[0]() is not spec or entry[1] != seen:
                entry = (weakref.ref(spec), seen, {})
                _kept_answers[ledger] = entry
        except TypeError:  # an object that cannot be referred to weakly: nothing kept
            entry = None
        if entry is not None and key in entry[2]:
            return entry[2][key]
    result = compute()
    with _lock:
        if entry is not None and len(entry[2]) < 100_000:
            entry[2][key] = result
    return result

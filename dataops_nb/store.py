"""The versioned dataset store: parquet files per version, read through DuckDB views.

A version is written under a temporary name and renamed into place only when complete,
so a killed writer never leaves a half-written file under a version's name. Which
version is current is the ledger's business, never the file system's.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

from .errors import PublishError
from .spec import validate_dataset_name

# The variable naming a step's context file: the runner writes the file, the runtime reads it.
CONTEXT_ENV = "DATAOPS_CONTEXT"


@dataclass(frozen=True)
class Written:
    path: Path
    rows: int
    bytes: int
    schema: list[dict[str, str]]
    dataset: str | None = None
    scratch: bool = False  # published by hand: a scratch file that no run sees

    def __str__(self) -> str:
        what = f"{self.dataset or self.path.stem}: {self.rows} rows, {len(self.schema)} columns"
        if not self.scratch:
            return f"{what}, staged at {self.path}"
        return (
            f"{what}, written to scratch {self.path}: no run sees it; in this kernel step.read and "
            f"step.sql now return it, while dn.read reads the published version (dn.read(..., scratch=True) reads this one)"
        )

    def __repr__(self) -> str:
        return f"<{self}>"


class Store:
    """Paths of one project's local state (`.dataops/`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def scratch_dir(self) -> Path:
        return self.root / "scratch"

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.db"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def version_path(self, dataset: str, version_id: str) -> Path:
        validate_dataset_name(dataset)
        return self.data_dir / dataset / f"{version_id}.parquet"

    def scratch_path(self, dataset: str) -> Path:
        validate_dataset_name(dataset)
        return self.scratch_dir / f"{dataset}.parquet"


def quote_path(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


_scratch: duckdb.DuckDBPyConnection | None = None
_scratch_lock = threading.Lock()


def scratch() -> duckdb.DuckDBPyConnection:
    """A cursor on the process's one in-memory DuckDB, for queries over files (no views).

    Opening a DuckDB connection costs ~25 ms; a cursor on an open one costs microseconds,
    and checks, profiles and parsers run once per published version.
    """
    import duckdb

    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = duckdb.connect(":memory:")
        return _scratch.cursor()


_sealed: duckdb.DuckDBPyConnection | None = None


def sealed() -> duckdb.DuckDBPyConnection:
    """A cursor on the process's one in-memory DuckDB that may open no file at all (for
    binding SQL from the spec: a query that would read a file fails to bind)."""
    global _sealed
    with _scratch_lock:
        if _sealed is None:
            _sealed = confined()
        return _sealed.cursor()


def confined(*, files: Iterable[Path | str] = (), directories: Iterable[Path | str] = ()) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB that may open only `files` and what lies under `directories`.

    Any other file is refused (`read_csv('/etc/passwd')`, globs, ATTACH, COPY elsewhere), and
    so are extension installs and Python objects by name (register them). DuckDB normalizes
    `..` before it compares, and the settings are locked: SQL cannot lift them. A database of
    its own, since the settings hold for a whole database (about 25 ms to open).
    """
    import duckdb

    def forms(paths: Iterable[Path | str]) -> set[str]:
        found = set()
        for path in paths:
            found.update({str(path), str(Path(path).resolve())})
        return found

    def listed(paths: Iterable[str]) -> str:
        return "[" + ", ".join(quote_path(p) for p in sorted(paths)) + "]"

    con = duckdb.connect(":memory:")
    try:
        folders = {folder.rstrip("/") + "/" for folder in forms(directories)}
        if folders:
            con.execute(f"SET allowed_directories = {listed(folders)}")
        allowed = forms(files)
        if allowed:
            con.execute(f"SET allowed_paths = {listed(allowed)}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def connect(views: dict[str, Path | str], *, confine_to: Iterable[Path | str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one read-only view per dataset.

    With `confine_to` (files and directories), it opens no file but the views' own and
    those in `confine_to` (see `confined`)."""
    import duckdb

    if confine_to is None:
        con = duckdb.connect(":memory:")
    else:
        allowed = [Path(p) for p in confine_to]
        con = confined(files=[*views.values(), *(p for p in allowed if not p.is_dir())],
                       directories=[p for p in allowed if p.is_dir()])
    for name, path in views.items():
        attach_view(con, name, path)
    return con


def attach_view(con: duckdb.DuckDBPyConnection, name: str, path: Path | str) -> None:
    schema, table = validate_dataset_name(name).split(".")
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    con.execute(
        f'CREATE OR REPLACE VIEW "{schema}"."{table}" AS SELECT * FROM read_parquet({quote_path(path)})'
    )


def write_parquet(con: duckdb.DuckDBPyConnection, data: Any, target: Path, *, dataset: str | None = None) -> Written:
    """Write polars / Arrow / pandas / DuckDB relation / SQL text to `target` atomically."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        _copy(con, data, tmp, dataset=dataset or target.stem)
        os.replace(tmp, target)
    except duckdb.Error as exc:
        raise PublishError(f"Could not write {target.name}: {str(exc).splitlines()[0]}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return describe(con, target)


def describe(con: duckdb.DuckDBPyConnection, path: Path) -> Written:
    source = f"read_parquet({quote_path(path)})"
    rows = con.sql(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    schema = [
        {"name": name, "type": dtype}
        for name, dtype, *_ in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
    ]
    return Written(path=path, rows=int(rows), bytes=path.stat().st_size, schema=schema)


def _copy(con: duckdb.DuckDBPyConnection, data: Any, tmp: Path, *, dataset: str) -> None:
    import duckdb

    from .frames import keeps_arrow_types, to_arrow

    options = "(FORMAT parquet, COMPRESSION zstd)"
    if isinstance(data, str):
        con.execute(f"COPY ({data}) TO {quote_path(tmp)} {options}")
        return
    if isinstance(data, duckdb.DuckDBPyRelation):
        data.to_parquet(str(tmp), compression="zstd")
        return
    frame = to_arrow(data, dataset=dataset)
    if keeps_arrow_types(frame):
        # DuckDB's writer turns a zoned timestamp into UTC and a categorical into a string;
        # Arrow's keeps both (in the file's Arrow schema), and DuckDB reads the file the same
        import pyarrow.parquet as pq

        pq.write_table(frame, str(tmp), compression="zstd")
        return
    name = f"__publish_{uuid.uuid4().hex[:8]}"
    con.register(name, frame)
    try:
        con.execute(f"COPY (SELECT * FROM {name}) TO {quote_path(tmp)} {options}")
    finally:
        con.unregister(name)

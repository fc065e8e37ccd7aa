"""Fixtures: real projects in tmp_path, real kernels, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def notebook(parameters: str, *cells: str) -> dict[str, Any]:
    """A step notebook: a parameters cell and code cells."""
    from dataops_nb.notebooks import step_notebook

    return step_notebook(parameters, *cells)


class ProjectFactory:
    """Builds a project directory: dataops.yaml plus notebooks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "notebooks").mkdir(parents=True, exist_ok=True)

    def notebook(self, name: str, parameters: str, *cells: str) -> Path:
        path = self.root / "notebooks" / f"{name}.ipynb"
        path.write_text(json.dumps(notebook(parameters, *cells), indent=1))
        return path

    def spec(self, text: str) -> Path:
        path = self.root / "dataops.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def cli(self, *args: str, env: dict[str, str] | None = None, check: int | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, env=env, check=check)

    def ledger_rows(self, sql: str) -> list[tuple[Any, ...]]:
        url = os.environ.get("DATAOPS_LEDGER_URL")
        if url:  # the project's ledger is the test's PostgreSQL database
            import psycopg

            from dataops_nb.ledger.postgres import translate

            with psycopg.connect(url) as con:
                return [tuple(row) for row in con.execute(translate(sql, ())[0]).fetchall()]
        import sqlite3

        con = sqlite3.connect(self.root / ".dataops" / "ledger.db")
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def snapshot(self) -> dict[str, bytes]:
        """Every file of the project (for 'nothing stored changed' assertions)."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm")) and p.name != "run.lock"
        }


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, check: int | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "dataops_nb.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


TWO_STEPS = """
name: twosteps
environments:
  test: {params: {n: 5}}
steps:
  - name: make
    notebook: notebooks/make.ipynb
  - name: double
    notebook: notebooks/double.ipynb
    needs: [make]
datasets:
  raw.numbers:
    description: The numbers 0..n-1.
    owner: tests
"""


@pytest.fixture
def project(tmp_path: Path) -> ProjectFactory:
    return ProjectFactory(tmp_path / "proj")


def make_two_steps(project: ProjectFactory, spec: str = TWO_STEPS) -> ProjectFactory:
    """make -> double: raw.numbers, then staging.doubled (SQL and polars)."""
    project.notebook(
        "make",
        "n = 10",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.numbers", f"select range as i from range({n})")
        """,
    )
    project.notebook(
        "double",
        "factor = 2",
        """
        import polars as pl
        import dataops_nb as dn
        step = dn.step()
        df = step.read("raw.numbers").with_columns((pl.col("i") * factor).alias("j"))
        step.publish("staging.doubled", df)
        """,
    )
    project.spec(spec)
    return project


@pytest.fixture
def two_steps(project: ProjectFactory) -> ProjectFactory:
    """make -> double: raw.numbers, then staging.doubled (SQL and polars)."""
    return make_two_steps(project)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of this test process (each xdist worker has its own)."""
    from .pg import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of an empty database of this test's own on the session's PostgreSQL server."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_backend(request, monkeypatch) -> str:
    """Runs a test once per ledger backend: the default SQLite file, then a PostgreSQL database of
    its own, through DATAOPS_LEDGER_URL (the CLI, the server and kernels inherit it). Returns its URL,
    or "" for SQLite."""
    if request.param == "sqlite":
        monkeypatch.delenv("DATAOPS_LEDGER_URL", raising=False)
        return ""
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("DATAOPS_LEDGER_URL", url)
    return url

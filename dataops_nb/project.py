"""A project on disk: its root, its spec, its store and its ledger."""

from __future__ import annotations

import subprocess
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import NotebookError, SpecError
from .ledger import Ledger
from .spec import SPEC_FILE, Step, find_project, line_of, load_spec, read_yaml
from .store import Store


class Project:
    def __init__(self, root: Path, *, store_root: Path | None = None) -> None:
        self.root = root.resolve()
        self.spec_path = self.root / SPEC_FILE
        # a checkout of the project at another commit (a replay's) shares the project's store
        self._store_root = store_root
        self.reload()

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        return cls(find_project(start))

    @cached_property
    def store(self) -> Store:
        return Store(self._store_root or (self.root / self.spec.store).resolve())

    @property
    def ledger_url(self) -> str:
        """`sqlite:///<store>/ledger.db`, or a shared ledger's URL from the environment: the variable the
        spec's `ledger.url_env` names, else DATAOPS_LEDGER_URL. The URL itself is never in the spec."""
        import os

        config = self.spec.ledger
        name = config.url_env if config else "DATAOPS_LEDGER_URL"
        url = os.environ.get(name, "").strip()
        if url:
            return url
        if config is not None:
            from .errors import LedgerError

            message = (f"{self.where('ledger', 'url_env')} ledger.url_env: the environment variable {name} "
                       "is not set (it holds the shared ledger's URL).")
            raise LedgerError(message)
        return f"sqlite:///{self.store.ledger_path}"

    @property
    def ledger_source(self) -> str | None:
        """The environment variable the ledger's URL came from (None for the store's SQLite file)."""
        import os

        config = self.spec.ledger
        name = config.url_env if config else "DATAOPS_LEDGER_URL"
        return name if os.environ.get(name, "").strip() else None

    @property
    def shared_ledger(self) -> bool:
        """Whether the ledger is a server's (PostgreSQL) rather than the store's SQLite file."""
        return not self.ledger_url.startswith("sqlite:")

    @property
    def ledger(self) -> Ledger:
        """The ledger for reading: opening it never writes (a project without one reads as empty).

        After `writable_ledger()`, the same handle serves reads too."""
        opened = self.__dict__.get("_ledger")
        if opened is None:
            opened = Ledger.open(self.ledger_url, readonly=True, store_root=self.store.root,
                                 source=self.ledger_source, default_environment=self.spec.default_environment)
            if not getattr(opened.db, "in_memory", False):  # an empty stand-in is not kept: the next read sees the file once it exists
                self.__dict__["_ledger"] = opened
        return opened

    def writable_ledger(self) -> Ledger:
        """The ledger for a command that writes: opened read-write, migrated, dead runs reaped."""
        opened = self.__dict__.get("_writable_ledger")
        if opened is None:
            import socket

            opened = Ledger.open(self.ledger_url, store_root=self.store.root, source=self.ledger_source,
                                 default_environment=self.spec.default_environment)
            opened.migrate()
            opened.runs.reap_dead(socket.gethostname())
            self.__dict__["_writable_ledger"] = self.__dict__["_ledger"] = opened
        return opened

    def environment(self, name: str | None = None) -> str:
        """The environment `name` (validated), or the default one."""
        return self.spec.environment_chain(name)[0]

    def current_versions(self, env: str | None = None) -> dict[str, Any]:
        """The datasets `env` (default: the default environment) reads: its own current versions,
        then its base's for the datasets it did not build (an empty dict without a ledger)."""
        if not self.has_ledger():
            return {}
        return self.ledger.current_versions(self.spec.environment_chain(env))

    def has_ledger(self) -> bool:
        return self.shared_ledger or self.store.ledger_path.is_file()

    def notebook_path(self, step: Step) -> Path:
        path = (self.root / step.notebook).resolve()
        problem = None
        if not path.is_relative_to(self.root):
            problem = "is outside the project"
        elif not path.is_file():
            problem = "does not exist"
        if problem:
            where = self.where("steps", self.spec.step_names.index(step.name), "notebook")
            raise NotebookError(f"{where} steps[{step.name}].notebook: {step.notebook} {problem}.")
        return path

    def where(self, *loc: Any) -> str:
        """`dataops.yaml:LINE:` of a field of the spec (`loc` as in `steps, 2, notebook`), for messages.

        Read again from the file: only errors ask, and the spec in memory may come from a cache
        that has no lines."""
        try:
            line = line_of(read_yaml(self.spec_path), loc)
        except SpecError:
            line = None
        return f"{SPEC_FILE}:{line}:" if line else f"{SPEC_FILE}:"

    def relative(self, path: Path | str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def git_state(self) -> dict[str, Any]:
        """The commit and dirty flag of the project's repository, when it is one."""
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=self.root, capture_output=True, text=True, timeout=10
            )
            if commit.returncode != 0:
                return {"git_commit": None, "git_dirty": None}
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=10,
            )
            return {"git_commit": commit.stdout.strip(), "git_dirty": int(bool(dirty.stdout.strip()))}
        except (OSError, subprocess.TimeoutExpired):
            return {"git_commit": None, "git_dirty": None}

    def reload(self) -> None:
        from .quality.declared import bind_checks, validate_checks

        self.spec, self.document = load_spec(self.spec_path, validate=validate_checks)
        bind_checks(self.spec, self.spec_path, self._current_schema)

    def _current_schema(self, dataset: str) -> list[dict[str, Any]] | None:
        """The columns of the dataset's current version, when the project has a ledger."""
        if not self.has_ledger():
            return None
        version = self.current_versions().get(dataset)
        return version.schema if version else None

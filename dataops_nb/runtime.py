"""The in-notebook step API: `dn.step()` and what it returns.

Under the runner, the kernel's environment names a context file (DATAOPS_CONTEXT):
the run, the step, the current dataset versions and where to stage outputs. Run by
hand in JupyterLab there is no context: the step reads the latest published data and
publishes to a scratch area that no run sees.

A step never writes the ledger. It writes its staged files and its manifest; the
runner checks and promotes them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .errors import AccessDeniedError, DataOpsError, NotFoundError, PublishError
from .ledger import Ledger, stored_path
from .spec import DATASET_NAME, SPEC_FILE, find_project, resolve_dataset_name, validate_dataset_name
from .store import CONTEXT_ENV, Store, Written, attach_view, connect, scratch, write_parquet

ENV_VARIABLE = "DATAOPS_ENV"  # the environment a notebook run by hand reads (default: the spec's default)
_QUALIFIED = re.compile(r'"?\b([A-Za-z_][A-Za-z0-9_]*)"?\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*)\b"?')


@dataclass
class StepContext:
    """What a step notebook works with: data in, data out, parameters and secrets."""

    project: Path
    store: Store
    step_name: str | None
    run_id: str | None
    version_id: str
    datasets: dict[str, dict[str, str]]
    secrets_env: dict[str, str]
    manifest_path: Path | None
    dev: bool
    attempt: int = 1
    environment: str | None = None  # whose "current" the views show
    # a notebook run by hand reads as its user, within `access` (the spec and the user), any version
    reader: tuple[Any, str] | None = None
    # the variable that holds a shared ledger's URL (a name, never the URL: it may carry a password)
    ledger_env: str = "DATAOPS_LEDGER_URL"
    # the spec's `pii` tags, by dataset: the manifest never holds the extremes of those columns
    pii_tagged: dict[str, list[str]] = field(default_factory=dict)
    _read: dict[str, str | None] = field(default_factory=dict)
    _checks: list[dict[str, Any]] = field(default_factory=list)
    _published: dict[str, dict[str, Any]] = field(default_factory=dict)
    _files: dict[str, str] = field(default_factory=dict)  # file or URL opened with input() -> its version
    _con: duckdb.DuckDBPyConnection | None = None
    _parser: duckdb.DuckDBPyConnection | None = None

    # --- reading -----------------------------------------------------------------

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection on which every current dataset is a view.

        Run by hand, the views are the datasets the user may read, and the connection opens no
        other file of the store (see `_reach`)."""
        if self._con is None:
            views = {name: self._file(info) for name, info in self.datasets.items()}
            self._con = connect(views, confine_to=self._reach() if self.reader is not None else None)
        return self._con

    def _reach(self) -> list[Path]:
        """What a hand-run notebook's SQL may open besides its views: the scratch area it
        publishes to, and the project's files and folders outside the store (not hidden ones)."""
        self.store.scratch_dir.mkdir(parents=True, exist_ok=True)
        return [self.store.scratch_dir, *outside(self.project, self.store.root)]

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Run DuckDB SQL over the datasets; `.pl()` on the result gives polars."""
        self._note_reads(query)
        if self.reader is not None:  # a confined connection does not find dataframes by name
            self._register_frames(query, sys._getframe(1))
        return self.con.sql(query)

    def _register_frames(self, query: str, frame: Any) -> None:
        """Register the caller's dataframes that `query` names bare, as DuckDB would find them."""
        from .frames import to_arrow

        try:
            names = self._parser.get_table_names(query) if self._parser is not None else set()
        except duckdb.Error:
            return
        for name in names:
            value = frame.f_locals.get(name, frame.f_globals.get(name))
            if "." not in name and type(value).__module__.split(".")[0] in ("polars", "pandas", "pyarrow"):
                self.con.register(name, to_arrow(value))

    def read(self, name: str, *, version: str | None = None, as_of: str | None = None,
             published: bool = False) -> Any:
        """A dataset as a polars DataFrame: the current version, `version` (a run id or
        `name@run_id`), or the version that was current when run `as_of` ended.

        What this step published itself comes first (as in SQL over its views), unless
        `published`: then the version the ledger has current.
        """
        import polars as pl

        name = resolve_dataset_name(name)
        self._check_access(name)
        if version is not None and as_of is not None:
            raise DataOpsError("Pass version= or as_of=, not both.")
        if as_of is not None:
            from .metadata.retention import as_of_path

            with reading_ledger(self.store, self.ledger_env) as ledger:
                record, path = as_of_path(ledger, name, as_of)
            self._read[name] = record.version_id
            self._save_manifest()
            return pl.read_parquet(path)
        if version is not None:
            from .metadata.retention import missing_version, parse_version

            version_id, run_id = parse_version(name, version)
            path = self.store.version_path(name, run_id)
            if not path.is_file():  # gc collected it, or there never was one: the ledger knows which
                with reading_ledger(self.store, self.ledger_env) as ledger:
                    raise missing_version(ledger, name, version_id, version)
            self._read[name] = version_id
            self._save_manifest()
            return pl.read_parquet(path)
        info = self._lookup(name, published=published)
        self._note(name)
        return pl.read_parquet(self._file(info))

    def _file(self, info: dict[str, Any]) -> Path:
        """The file of a dataset entry: its path is relative to the store root (or absolute)."""
        return self.store.root / info["path"]

    def _check_access(self, name: str) -> None:
        if self.reader is not None and not _may_read(*self.reader, name):
            raise AccessDeniedError(
                f"User '{self.reader[1]}' may not read {name} (see access.roles in dataops.yaml)."
            )

    def _lookup(self, name: str, *, published: bool = False) -> dict[str, str]:
        if name in self._published and not (published and name in self.datasets):
            return self._published[name]
        if name not in self.datasets:
            raise NotFoundError("dataset", name, self.datasets)
        return self.datasets[name]

    def _note(self, name: str) -> None:
        if name in self._published:
            return  # reading one's own output is not lineage
        if name in self.datasets:
            self._read.setdefault(name, self.datasets[name].get("version"))
            self._save_manifest()  # reads are on record as they happen (gc spares what a step read)

    def _note_reads(self, query: str) -> None:
        # parse on an empty connection: where the names are views, DuckDB reports what they expand to
        if self._parser is None:
            self._parser = scratch()
        try:
            names = {
                table.split(" AS ")[0].strip().strip('"')
                for table in self._parser.get_table_names(query, qualified=True)
            }
        except duckdb.Error:
            names = {f"{schema}.{table}" for schema, table in _QUALIFIED.findall(query)}
        # names resolve as DuckDB resolves them: case-insensitive, quoted or not
        names = {".".join(p.strip().strip('"') for p in name.split(".")).lower() for name in names}
        names = {name for name in names if DATASET_NAME.match(name)}
        for name in names:
            self._check_access(name)
        for name in names:
            self._note(name)
        self._save_manifest()

    def input(self, path: str | Path) -> Any:
        """A file this step reads from outside the store (relative to the project, or absolute;
        or an http(s) URL): its version joins the step's fingerprint and lineage, so the step
        runs again when the file changes. Returns the file's absolute Path (a URL as given)."""
        from .inputs import FileVersions, InputError, is_url, key_of

        text = str(path)
        if is_url(text):
            target: Any = text
            key = text
        else:
            target = Path(path) if Path(path).is_absolute() else self.project / path
            if not target.is_file():
                raise InputError(f"Input file {text} does not exist (looked for {target}).", path=text)
            key = key_of(target, self.project)
        if self.manifest_path is not None:
            versions = FileVersions(self.project, self.store.root / "cache")
            self._files[key] = versions.version(key)
            versions.save()
            self._save_manifest()
        return target

    # --- writing -----------------------------------------------------------------

    def publish(self, name: str, data: Any, *, replace: bool = False) -> Written:
        """Stage a new version of `name` from polars, Arrow, pandas, a relation or SQL.

        A dataset is published once per step: a second `publish` of it is an error unless
        `replace=True` (run by hand, publishing again simply replaces the scratch file).
        """
        validate_dataset_name(name)
        if name in self._published and not replace and not self.dev:
            raise PublishError(
                f"This step already published {name}; pass replace=True to publish it again "
                "(a second publish replaces the first)."
            )
        self._claim(name)
        if isinstance(data, str):
            self._note_reads(data)
        if self.dev:
            target = self.store.scratch_path(name)
        else:
            target = self.store.version_path(name, self.version_id)
        written = self._without_secrets(write_parquet(self.con, data, target, dataset=name))
        written = dataclasses.replace(written, dataset=name, scratch=self.dev)
        self._published[name] = {
            "dataset": name,
            "version": self.version_id,
            "path": stored_path(written.path, self.store.root),  # the runner resolves it in its store
            "rows": written.rows,
            "bytes": written.bytes,
            "schema": written.schema,
            "sql": _sql_of(data),
            **self._catalog_entry(written),
        }
        attach_view(self.con, name, written.path)  # the step sees what it just published
        self._save_manifest()
        return written

    def _claim(self, name: str) -> None:
        """Under the runner, one step of a run publishes a dataset: the first to claim it.

        The claim is a file created exclusively in the run's folder, so two steps running
        side by side cannot both write the version's one file; a retry of the same step may.
        """
        if self.manifest_path is None or self.step_name is None:
            return
        claims = self.manifest_path.parent / ".claims"
        claims.mkdir(parents=True, exist_ok=True)
        claim = claims / name
        try:
            fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = claim.read_text().strip()
            if owner != self.step_name:
                raise PublishError(
                    f"Step '{owner}' already published {name} in this run; a dataset has one "
                    f"publishing step, so step '{self.step_name}' may not publish it too."
                ) from None
            return
        with os.fdopen(fd, "w") as handle:
            handle.write(self.step_name)

    def _without_secrets(self, written: Written) -> Written:
        """The staged file with this step's secrets masked: a secret is never published."""
        from .secrets import MIN_LENGTH, Redactor, mask_parquet

        values = [os.environ.get(env) or "" for env in self.secrets_env.values()]
        redactor = Redactor(v for v in values if len(v) >= MIN_LENGTH)
        if not mask_parquet(self.con, written.path, written.schema, redactor):
            return written
        schema = [{**column, "name": redactor.text(column["name"])} for column in written.schema]
        return dataclasses.replace(written, bytes=written.path.stat().st_size, schema=schema)

    def _catalog_entry(self, written: Written) -> dict[str, Any]:
        """The column profile and auto-flagged PII, computed here while the file is warm.

        Only under the runner (a manifest to write); a failure here never fails the
        publish: the runner computes what the manifest lacks when it promotes.
        """
        if self.manifest_path is None:
            return {}
        from .metadata.pii import describe_file

        try:
            return describe_file(written.path, written.schema, self.con, rows=written.rows,
                                 tagged=self.pii_tagged.get(written.dataset or "", ()))
        except Exception as exc:  # noqa: BLE001 - the catalog must not break a publish
            return {"catalog_error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}

    def _save_manifest(self) -> None:
        if self.manifest_path is None:
            return
        manifest = {
            "run_id": self.run_id,
            "step": self.step_name,
            "attempt": self.attempt,
            "published": list(self._published.values()),
            "read": [
                {"dataset": name, "version": version} for name, version in sorted(self._read.items())
            ],
            "checks": self._checks,
            "files": [{"path": key, "version": version} for key, version in sorted(self._files.items())],
        }
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, self.manifest_path)

    def check(self, name: str) -> CheckBuilder:
        """Declare checks on a dataset this step publishes; the runner runs them before promotion."""
        validate_dataset_name(name)
        return CheckBuilder(self, name)

    def _add_check(self, record: dict[str, Any]) -> None:
        from .quality.checks import from_record

        from_record(record)  # a malformed check fails here, in the cell that declares it
        self._checks.append(record)
        self._save_manifest()

    # --- secrets -----------------------------------------------------------------

    def secret(self, name: str) -> str:
        """The value of a `{secret: ENV}` parameter, read from the environment."""
        env = self.secrets_env.get(name)
        if env is None:
            raise NotFoundError("secret parameter", name, self.secrets_env)
        value = os.environ.get(env)
        if value is None:
            raise DataOpsError(f"Secret parameter '{name}' needs the environment variable {env}.")
        return value

    def __repr__(self) -> str:
        mode = "dev (publishes to scratch)" if self.dev else f"run {self.run_id}"
        return f"<dataops step {self.step_name or '?'}: {mode}, {len(self.datasets)} datasets>"


class CheckBuilder:
    """`step.check("ds").not_null("a").unique("id")`: each call declares one check.

    Every method takes `severity="warn"|"error"` and thresholds `warn_if` / `error_if`
    (a count or a fraction: ">0", ">1%", "between 5 and 10").
    """

    def __init__(self, step: StepContext, dataset: str) -> None:
        self._step, self.dataset = step, dataset

    def _add(self, kind: str, column: str | None = None, **args: Any) -> CheckBuilder:
        options = {k: args.pop(k) for k in ("severity", "warn_if", "error_if") if k in args}
        record = {"kind": kind, "dataset": self.dataset, "column": column,
                  "args": {k: v for k, v in args.items() if v is not None}, **options}
        self._step._add_check(record)
        return self

    def not_null(self, column: str, **options: Any) -> CheckBuilder:
        return self._add("not_null", column, **options)

    def unique(self, *columns: str, **options: Any) -> CheckBuilder:
        if len(columns) == 1:
            return self._add("unique", columns[0], **options)
        return self._add("unique", None, columns=list(columns), **options)

    def accepted_values(self, column: str, values: list[Any], **options: Any) -> CheckBuilder:
        return self._add("accepted_values", column, values=list(values), **options)

    def range(self, column: str, min: Any = None, max: Any = None, **options: Any) -> CheckBuilder:
        return self._add("range", column, min=min, max=max, **options)

    def regex(self, column: str, pattern: str, **options: Any) -> CheckBuilder:
        return self._add("regex", column, pattern=pattern, **options)

    def relationships(self, column: str, to: str, field: str, **options: Any) -> CheckBuilder:
        return self._add("relationships", column, to=to, field=field, **options)

    def row_count(self, min: int | None = None, max: int | None = None, **options: Any) -> CheckBuilder:
        return self._add("row_count", None, min=min, max=max, **options)

    def freshness(self, column: str, warn_after: float | None = None, error_after: float | None = None,
                  **options: Any) -> CheckBuilder:
        return self._add("freshness", column, warn_after=warn_after, error_after=error_after, **options)

    def schema(self, allow_added: bool = True, **options: Any) -> CheckBuilder:
        return self._add("schema", None, allow_added=allow_added, **options)

    def sql(self, query: str, **options: Any) -> CheckBuilder:
        return self._add("sql", None, query=query, **options)

    def volume_anomaly(self, **options: Any) -> CheckBuilder:
        return self._add("volume_anomaly", None, **options)

    def null_rate_anomaly(self, column: str, **options: Any) -> CheckBuilder:
        return self._add("null_rate_anomaly", column, **options)

    def add(self, kind: str, column: str | None = None, **arguments: Any) -> CheckBuilder:
        """A check of any kind by name: the kit's, or one a project installs (entry point
        group `dataops_nb.checks`), e.g. `.add("positive", "amount", strict=False)`."""
        return self._add(kind, column, **arguments)

    def __repr__(self) -> str:
        count = sum(1 for c in self._step._checks if c["dataset"] == self.dataset)
        return f"<{count} check(s) on {self.dataset}, run before it is published>"


_current: tuple[str, StepContext] | None = None


def step(env: str | None = None) -> StepContext:
    """The step context: injected by the runner, or a dev context when run by hand.

    By hand, every dataset current in `env` is a view: its own versions, then its base's
    (default: $DATAOPS_ENV, else the spec's default environment). In a run, the run's."""
    global _current
    path = os.environ.get(CONTEXT_ENV, "")
    key = path or f"dev:{env or os.environ.get(ENV_VARIABLE) or ''}"
    if _current is None or _current[0] != key:
        _current = (key, _from_context_file(Path(path)) if path else _dev_context(env))
    context = _current[1]
    if path and env is not None and env != context.environment:
        raise DataOpsError(
            f"This step runs in environment '{context.environment}' and reads its datasets: "
            f"env='{env}' is for notebooks run by hand."
        )
    return context


def _from_context_file(path: Path) -> StepContext:
    context = json.loads(path.read_text())
    if context.get("mode") == "test":
        return _test_context(context)
    return StepContext(
        project=Path(context["project"]),
        store=Store(Path(context["store"])),
        step_name=context["step"],
        run_id=context["run_id"],
        version_id=context["version_id"],
        datasets=context["datasets"],
        secrets_env=context["secrets"],
        manifest_path=Path(context["manifest"]),
        dev=False,
        attempt=context.get("attempt", 1),
        environment=context.get("environment"),
        pii_tagged=context.get("pii") or {},
    )


def _may_read(spec: Any, user: str, dataset: str) -> bool:
    from .security import may

    return may(spec, user, dataset, "read")


def _dev_context(env: str | None = None) -> StepContext:
    from .security import current_user
    from .spec import load_spec

    project = find_project()
    spec, _ = load_spec(project / SPEC_FILE)
    chain = spec.environment_chain(env or os.environ.get(ENV_VARIABLE) or None)
    store = Store(project / spec.store)
    session = os.environ.get("JPY_SESSION_NAME", "")
    step_name, secrets = None, {}
    for candidate in spec.steps:
        if session and Path(session).resolve() == (project / candidate.notebook).resolve():
            step_name = candidate.name
    for candidate in spec.steps:
        if step_name in (None, candidate.name):
            for key, variable in candidate.secrets().items():
                secrets.setdefault(key, variable)
    user = current_user()
    ledger_env = spec.ledger.url_env if spec.ledger else "DATAOPS_LEDGER_URL"
    return StepContext(
        project=project,
        store=store,
        step_name=step_name,
        run_id=None,
        version_id="scratch",
        datasets={name: info for name, info in current_datasets(store, ledger_env, chain).items()
                  if _may_read(spec, user, name)},
        secrets_env=secrets,
        manifest_path=None,
        dev=True,
        reader=(spec, user),
        ledger_env=ledger_env,
        environment=chain[0],
    )


def _test_context(context: dict[str, Any]) -> StepContext:
    """`dataops-nb test`: a throwaway store; each notebook sees what earlier ones published."""
    store = Store(Path(context["store"]))
    datasets = {
        folder.name: {"version": "test", "path": str(folder / "test.parquet")}
        for folder in sorted(store.data_dir.glob("*.*"))
        if (folder / "test.parquet").is_file()
    }
    return StepContext(
        project=Path(context["project"]),
        store=store,
        step_name=None,
        run_id=None,
        version_id="test",
        datasets=datasets,
        secrets_env=context["secrets"],
        manifest_path=None,
        dev=False,
    )


@contextmanager
def reading_ledger(store: Store, ledger_env: str = "DATAOPS_LEDGER_URL") -> Iterator[Ledger | Path]:
    """The project's ledger opened read-only for the block: a shared one (its URL in the variable
    `ledger_env`), else the store's SQLite file; the file's path when there is none yet."""
    url = os.environ.get(ledger_env, "").strip()
    if not url and not store.ledger_path.is_file():
        yield store.ledger_path
        return
    opened = Ledger.open(url or store.ledger_path, readonly=True, store_root=store.root)
    try:
        yield opened
    finally:
        opened.close()


def current_datasets(store: Store, ledger_env: str = "DATAOPS_LEDGER_URL",
                     environments: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Versions current in `environments` (an environment, then its bases; default: the default
    one) straight from the ledger, read-only (no write, no migration)."""
    with reading_ledger(store, ledger_env) as ledger:
        current = {} if isinstance(ledger, Path) else ledger.versions.current(environments)
    return {name: {"version": v.version_id, "path": v.path} for name, v in current.items()}


def outside(root: Path, store: Path) -> list[Path]:
    """The files and folders of `root` that hold no part of `store`, hidden ones left out."""
    store = store.resolve()
    found: list[Path] = []

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            real = entry.resolve()
            if entry.name.startswith(".") or real.is_relative_to(store):
                continue
            if store.is_relative_to(real):
                walk(entry)
            else:
                found.append(entry)

    walk(root)
    return found


def read(name: str, *, version: str | None = None, as_of: str | None = None, scratch: bool = False,
         env: str | None = None) -> Any:
    """A dataset as polars, from anywhere in the project: current, a `version`, or `as_of` a run.

    Current means current in `env` (its own version, else its base's; default: $DATAOPS_ENV,
    else the spec's default environment). Run by hand, it reads the published version even
    after `step.publish` wrote a scratch one in this kernel; `scratch=True` reads the scratch one.
    """
    context = step(env)
    return context.read(name, version=version, as_of=as_of, published=context.dev and not scratch)


def _sql_of(data: Any) -> str | None:
    """The SQL that made a published relation or SQL text (for column lineage), if any."""
    if isinstance(data, str):
        return data
    if isinstance(data, duckdb.DuckDBPyRelation):
        try:
            return str(data.sql_query())
        except duckdb.Error:
            return None
    return None

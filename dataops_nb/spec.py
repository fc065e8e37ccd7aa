"""The pipeline spec (`dataops.yaml`): pydantic models, loading, and errors with lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator

from .errors import DataOpsError, DatasetNameError, SpecError, did_you_mean

SPEC_FILE = "dataops.yaml"
Validator = Callable[["Spec", Any, Path], None]  # more rules on a validated spec (the quality checks)
DATASET_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def validate_environment_name(name: str) -> str:
    """Return `name` if it can name an environment (letters, digits, `-` and `_`), else raise."""
    if not isinstance(name, str) or not ENVIRONMENT_NAME.match(name):
        from .errors import DataOpsError

        raise DataOpsError(
            f"'{name}' is not an environment name: use letters, digits, '-' and '_' (such as dev-alice or pr-123)."
        )
    return name


def validate_dataset_name(name: str) -> str:
    """Return `name` if it is `schema.table` of identifiers, else raise."""
    if not isinstance(name, str) or not DATASET_NAME.match(name):
        raise DatasetNameError(str(name))
    return name


def resolve_dataset_name(name: str) -> str:
    """`name` as DuckDB resolves it, then validated: identifiers are case-insensitive, quoted
    or not, so `Raw.Companies` and `"raw"."Companies"` are both raw.companies."""
    if isinstance(name, str) and name.count(".") == 1:
        name = ".".join(part.strip().strip('"').lower() for part in name.split("."))
    return validate_dataset_name(name)


def parse_duration(value: str | float) -> float:
    """Seconds from `90`, `"90s"`, `"10m"`, `"2h"`, `"7d"`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a duration (use e.g. 30s, 10m, 2h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


# what editors see for a duration: seconds, or a number with a unit ("30s", "10m", "2h", "7d")
DURATION_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0},
                             {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"}]}
Duration = Annotated[float, WithJsonSchema(DURATION_SCHEMA)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """A parameter whose value comes from an environment variable inside the kernel."""

    secret: str


class Step(_Model):
    name: str
    notebook: str
    needs: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration | None = Field(default=None, description="Seconds, or 30s / 10m / 2h.")
    retries: int = Field(default=0, ge=0, le=10)
    description: str = ""
    inputs: list[str] = Field(
        default_factory=list,
        description="Files the step reads (relative to the project; globs allowed) or http(s) URLs: "
        "their content joins the fingerprint and the lineage.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not STEP_NAME.match(value):
            raise ValueError(f"step name '{value}' must be an identifier (letters, digits, _ or -)")
        return value

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.strip():
                raise ValueError("an input must be a path or an http(s) URL, not empty")
            if "://" in item and not item.startswith(("http://", "https://")):
                raise ValueError(f"input '{item}' is a URL of a scheme the kit cannot version (use http or https)")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if isinstance(item, dict) and "secret" in item:
                SecretRef.model_validate(item)
            elif not key.isidentifier():
                raise ValueError(f"parameter '{key}' is not a Python identifier")
        return value

    def secrets(self) -> dict[str, str]:
        """Parameter name -> environment variable, for `{secret: ENV}` parameters."""
        return {
            key: item["secret"]
            for key, item in self.params.items()
            if isinstance(item, dict) and "secret" in item
        }

    def plain_params(self) -> dict[str, Any]:
        return {key: item for key, item in self.params.items() if key not in self.secrets()}


class Freshness(_Model):
    column: str | None = None
    warn_after: Duration | None = None
    error_after: Duration | None = None

    @field_validator("warn_after", "error_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)


class Column(_Model):
    description: str = ""
    type: str | None = None
    tags: list[str] = Field(default_factory=list)
    checks: list[Any] = Field(default_factory=list)


class Dataset(_Model):
    description: str = ""
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    freshness: Freshness | None = None
    columns: dict[str, Column] = Field(default_factory=dict)
    checks: list[Any] = Field(default_factory=list)
    keep_versions: int | None = Field(default=None, ge=1)
    key: list[str] | None = Field(default=None, description="Columns that identify a row (what `diff` matches rows by).")

    @property
    def pii_columns(self) -> list[str]:
        return [name for name, col in self.columns.items() if "pii" in col.tags]


class Environment(_Model):
    params: dict[str, Any] = Field(default_factory=dict)
    base: str | None = Field(
        default=None,
        description="Where the datasets this environment does not build are read from (default: the default environment).",
    )


class Role(_Model):
    read: list[str] = Field(default_factory=list)
    unmask: list[str] = Field(default_factory=list)
    review: list[str] = Field(default_factory=list)
    run: list[str] = Field(default_factory=list, description="Steps (name patterns) this role may run from the server.")
    promote: list[str] = Field(
        default_factory=list,
        description="Environments (name patterns) this role may promote into from the server (JupyterLab).",
    )


class Access(_Model):
    roles: dict[str, Role] = Field(default_factory=dict)
    members: dict[str, list[str]] = Field(default_factory=dict)


class Lineage(_Model):
    """Where OpenLineage events go: always files under the store; also HTTP when `url` is set."""

    url: str | None = None
    namespace: str | None = Field(default=None, description="Default: dataops://<pipeline name>.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding a bearer token.")
    timeout: float = 5.0


class LedgerConfig(_Model):
    """Where the ledger lives: a SQLite file in the store by default; a team's shared URL from the environment.

    The URL (`postgresql://user:password@host/db`) is never written in the spec, only the name of
    the environment variable that holds it."""

    url_env: str = Field(default="DATAOPS_LEDGER_URL", description="Environment variable holding the ledger URL.")

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError("must name an environment variable (such as DATAOPS_LEDGER_URL), not hold the URL")
        return value


# what a notification rule can fire on (`notify.rules[].on`)
EVENTS = (
    "run_failed", "run_succeeded", "step_failed", "step_timed_out", "error_check", "warn_check", "quarantine",
    "freshness_warn", "freshness_error", "volume_anomaly", "pipeline_overdue", "promotion",
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Channel(_Model):
    """Where alerts go: an apprise URL (Slack, Teams, e-mail, Matrix, json://...) read from the environment."""

    url_env: str = Field(description="Environment variable holding the apprise URL (it holds tokens).")
    timeout: Duration = Field(default=10.0, description="Seconds one attempt may take (one retry follows a failure).")

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError("must name an environment variable, not hold the URL")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)


class Rule(_Model):
    """Which events go to which channels: `to: owners` sends to each affected dataset's owner's channels."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    on: list[str] = Field(min_length=1, description="Event names: " + ", ".join(EVENTS) + ".")
    to: str | list[str] = Field(description="`owners`, or a list of channel names (`owners` may be one of them).")
    environments: list[str] | None = Field(default=None, description="Only events of these environments.")

    @property
    def targets(self) -> list[str]:
        return [self.to] if isinstance(self.to, str) else list(self.to)


class Notify(_Model):
    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    report_url: str | None = Field(
        default=None, description="Link to a run's report, `{run_id}` filled in (default: the report file's path).")


class Owner(_Model):
    description: str = ""
    notify: list[str] = Field(default_factory=list, description="Channels of `notify.channels` this owner hears on.")


class Secrets(_Model):
    """Spec-wide rules for secret variables."""

    pass_env: list[str] = Field(
        default_factory=list,
        description="Variables named by `{secret: ENV}` parameters that every step's kernel may see.",
    )


class Spec(_Model):
    name: str
    description: str = ""
    store: str = ".dataops"
    lineage: Lineage = Field(default_factory=Lineage)
    ledger: LedgerConfig | None = None
    environments: dict[str, Environment] = Field(default_factory=dict)
    default_environment: str = Field(default="prod", description="The environment of runs and reads that name none.")
    steps: list[Step] = Field(default_factory=list)
    datasets: dict[str, Dataset] = Field(default_factory=dict)
    access: Access = Field(default_factory=Access)
    secrets: Secrets = Field(default_factory=Secrets)
    notify: Notify = Field(default_factory=Notify)
    owners: dict[str, Owner] = Field(default_factory=dict)
    schedule: str | None = Field(default=None, description="When the pipeline is expected to run (cron, or @daily ...).")

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        from .errors import NotFoundError

        raise NotFoundError("step", name, self.step_names)

    def base_of(self, name: str) -> str | None:
        """The environment `name` reads what it does not build from (None for the default one)."""
        declared = self.environments.get(name)
        if declared is not None and declared.base is not None:
            return declared.base
        return None if name == self.default_environment else self.default_environment

    def environment_chain(self, name: str | None = None) -> list[str]:
        """`name` (default: the default environment), then its base, its base's base, ..."""
        chain = [validate_environment_name(name or self.default_environment)]
        while (base := self.base_of(chain[-1])) is not None and base not in chain:
            chain.append(base)
        return chain

    def environment(self, name: str) -> Environment:
        if name not in self.environments:
            from .errors import NotFoundError

            raise NotFoundError("environment", name, self.environments)
        return self.environments[name]

    @property
    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]


def json_schema(check: tuple[dict[str, Any], dict[str, Any]] | None = None) -> dict[str, Any]:
    """The spec's JSON Schema; `check` types the check items (item schema, its definitions)."""
    schema = Spec.model_json_schema()
    schema["title"] = "dataops.yaml"
    if check is not None:
        item, defs = check
        schema["$defs"].update(defs)
        for model in ("Column", "Dataset"):
            schema["$defs"][model]["properties"]["checks"]["items"] = item
    return schema


# --- loading -----------------------------------------------------------------------


def _yaml():  # type: ignore[no-untyped-def]
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def read_yaml(path: Path) -> Any:
    """Round-trip YAML (keeps comments and line numbers); errors name the line."""
    return _parse_yaml(_read_text(path), path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the spec ({exc.strerror})", file=path) from exc


def _parse_yaml(text: str, path: Path) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        raise SpecError(f"malformed YAML: {problem}", file=path, line=line) from exc
    except YAMLError as exc:
        raise SpecError(f"malformed YAML: {exc}", file=path) from exc


# --- a cache of specs that validated: round-trip parsing is most of a no-op run's time ----


class _Uncacheable(Exception):
    """YAML data that JSON cannot carry unchanged (dates, non-string keys, tags)."""


def _cache_file(text: str) -> Path:
    """Content-addressed: the same text (for the same kit) always means the same data."""
    import hashlib
    import os

    from . import __version__

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{__version__}\0{text}".encode()).hexdigest()[:32]
    return base / "dataops-nb" / "specs" / f"{key}.json"


def _cached_data(text: str) -> Any:
    import json

    try:
        return json.loads(_cache_file(text).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remember(text: str, data: Any) -> None:
    import json
    import os

    try:
        plain = json.dumps(_plain(data))
        file = _cache_file(text)
        file.parent.mkdir(parents=True, exist_ok=True)
        staged = file.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(plain, encoding="utf-8")
        staged.replace(file)
    except (_Uncacheable, OSError, ValueError):
        pass  # a cache: without it the spec is parsed again next time


def _plain(node: Any) -> Any:
    """The round-trip YAML data as the JSON types it is equal to."""
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(node, dict):
        if not all(isinstance(key, str) for key in node):
            raise _Uncacheable
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, ScalarBoolean):
        return bool(node)
    for kind in (int, float, str):  # ruamel's scalar subclasses (kept quotes, formats)
        if isinstance(node, kind):
            return kind(node)
    raise _Uncacheable


def write_yaml(path: Path, data: Any) -> None:
    import io

    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)


def line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node of `loc` that the YAML document has."""
    line = None
    node = data
    for key in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and key in node:
                if lc is not None:
                    line = lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                if lc is not None:
                    line = lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    if line is None and getattr(data, "lc", None) is not None:
        line = data.lc.line + 1
    return line


def _field_path(data: Any, loc: tuple[Any, ...]) -> str:
    """`steps[1].needs` style path, naming steps by their name where there is one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            name = None
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict):
                name = node[key].get("name")
            parts.append(f"[{name}]" if isinstance(name, str) and parts and parts[-1] == "steps" else f"[{key}]")
        else:
            parts.append(("." if parts else "") + str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return "".join(parts)


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose fields an unknown key at `loc` should be compared with."""
    import typing

    annotation: Any = Spec
    for key in loc[:-1]:
        origin = typing.get_origin(annotation)
        if origin in (list, dict):
            annotation = typing.get_args(annotation)[-1]  # list index or dict key
            continue
        if origin is not None:  # X | None
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
            origin = typing.get_origin(annotation)
            if origin in (list, dict):
                annotation = typing.get_args(annotation)[-1]
                continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        field = annotation.model_fields.get(key)
        if field is None:
            return None
        annotation = field.annotation
    if typing.get_origin(annotation) is not None:
        annotation = next((a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _translate(exc: ValidationError, data: Any, path: Path) -> SpecError:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    line = line_of(data, loc)
    field = _field_path(data, loc)
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        model = _model_for(loc)
        hint = did_you_mean(key, model.model_fields) if model else ""
        return SpecError(f"unknown key '{key}'{hint}", file=path, line=line, field=field or None)
    if error["type"] == "missing":
        return SpecError(f"'{loc[-1]}' is required", file=path, line=line, field=field or None)
    message = error["msg"]
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) and value is not None else ""
    if loc and loc[0] in ("ledger", "notify"):
        shown = ""  # what was written there may be a URL with its password or token
    return SpecError(f"{message[0].lower()}{message[1:]}{shown}", file=path, line=line, field=field or None)


def load_spec(path: Path, *, validate: Validator | None = None) -> tuple[Spec, Any]:
    """Parse and validate `dataops.yaml` (`validate` adds rules). Returns the model and the YAML data.

    A text that validated before is read from a cache of its data; an error is always
    reported from the round-trip document, whose nodes know their lines.
    """
    text = _read_text(path)
    cached = _cached_data(text)
    if cached is not None:
        try:
            return _validated(cached, path, validate), cached
        except SpecError:
            pass  # again from the document, for the line numbers
    data = _parse_yaml(text, path)
    spec = _validated(data, path, validate)
    _remember(text, data)
    return spec, data


def _validated(data: Any, path: Path, validate: Validator | None) -> Spec:
    if not isinstance(data, dict):
        raise SpecError("the spec must be a mapping with at least 'name' and 'steps'", file=path, line=1)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, data, path) from exc
    _check_references(spec, data, path)
    _check_alerting(spec, data, path)
    if validate is not None:
        validate(spec, data, path)
    return spec


def _check_references(spec: Spec, data: Any, path: Path) -> None:
    """Rules a single model cannot see: names, references between steps, cycles."""
    names = spec.step_names
    seen: set[str] = set()
    for index, step in enumerate(spec.steps):
        if step.name in seen:
            raise SpecError(
                f"step '{step.name}' is defined twice",
                file=path,
                line=line_of(data, ("steps", index, "name")),
                field=f"steps[{step.name}].name",
            )
        seen.add(step.name)
        for position, need in enumerate(step.needs):
            if need not in names:
                raise SpecError(
                    f"step '{step.name}' needs unknown step '{need}'{did_you_mean(need, names)}",
                    file=path,
                    line=line_of(data, ("steps", index, "needs", position)),
                    field=f"steps[{step.name}].needs",
                )
    for name in spec.datasets:
        if not DATASET_NAME.match(name):
            raise SpecError(
                f"dataset name {name!r} is not schema.table of lower-case identifiers",
                file=path,
                line=line_of(data, ("datasets", name)),
                field=f"datasets.{name}",
            )
    for env, declared in spec.environments.items():
        if not STEP_NAME.match(env):
            raise SpecError(
                f"environment name '{env}' must be an identifier",
                file=path,
                line=line_of(data, ("environments", env)),
                field=f"environments.{env}",
            )
        if declared.base is not None and not ENVIRONMENT_NAME.match(declared.base):
            raise SpecError(
                f"base '{declared.base}' is not an environment name (letters, digits, '-' and '_')",
                file=path,
                line=line_of(data, ("environments", env, "base")),
                field=f"environments.{env}.base",
            )
    if not ENVIRONMENT_NAME.match(spec.default_environment):
        raise SpecError(
            f"'{spec.default_environment}' is not an environment name (letters, digits, '-' and '_')",
            file=path,
            line=line_of(data, ("default_environment",)),
            field="default_environment",
        )
    _check_bases(spec, data, path)
    cycle = find_cycle({step.name: step.needs for step in spec.steps})
    if cycle:
        first = names.index(cycle[0])
        raise SpecError(
            "the steps form a cycle: " + " -> ".join(cycle + [cycle[0]]),
            file=path,
            line=line_of(data, ("steps", first, "needs")),
            field=f"steps[{cycle[0]}].needs",
        )


def _check_alerting(spec: Spec, data: Any, path: Path) -> None:
    """Notification rules name known events and channels; owners name known channels; the schedule parses."""
    channels = list(spec.notify.channels)

    def fail(message: str, *loc: Any) -> SpecError:
        field = _field_path(data, loc)
        return SpecError(message, file=path, line=line_of(data, loc), field=field or None)

    for index, rule in enumerate(spec.notify.rules):
        for position, event in enumerate(rule.on):
            if event not in EVENTS:
                raise fail(f"unknown event '{event}'{did_you_mean(event, EVENTS)}", "notify", "rules", index, "on", position)
        for position, target in enumerate(rule.targets):
            if target != "owners" and target not in channels:
                loc = ("notify", "rules", index, "to") + (() if isinstance(rule.to, str) else (position,))
                raise fail(f"unknown channel '{target}'{did_you_mean(target, [*channels, 'owners'])}", *loc)
    for name, owner in spec.owners.items():
        for position, channel in enumerate(owner.notify):
            if channel not in channels:
                raise fail(f"owner '{name}' notifies unknown channel '{channel}'{did_you_mean(channel, channels)}",
                           "owners", name, "notify", position)
    if spec.schedule is not None:
        from .cron import CronError, parse_cron

        try:
            parse_cron(spec.schedule)
        except CronError as exc:
            raise fail(str(exc), "schedule") from exc


def _check_bases(spec: Spec, data: Any, path: Path) -> None:
    """Every `environments.<name>.base:` names the default environment or one the spec declares,
    and following the bases never comes back to where it started."""
    known = [spec.default_environment, *(name for name in spec.environments if name != spec.default_environment)]
    for env, declared in spec.environments.items():
        if declared.base is None:
            continue
        where = {"file": path, "line": line_of(data, ("environments", env, "base")), "field": f"environments.{env}.base"}
        if declared.base not in known:
            others = [name for name in known if name != env]
            raise SpecError(f"environment '{env}' has unknown base '{declared.base}'{did_you_mean(declared.base, others)}"
                            f" (the bases it may name: {', '.join(others)})", **where)
        chain = [env]
        while (base := spec.base_of(chain[-1])) is not None and base not in chain:
            chain.append(base)
        if base == env:
            raise SpecError("the environments' bases form a cycle: " + " -> ".join([*chain, env]), **where)


def find_cycle(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle of the graph as a list of steps, or [] when there is none."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in needs.get(node, ()):
            if dep not in needs:
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep) :]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in needs:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def find_project(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` that holds `dataops.yaml`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SPEC_FILE).is_file():
            return folder
    raise DataOpsError(
        f"No {SPEC_FILE} found in {here} or any parent directory "
        "(use -C DIR, or create a project with 'dataops-nb init DIR')."
    )

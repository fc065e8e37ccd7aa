"""Request and response models of the /dataops/ API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, field_validator

from ..service import LiveState
from ..spec import STEP_NAME

# Every request field is bounded: an oversized value is a 400 with one sentence, never a 500
# from a database overflow or a file name the system refuses.
NAME_MAX = 128
TEXT_MAX = 10_000
ID_MAX = 2**63 - 1  # the largest id a ledger (SQLite or PostgreSQL BIGINT) holds

StepName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX, pattern=STEP_NAME.pattern)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRun(_Request):
    """Run all steps, some steps (`step`, or several in `steps`), or a step and everything downstream."""

    mode: Literal["all", "only", "from"] = "all"
    step: StepName | None = None
    steps: list[StepName] = Field(default_factory=list, max_length=1000)  # mode only: several steps
    force: bool = False
    env: StepName | None = None
    params: list[Annotated[str, StringConstraints(max_length=TEXT_MAX)]] = Field(
        default_factory=list, max_length=100)  # `-p KEY=VALUE` (or STEP.KEY=VALUE), as the CLI takes them


class Decision(_Request):
    target: str = Field(min_length=1, max_length=2 * NAME_MAX + 1)
    decision: Literal["accept", "waive", "quarantine", "comment"]
    reason: Text
    check: Name | None = None  # one check of the version
    until: Name | None = None  # a standing decision ("known issue"): through this date,
    for_runs: int | None = Field(None, ge=1, le=1_000_000)  # for the next N versions,
    condition: Name | None = Field(None, alias="while")  # while the failing rows stay within this

    @field_validator("target")
    @classmethod
    def _bounded_check_id(cls, target: str) -> str:
        number = target.strip().lstrip("#")
        if number.isdigit() and int(number) > ID_MAX:
            raise ValueError(f"check result ids are at most {ID_MAX}")
        return target


class NewStep(_Request):
    name: StepName
    template: Name
    needs: list[StepName] = Field(default_factory=list, max_length=1000)
    publishes: str | None = Field(None, max_length=200)  # default: named after the step
    params: dict[str, str | int | float | bool | None | list[str | int | float | bool | None]] = Field(
        default_factory=dict, max_length=100)  # the template's parameters, as its dialog asks for them


EnvName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class EnvQuery(_Request):
    """`?env=NAME`: whose current versions an answer shows (default: the spec's default environment)."""

    env: EnvName | None = None


class RunsQuery(EnvQuery):
    """`?limit=N&env=NAME`: the latest runs (of that environment only, when named)."""

    limit: int = Field(50, ge=1, le=10_000)


class DiffQuery(EnvQuery):
    """`?env=NAME&against=OTHER`: the dataset as NAME reads it against OTHER (default: NAME's base)."""

    against: EnvName | None = None


class Promote(_Request):
    """Apply a promotion: `to` (default: the default environment); `force` overrides stale inputs."""

    to: EnvName | None = None
    force: bool = False


class DatasetQuery(EnvQuery):
    rows: int = Field(10, ge=0, le=1000)  # rows of the preview


class LineageQuery(EnvQuery):
    depth: int = Field(3, ge=0, le=1000)


class PromotionQuery(_Request):
    to: EnvName | None = None


class CatalogQuery(_Request):
    q: str = Field("", max_length=1000)


class ProjectQuery(_Request):
    project: str = Field("", max_length=4096)


class Settings(BaseModel):
    kit_version: str
    extension_version: str
    project: str | None  # the project directory, relative to the server root
    project_name: str | None


class RunStarted(BaseModel):
    run_id: str


class CancelRequested(BaseModel):
    """A cancel was asked for: the run stops within its grace period and ends `cancelled`."""

    run_id: str
    requested_by: str
    grace_s: float
    status: str  # the run's status when the answer was written (still `running`: it is stopping)


class NotebookContents(BaseModel):
    """A Jupyter contents model of an executed notebook; `writable` is always false."""

    name: str
    path: str  # RUN_ID/STEP.ipynb on the frontend's read-only drive
    type: Literal["notebook"] = "notebook"
    format: Literal["json"] = "json"
    mimetype: None = None
    writable: Literal[False] = False
    created: datetime
    last_modified: datetime
    size: int
    content: dict[str, Any]


class StepRun(BaseModel):
    """One step in one run: its status, timing, error (`cell N: Error: message`) and warn checks."""

    name: str
    status: str
    attempt: int | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    output_notebook: str | None
    error: str | None
    warnings: int


class StepOutcome(StepRun):
    run_id: str


class StepTiming(BaseModel):
    """One executed run of a step, for the chart of its durations."""

    run_id: str
    status: str
    duration_s: float


class EnvOutcome(StepOutcome):
    environment: str  # the environment whose run (or promotion) it is


class PipelineStep(BaseModel):
    name: str
    notebook: str
    needs: list[str]
    description: str
    state: Literal["fresh", "stale"]  # freshness: would a run re-execute it?
    reasons: list[str]  # why it is stale
    last_status: str | None
    last_run: str | None
    outcome: EnvOutcome | None  # the latest run or skip of the step in the environment (or its base)
    durations: list[StepTiming] = Field(default_factory=list)  # its last executed runs, oldest first
    deferred_to: str | None = None  # the base it is read from: the environment never ran it


class Pipeline(BaseModel):
    name: str
    environment: str  # whose state the steps show
    steps: list[PipelineStep]
    edges: list[tuple[str, str]]
    running: str | None  # the run in progress, if any


class StepDataflow(BaseModel):
    """The datasets a step reads and publishes: visibly in its notebook, or by its current versions."""

    step: str
    reads: list[str]
    publishes: list[str]


class Dataflow(BaseModel):
    environment: str
    steps: list[StepDataflow]


class _Open(BaseModel):
    """A response whose declared fields are typed; fields the service adds later pass through
    (the data diffs only: their statistics still grow). Every other response is closed: a field
    the service adds reaches a browser only once its model declares it."""

    model_config = ConfigDict(extra="allow")


class ClosedBy(BaseModel):
    """The decision that closes a check (accepted or waived), and its standing terms."""

    id: int
    decision: str
    state: str  # accepted / waived
    user: str
    reason: str
    at: str
    standing: str | None  # a known issue's terms (`for 3 runs, while failing < 100`)
    text: str


class RunPublished(BaseModel):
    """A version a run published."""

    dataset: str
    version: str
    step: str | None
    rows: int | None
    status: str


class Run(BaseModel):
    run_id: str
    status: str
    started_at: str
    ended_at: str | None
    user: str | None
    environment: str | None
    git_commit: str | None  # the project's commit it ran (None outside git)
    git_dirty: bool | None  # with uncommitted changes
    message: str | None
    resumed_from: str | None
    resumed_by: list[str] = Field(default_factory=list)  # the runs that resumed this one
    resume: str | None = None  # the command that resumes it, while it is failed and not resumed
    selection: list[str]  # the steps the run selected (each has a step run once it is planned)
    warnings: int  # checks of its published versions that ended `warn`
    steps: list[StepRun]
    params: dict[str, Any] | None = None  # the parameters it was given (one run's page; None in a listing)
    datasets: list[RunPublished] | None = None  # the versions it published (one run's page; None in a listing)
    packages: dict[str, str] | None = None  # the kernel's package versions (one run's page): what a replay compares
    replay_of: str | None = None  # the run a replay re-executed (one run's page)
    log: str | None = None  # the run's log, relative to the project (one run's page)


class RunList(BaseModel):
    items: list[Run]
    environment: str | None = None  # the environment whose runs these are (None: every one)


class Hit(BaseModel):
    name: str
    description: str | None
    owner: str | None
    tags: list[str]
    score: float  # higher is a better match
    published_by: str | None = None  # the step of the spec that publishes it; None: left over


class HitList(BaseModel):
    items: list[Hit]


class TemplateParameter(BaseModel):
    """A parameter of a template, for the new-step dialog to ask for."""

    name: str
    default: str | int | float | bool | None | list[Any] | dict[str, Any]
    publishes: bool  # it names a dataset the step publishes (named after the step unless given)


class Template(BaseModel):
    name: str
    description: str
    source: str
    parameters: list[TemplateParameter] = Field(default_factory=list)


class TemplateList(BaseModel):
    items: list[Template]


class Failure(BaseModel):
    """An open failing check (warn or error) on a current or quarantined version."""

    id: int
    dataset: str
    version: str
    version_status: str
    run_id: str | None
    step: str | None
    origin: str | None  # spec / notebook / ...: where the check is declared
    check: str
    label: str  # as a user names it (`notebook:NAME` for a notebook's check)
    column: str | None  # the column it checks, when it checks one
    status: Literal["warn", "error"]
    failing: int | None
    fraction: float | None
    rows: int | None
    message: str | None
    sample: list[dict[str, Any]]
    created_at: str
    decision: str | None  # open: None
    decided: ClosedBy | None


class Quarantined(BaseModel):
    dataset: str
    version: str
    run_id: str | None
    step: str | None
    rows: int | None
    created_at: str


class Standing(BaseModel):
    """A standing decision ("known issue"): one check of a dataset kept closed on later runs."""

    id: int
    dataset: str
    origin: str | None
    check: str
    label: str
    decision: Literal["accept", "waive"]
    terms: str  # e.g. "for 3 runs, while failing <= 5%"
    reason: str
    user: str
    created_at: str
    runs_left: int | None
    expired: bool


class Reviews(BaseModel):
    environment: str | None = None  # whose current versions the failures are of
    open_failures: int  # how many failures are open (the Quality tab's badge): len(failures)
    failures: list[Failure]
    quarantined: list[Quarantined]
    standing: list[Standing]
    closed: list[dict[str, Any]]  # failures a decision closes, each with `decision` and `decided`
    decisions: list[dict[str, Any]]


class Decided(BaseModel):
    id: int
    target: str
    dataset: str
    version: str
    check_id: int | None  # the check result it names, when the target is one (`#ID`)
    origin: str | None
    label: str | None  # the check as a user names it
    checks: list[str] | None  # a decision on a whole version: the failing checks it covers (None: it names one)
    decision: str
    reason: str
    user: str
    effect: str  # what the decision changed: `recorded`, `promoted to current...`, `quarantined; ...`
    check: str | None  # the one check it names, if it names one
    standing: bool  # a known issue: it also closes that check's warnings on later runs


class StepCreated(BaseModel):
    step: str
    notebook: str  # relative to the server root
    publishes: list[str] = Field(default_factory=list)  # the datasets the new step publishes


class EnvironmentSummary(BaseModel):
    environment: str
    base: str | None  # where it reads what it does not build (None for the default one)
    default: bool
    declared: bool  # in the spec's `environments:` (else ad hoc)
    datasets: int  # its own current versions
    updated_at: str | None
    differs: int  # datasets it points elsewhere than its base reads


class EnvironmentList(BaseModel):
    items: list[EnvironmentSummary]
    default: str  # the default environment


class PromotionMove(BaseModel):
    """One dataset a promotion points elsewhere, and why the target must not get it (if so)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    dataset: str
    replaces: str | None = Field(alias="from")  # the target's version now (None: it has none)
    version: str = Field(alias="to")  # the source's version the target gets
    checks: dict[str, int]  # pass / warn / error counts of the version's checks
    problem: str | None  # quarantined, failed error checks, built from inputs the target replaced
    forcible: bool  # `force` overrides the problem (stale inputs only)


class Promotion(BaseModel):
    """A promotion's plan (`applied` false) or what it did; `may_promote` for the asking user."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    applied: bool
    moves: list[PromotionMove]
    may_promote: bool = True
    denied: str | None = None  # why the user may not (access.roles.<role>.promote)


class TypeChange(BaseModel):
    column: str
    a: str
    b: str


class SchemaChanges(BaseModel):
    added: list[str]  # columns only in b
    removed: list[str]  # columns only in a
    type_changed: list[TypeChange]


class DatasetDiff(_Open):
    """A dataset as `environment` reads it against `against` (a = against, b = environment)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    dataset: str
    environment: str
    against: str
    a: str | None  # the version `against` reads
    b: str | None  # the version `environment` reads
    differs: bool
    rows: dict[str, int | None]
    same_version: bool = False
    only_in: Literal["a", "b"] | None = None  # the dataset exists on one side only
    schema_changes: SchemaChanges | None = Field(None, alias="schema")
    key: list[str] | None = None
    only_in_a: int | None = None
    only_in_b: int | None = None
    changed: int | None = None
    changed_columns: dict[str, int] = Field(default_factory=dict)
    sample: list[dict[str, Any]] = Field(default_factory=list)  # changed rows, PII masked for the reader
    stats: dict[str, Any] = Field(default_factory=dict)


class RunDatasetDiff(_Open):
    """How one dataset differs between two runs (see dataops_nb/metadata/diff.py)."""

    dataset: str
    a: str | None  # the version run A published
    b: str | None
    differs: bool
    rows: dict[str, int | None]  # {"a": rows, "b": rows}
    schema_changes: dict[str, list[Any]] | None = None  # added / removed / type_changed columns
    stats: dict[str, dict[str, Any]] = Field(default_factory=dict)  # column -> {a, b}: the statistics that differ
    key: list[str] | None = None
    only_in_a: int | None = None
    only_in_b: int | None = None
    changed: int | None = None
    changed_columns: dict[str, int] = Field(default_factory=dict)
    sample: list[dict[str, Any]] = Field(default_factory=list)  # changed rows, PII masked for the reader


class RunDiff(BaseModel):
    a: str
    b: str
    differs: bool
    datasets: list[RunDatasetDiff]  # every dataset both runs published
    only_in_a: list[str]  # datasets only run A published
    only_in_b: list[str]


# --- the dataset page (GET catalog/NAME, see dataops_nb/metadata/pages.py) ---------------------
# Closed models: a field the service adds is not sent until it is declared here (and so typed in
# models.ts), so nothing reaches a browser that the page's masking rules were not written for.

Scalar = str | int | float | bool | None  # a profile's min or max: a value as JSON carries it


class _Answer(BaseModel):
    """A closed response model; a field with a default is always sent (required in models.ts)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ColumnTag(_Answer):
    """A column's tag: from the spec, a classifier on publish (`auto`, with its kind and
    confidence), or `inherited` PII from the columns in `from` (`dataset.column`)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tag: str
    source: str  # spec / auto / inherited
    kind: str | None  # auto: what the classifier found (email, phone, ...)
    confidence: float | None
    sources: list[str] | None = Field(None, alias="from")  # inherited: the columns it comes from


class ColumnProfile(_Answer):
    """A column's profile in the current version (min and max masked, or None, for PII)."""

    null_count: int | None
    approx_distinct: int | None  # an estimate (HyperLogLog): the page shows it as ≈
    min: Scalar
    max: Scalar


class PageColumn(_Answer):
    name: str
    type: str | None
    description: str | None
    tags: list[ColumnTag]
    pii: bool
    masked: bool  # its values are masked for the reader
    in_spec: bool
    in_current_version: bool
    profile: ColumnProfile | None  # None: no profile, or the reader may not read the dataset


class CheckCounts(_Answer):
    """How many of a version's checks ended pass, warn and error."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    passed: int = Field(alias="pass")
    warn: int
    error: int


class SchemaField(_Answer):
    name: str
    type: str


class VersionFacts(_Answer):
    """What every version on the page says: its status, where it comes from, its size and dates."""

    version: str
    status: str
    run_id: str | None
    step: str | None
    rows: int | None
    bytes: int | None
    created_at: str
    promoted_at: str | None


class PageVersion(VersionFacts):
    """A version in the page's history: where it was built, where it is current, its checks."""

    environment: str  # built in
    current_in: list[str]
    checks: CheckCounts


class CurrentVersion(VersionFacts):
    """The version the page's environment reads."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    schema_fields: list[SchemaField] = Field(alias="schema")
    path: str  # relative to the project


class FreshnessSla(_Answer):
    column: str | None = None  # measured by its max (else by the publish time)
    warn_after: float | None = None  # seconds
    error_after: float | None = None


class PageFreshness(_Answer):
    sla: FreshnessSla | None
    newest: str | None
    age_s: float | None
    status: str  # ok / warn / error / no SLA / no data
    measured_by: str | None = None  # `max(COLUMN)` or `publish time`


class PageCheck(_Answer):
    """The latest result of one check on the current version (its message masked for the reader)."""

    id: int
    dataset: str
    version: str
    origin: str | None
    check: str
    label: str  # as a user names it (`notebook:NAME` for a notebook's check)
    severity: str
    status: str
    failing: int | None
    rows: int | None
    message: str | None
    checked_at: str
    decision: str | None  # accepted / waived; None while open
    decided: ClosedBy | None
    waived: bool  # closed by a decision


class PageQuality(_Answer):
    status: str | None  # the worst open status (None: no checks)
    accepted: int = 0
    waived: int = 0
    checks: list[PageCheck]


class LineageRef(_Answer):
    """A dataset upstream or downstream of the page's, at the version the lineage goes through."""

    dataset: str
    version: str
    status: str


class NotebookRef(_Answer):
    """The executed notebook behind the current version."""

    run_id: str
    step: str
    path: str  # relative to the project
    exists: bool


class Preview(_Answer):
    """The first rows as the reader may see them: PII masked, none without read access."""

    rows: list[dict[str, Any]]
    masked_columns: list[str]
    user: str
    may_read: bool
    may_unmask: bool
    notice: str | None  # why the rows are hidden


class DatasetPage(_Answer):
    """GET catalog/NAME: a dataset as `environment` reads it."""

    name: str
    environment: str
    base: str | None  # what the environment reads the rest from (a diff's other side)
    description: str | None
    owner: str | None
    tags: list[str]
    in_spec: bool
    published_by: str | None  # the step of the spec that publishes it; None: left over
    columns: list[PageColumn]
    current_version: CurrentVersion | None
    versions: list[PageVersion]  # newest first
    freshness: PageFreshness
    quality: PageQuality
    upstream: list[LineageRef]
    downstream: list[LineageRef]
    notebook: NotebookRef | None
    preview: Preview


# --- lineage (GET lineage/NAME) and one environment (GET environments/NAME) ---------------------


class ColumnSource(_Answer):
    dataset: str
    column: str


class LineageNode(_Answer):
    """A dataset (at its version in effect), a step (its run behind that version), or a file it read."""

    id: str
    kind: Literal["dataset", "step", "file"]
    name: str
    version: str | None
    status: str | None
    step: str | None
    run_id: str | None
    notebook: str | None
    rows: int | None
    columns: dict[str, list[ColumnSource]] | None  # output column -> its sources, where SQL tells


class LineageEdge(_Answer):
    source: str  # node id
    target: str
    version: str | None  # the dataset version read or published
    stale: bool  # a step read a version that is no longer the one in effect


class Lineage(_Answer):
    dataset: str | None
    environment: str
    direction: str
    depth: int | None
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class EnvironmentDataset(_Answer):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    dataset: str
    version: str
    rows: int | None
    step: str | None
    provider: str | None = Field(alias="from")  # the environment whose version it is (its own or a base)
    base_version: str | None  # what its base reads, when that differs
    differs: bool


class EnvironmentDetail(_Answer):
    """GET environments/NAME: each dataset it reads, its own or its base's, and what differs."""

    environment: str
    base: str | None
    chain: list[str]  # it and its bases, nearest first
    default: bool
    datasets: list[EnvironmentDataset]


# the runner's record of a running step's notebook, as the API answers it (one declaration of its fields)
LiveCell = create_model("LiveCell", __doc__=f"{LiveState.__doc__} (PII masked in the tail as in step errors)",
                        **{name: (hint, ...) for name, hint in get_type_hints(LiveState).items()})


class LiveStep(BaseModel):
    step: str
    status: str
    attempt: int | None
    started_at: str | None
    duration_s: float | None
    notebook: str | None  # the executed notebook, saved cell by cell while it runs
    error: str | None
    live: LiveCell | None  # while the step runs


class LiveRun(BaseModel):
    """GET runs/RUN/live: a run as it goes (poll it until `status` is no longer running)."""

    run_id: str
    status: str
    started_at: str
    ended_at: str | None
    environment: str | None
    steps: list[LiveStep]

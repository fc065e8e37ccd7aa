"""Request and response models of the /dataops/ API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRun(_Request):
    """Run all steps, one step, or a step and everything downstream."""

    mode: Literal["all", "only", "from"] = "all"
    step: str | None = None
    force: bool = False
    env: str | None = None


class Decision(_Request):
    target: str = Field(min_length=1)
    decision: Literal["accept", "waive", "quarantine", "comment"]
    reason: str = Field(min_length=1)


class NewStep(_Request):
    name: str = Field(min_length=1)
    template: str = Field(min_length=1)
    needs: list[str] = Field(default_factory=list)


class RunsQuery(_Request):
    limit: int = Field(50, ge=1)


class LineageQuery(_Request):
    depth: int = Field(3, ge=0)


class Settings(BaseModel):
    kit_version: str
    extension_version: str
    project: str | None  # the project directory, relative to the server root
    project_name: str | None


class RunStarted(BaseModel):
    run_id: str


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


class PipelineStep(BaseModel):
    name: str
    notebook: str
    needs: list[str]
    description: str
    state: Literal["fresh", "stale"]
    reasons: list[str]
    last_status: str | None
    last_run: str | None


class Pipeline(BaseModel):
    name: str
    steps: list[PipelineStep]
    edges: list[tuple[str, str]]
    running: str | None  # the run in progress, if any


class Listing(BaseModel):
    """A list of plain records (runs, search results, templates)."""

    items: list[dict[str, Any]]


class Record(BaseModel):
    """One plain record (a run, a dataset page, a lineage graph, a decision)."""

    model_config = ConfigDict(extra="allow")

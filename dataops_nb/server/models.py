"""Request and response models of the /dataops/ API."""

from __future__ import annotations

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


class Settings(BaseModel):
    kit_version: str
    extension_version: str
    project: str | None  # the project directory, relative to the server root
    project_name: str | None


class RunStarted(BaseModel):
    run_id: str


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

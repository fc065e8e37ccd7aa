"""The frontend's API types are generated from the server's pydantic models, and kept in step."""

from __future__ import annotations

import json
import re

from dataops_nb.server import models, typescript


def test_the_committed_typescript_matches_the_models() -> None:
    assert typescript.TARGET.read_text() == typescript.render(), (
        "jupyter_extension/src/models.ts is out of date: run `python -m dataops_nb.server.typescript`"
    )


def test_every_response_field_is_declared_with_its_type() -> None:
    text = typescript.render()
    assert "export interface IPipelineStep {" in text and "  outcome: IEnvOutcome | null;" in text
    assert '  state: "fresh" | "stale";' in text
    assert "  steps: IStepRun[];" in text and "  warnings: number;" in text
    # a request's field with a default is optional, as the server validates it
    assert '  mode?: "all" | "only" | "from";' in text
    # every model the client receives is there (one that extends another names it)
    for model in typescript.RESPONSES:
        assert re.search(rf"^export interface I{model.__name__}( extends I\w+)? {{$", text, re.MULTILINE), model.__name__
    assert "export interface IStepOutcome extends IStepRun {\n  run_id: string;\n}" in text


def test_the_dataset_page_is_typed_to_its_nested_fields() -> None:
    text = typescript.render()
    page = text[text.index("export interface IDatasetPage {"):].split("}", 1)[0]
    assert "  columns: IPageColumn[];" in page and "  preview: IPreview;" in page
    assert "  current_version: ICurrentVersion | null;" in page and "[field: string]" not in page
    assert "  profile: IColumnProfile | null;" in text and "  checks: ICheckCounts;" in text
    assert "  from: string[] | null;" in text  # an inherited PII tag's sources, under the name the API sends


def test_a_response_sends_what_its_model_declares_and_nothing_else() -> None:
    run = models.Run(run_id="r1", status="success", started_at="2026-01-01", ended_at=None, user="alice",
                     environment=None, git_commit=None, git_dirty=None, message=None, resumed_from=None,
                     selection=["a"], warnings=0, steps=[], params={"a": {"n": 1}}, host="laptop.local", pid=4242)
    sent = json.loads(run.model_dump_json())
    assert sent["params"] == {"a": {"n": 1}}
    assert "host" not in sent and "pid" not in sent  # what the ledger knows is not sent undeclared
    assert "[field: string]" not in typescript.render().split("export interface IRun {", 1)[1].split("}", 1)[0]

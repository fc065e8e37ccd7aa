"""The frontend's API types are generated from the server's pydantic models, and kept in step."""

from __future__ import annotations

import json

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
    # every model the client receives is there
    for model in typescript.RESPONSES:
        assert f"export interface I{model.__name__} {{" in text


def test_a_response_keeps_fields_the_service_adds() -> None:
    run = models.Run(run_id="r1", status="success", started_at="2026-01-01", ended_at=None, user="alice",
                     environment=None, message=None, resumed_from=None, selection=["a"], warnings=0, steps=[],
                     params={"a": {"n": 1}})
    assert json.loads(run.model_dump_json())["params"] == {"a": {"n": 1}}

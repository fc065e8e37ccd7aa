"""The spec: validation errors name file, line and field, and suggest the nearest name."""

from __future__ import annotations

import json

import pytest

from dataops_nb.errors import SpecError
from dataops_nb.spec import load_spec, parse_duration


def error_of(project, text: str) -> SpecError:
    path = project.spec(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value


def test_valid_spec_loads_with_durations_and_secrets(project):
    path = project.spec(
        """
        name: demo
        steps:
          - name: ingest
            notebook: notebooks/ingest.ipynb
            params: {token: {secret: TOKEN}, n: 5}
            timeout: 10m
            retries: 2
        datasets:
          staging.flights:
            freshness: {column: t, warn_after: 2d, error_after: 7d}
            columns:
              email: {tags: [pii]}
        """
    )
    spec, _ = load_spec(path)
    step = spec.step("ingest")
    assert step.timeout == 600
    assert step.secrets() == {"token": "TOKEN"}
    assert step.plain_params() == {"n": 5}
    assert spec.datasets["staging.flights"].freshness.error_after == 7 * 86400
    assert spec.datasets["staging.flights"].pii_columns == ["email"]


def test_unknown_key_names_line_field_and_suggestion(project):
    error = error_of(
        project,
        """
        name: demo
        steps:
          - name: ingest
            notebook: a.ipynb
          - name: clean
            notebook: b.ipynb
            neds: [ingest]
        """,
    )
    assert error.line == 7
    assert "neds" in str(error) and "did you mean 'needs'" in str(error)
    assert "dataops.yaml:7" in str(error)
    assert "steps[clean]" in str(error)


def test_unknown_step_in_needs_suggests_nearest(project):
    error = error_of(
        project,
        """
        name: demo
        steps:
          - name: clean
            notebook: a.ipynb
          - name: report
            notebook: b.ipynb
            needs: [clen]
        """,
    )
    assert error.line == 7
    assert "unknown step 'clen'" in str(error) and "did you mean 'clean'" in str(error)


def test_cycle_is_named(project):
    error = error_of(
        project,
        """
        name: demo
        steps:
          - {name: a, notebook: a.ipynb, needs: [c]}
          - {name: b, notebook: b.ipynb, needs: [a]}
          - {name: c, notebook: c.ipynb, needs: [b]}
        """,
    )
    assert "cycle" in str(error)
    assert "a -> c -> b -> a" in str(error)


def test_an_unknown_or_circular_environment_base_names_its_line_and_the_cli_exits_2(project):
    from .test_cli import assert_clean_refusal

    spec = """
        name: demo
        environments:
          staging: {}
          dev:
            params: {n: 1}
            base: stagin
        steps:
          - {name: a, notebook: a.ipynb}
        """
    error = error_of(project, spec)
    assert error.line == 6 and error.field == "environments.dev.base"
    assert "environment 'dev' has unknown base 'stagin' (did you mean 'staging'?)" in str(error)
    assert "the bases it may name: prod, staging" in str(error)
    assert_clean_refusal(project.cli("env", "list"), "dataops.yaml:6", "unknown base 'stagin'")

    error = error_of(project, spec.replace("staging: {}", "staging: {base: dev}").replace("stagin\n", "staging\n"))
    assert error.line == 3 and "the environments' bases form a cycle: staging -> dev -> staging" in str(error)


def test_wrong_type_names_field_and_value(project):
    error = error_of(
        project,
        """
        name: demo
        steps:
          - name: a
            notebook: a.ipynb
            retries: many
        """,
    )
    assert error.line == 5 and "retries" in str(error) and "'many'" in str(error)


def test_malformed_yaml_names_line(project):
    error = error_of(project, "name: demo\nsteps:\n  - name: a\n   notebook: [x\n")
    assert "malformed YAML" in str(error) and error.line is not None


def test_dataset_name_must_be_schema_table(project):
    error = error_of(
        project,
        """
        name: demo
        datasets:
          "x; drop table y": {description: bad}
        """,
    )
    assert "schema.table" in str(error) and error.line == 3


def test_unknown_key_in_nested_dataset_column(project):
    error = error_of(
        project,
        """
        name: demo
        datasets:
          staging.flights:
            columns:
              carrier: {descripton: the airline}
        """,
    )
    assert "did you mean 'description'" in str(error) and error.line == 5


def test_duplicate_step_and_bad_duration(project):
    assert "defined twice" in str(
        error_of(project, "name: d\nsteps:\n  - {name: a, notebook: a.ipynb}\n  - {name: a, notebook: b.ipynb}\n")
    )
    assert "duration" in str(error_of(project, "name: d\nsteps:\n  - {name: a, notebook: a.ipynb, timeout: soon}\n"))
    with pytest.raises(ValueError):
        parse_duration("ten minutes")


def test_schema_command_prints_json_schema(project):
    project.spec("name: demo\n")
    result = project.cli("schema", check=0)
    schema = json.loads(result.stdout)
    assert schema["title"] == "dataops.yaml"
    assert "steps" in schema["properties"]
    assert "Step" in schema["$defs"]


def test_a_spec_that_validated_is_read_from_the_cache_and_errors_keep_their_lines(project, tmp_path, monkeypatch):
    from dataops_nb.quality.declared import validate_checks

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = """
        name: demo
        steps:
          - {name: ingest, notebook: notebooks/ingest.ipynb, params: {country: "NO", flag: yes, n: 010}}
        datasets:
          raw.flights:
            checks:
              - not_a_check
        """
    path = project.spec(text)
    first, _ = load_spec(path)  # the base rules pass: the parsed data is cached
    [cached] = (tmp_path / "cache").rglob("*.json")
    second, data = load_spec(path)
    assert second == first and isinstance(data, dict)
    assert first.step("ingest").params == {"country": "NO", "flag": "yes", "n": 10}  # YAML 1.2, as parsed
    # the quality rules then fail on the cached data: the error still names the line
    with pytest.raises(SpecError) as info:
        load_spec(path, validate=validate_checks)
    assert info.value.line == 7 and "not_a_check" in str(info.value)
    # an edit is a new text: never an old cache entry
    path.write_text(path.read_text().replace("n: 010", "n: 11"))
    assert load_spec(path)[0].step("ingest").params["n"] == 11
    # data JSON cannot carry unchanged (a date) is parsed every time, and still loads
    path.write_text(path.read_text().replace("n: 11", "day: 2024-01-01"))
    assert str(load_spec(path)[0].step("ingest").params["day"]) == "2024-01-01"
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2

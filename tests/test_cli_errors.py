"""Errors a user meets at the command line: `-p` values and names, and `--json` error objects."""

from __future__ import annotations

import json

import pytest

from .conftest import TWO_STEPS


@pytest.fixture
def labelled(project):
    """One step with a string, an integer and a None parameter."""
    project.notebook(
        "label",
        'label = "x"\nn = 1\nwhen = None',
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.labels", f"select '{label}' as label, {n} as n")
        """,
    )
    project.spec("""
        name: labels
        steps:
          - name: label
            notebook: notebooks/label.ipynb
        datasets:
          raw.labels: {description: One labelled row.}
    """)
    return project


def refused(result, *fragments: str) -> str:
    assert result.returncode == 2, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_misspelt_parameter_of_one_step_names_the_full_key_and_the_closest_name(two_steps):
    refused(two_steps.cli("plan", "-p", "double.factr=3"),
            "-p double.factr: parameter 'factr' of step 'double'", "did you mean 'factor'")


def test_a_misspelt_step_in_a_parameter_says_the_step_is_unknown(two_steps):
    refused(two_steps.cli("plan", "-p", "dubble.factor=3"), "-p dubble.factor: unknown step 'dubble'",
            "did you mean 'double'")
    refused(two_steps.cli("plan", "--only", "make", "-p", "double.factor=3"),
            "step 'double' is not among the selected steps")


@pytest.mark.parametrize(("value", "kind"), [
    ("2001-12-14", "a date"), ("2001-12-14T10:00:00Z", "a timestamp"), (".nan", "not a number"),
    (".inf", "infinity"), ("!!set {a, b}", "a set"), ("!!binary aGk=", "binary data"), ("[1, 2001-12-14]", "a date"),
])
def test_values_yaml_reads_as_dates_sets_or_nan_are_refused_before_the_run(labelled, value, kind):
    message = refused(labelled.cli("run", "-p", f"n={value}"), f"-p n: YAML reads {value!r} as {kind}", "quote it")
    assert "parameter" in message
    assert not (labelled.root / ".dataops" / "runs").exists() or not any((labelled.root / ".dataops" / "runs").iterdir())
    refused(labelled.cli("run", "-p", f"when={value}"), f"-p when: YAML reads {value!r} as {kind}")


def test_a_date_for_a_string_parameter_is_passed_as_the_string_typed(labelled):
    labelled.cli("run", "-p", "label=2001-12-14", "-p", "n=3", check=0)
    [row] = labelled.ledger_rows("SELECT params FROM runs")
    assert json.loads(row[0]) == {"label": {"label": "2001-12-14", "n": 3}}
    page = json.loads(labelled.cli("catalog", "show", "raw.labels", "--json", check=0).stdout)
    assert page["preview"]["rows"] == [{"label": "2001-12-14", "n": 3}]


def error_object(result) -> dict:
    document = json.loads(result.stdout)
    assert set(document) == {"error"}, document
    assert set(document["error"]) == {"type", "message", "file", "line"}
    assert document["error"]["message"] in result.stderr  # the sentence on stderr is the same
    return document["error"]


def test_with_json_a_spec_error_is_a_json_object_naming_file_and_line(two_steps):
    two_steps.spec(TWO_STEPS.replace("needs: [make]", "neds: [make]"))
    result = two_steps.cli("status", "--json")
    assert result.returncode == 2
    error = error_object(result)
    assert error["type"] == "SpecError" and error["line"] == 9
    assert error["file"] == str(two_steps.root / "dataops.yaml") and "did you mean 'needs'" in error["message"]


@pytest.mark.parametrize(("args", "kind", "fragment"), [
    (["run", "--json", "-p", "nn=5"], "ParameterError", "-p nn"),
    (["--json", "show", "nope"], "NotFoundError", "Unknown run 'nope'"),
    (["status", "--json", "--bogus"], "NoSuchOption", "--bogus"),
])
def test_with_json_every_error_is_a_json_object_and_the_exit_code_stays(two_steps, args, kind, fragment):
    result = two_steps.cli(*args)
    assert result.returncode == 2
    error = error_object(result)
    assert error["type"] == kind and fragment in error["message"] and error["file"] is None


def test_with_json_a_failed_check_prints_its_results_once(two_steps):
    two_steps.cli("run", check=0)
    two_steps.spec(TWO_STEPS + "  staging.doubled:\n    checks: [{row_count: {min: 1000}}]\n")
    result = two_steps.cli("check", "--json")
    assert result.returncode == 1
    reports = json.loads(result.stdout)  # one document: the results, which say what failed
    assert [r["status"] for r in reports if r["dataset"] == "staging.doubled"] == ["error"]

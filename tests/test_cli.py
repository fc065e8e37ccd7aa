"""The command line: bad input gets one clear sentence, exit 2, and changes nothing."""

from __future__ import annotations

import json

import pytest

from .conftest import TWO_STEPS


def assert_clean_refusal(result, *fragments: str) -> None:
    assert result.returncode == 2, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "\n" not in message, message
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture
def ran(two_steps):
    """A project that has run once, so there is stored state to protect."""
    two_steps.cli("run", "--env", "test", check=0)
    return two_steps


SPEC_BREAKAGES = {
    "malformed yaml": (lambda s: s.replace("steps:", "steps: [", 1), ["dataops.yaml:", "malformed YAML"]),
    "unknown key": (lambda s: s.replace("needs: [make]", "neds: [make]"), ["dataops.yaml:9", "did you mean 'needs'"]),
    "wrong type": (lambda s: s.replace("needs: [make]", "needs: [make]\n    retries: lots"), ["dataops.yaml:10", "retries"]),
    "unknown needs": (lambda s: s.replace("needs: [make]", "needs: [mkae]"), ["unknown step 'mkae'", "did you mean 'make'"]),
    "cycle": (lambda s: s.replace("notebook: notebooks/make.ipynb", "notebook: notebooks/make.ipynb\n    needs: [double]"), ["cycle", "make -> double -> make"]),
    "missing notebook": (lambda s: s.replace("notebooks/double.ipynb", "notebooks/dubble.ipynb"),
                         ["dataops.yaml:8: steps[double].notebook: notebooks/dubble.ipynb does not exist"]),
    "unknown parameter": (lambda s: s.replace("notebook: notebooks/double.ipynb", "notebook: notebooks/double.ipynb\n    params: {factr: 3}"),
                          ["dataops.yaml:9: steps[double].params: parameter 'factr'", "did you mean 'factor'"]),
    "wrong parameter type": (lambda s: s.replace("notebook: notebooks/double.ipynb", "notebook: notebooks/double.ipynb\n    params: {factor: two}"),
                             ["dataops.yaml:9: steps[double].params: parameter 'factor' of step 'double' must be an integer like its default 2, not 'two'"]),
    "bad dataset name": (lambda s: s.replace("raw.numbers:", '"x; drop table y":'), ["schema.table", "dataops.yaml:11"]),
}


@pytest.mark.parametrize("case", sorted(SPEC_BREAKAGES))
def test_bad_spec_is_refused_and_nothing_changes(ran, case):
    breakage, fragments = SPEC_BREAKAGES[case]
    before = ran.snapshot()
    ran.spec(breakage(TWO_STEPS))
    after_edit = ran.snapshot()
    result = ran.cli("run")
    assert_clean_refusal(result, *fragments)
    assert ran.snapshot() == after_edit
    assert {k: v for k, v in before.items() if k != "dataops.yaml"} == {
        k: v for k, v in after_edit.items() if k != "dataops.yaml"
    }


def test_debug_shows_the_traceback(ran):
    ran.spec(TWO_STEPS.replace("needs: [make]", "needs: [mkae]"))
    result = ran.cli("run", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["-p", "nn=5"], ["-p nn", "did you mean 'n'"]),
        (["-p", "n=five"], ["parameter 'n' of step 'make' must be an integer", "'five'"]),
        (["-p", "make.factor=2"], ["'factor'", "not defined in the parameters cell of notebooks/make.ipynb"]),
        (["-p", "novalue"], ["expected KEY=VALUE"]),
        (["--only", "dubble"], ["Unknown step 'dubble'", "did you mean 'double'"]),
        (["--env", "pr 12"], ["'pr 12' is not an environment name", "such as dev-alice or pr-123"]),
        (["--env", "../prod"], ["'../prod' is not an environment name"]),
        (["--from", "nope"], ["Unknown step 'nope'"]),
    ],
)
def test_bad_run_arguments_are_refused(ran, args, fragments):
    before = ran.snapshot()
    assert_clean_refusal(ran.cli("run", *args), *fragments)
    assert ran.snapshot() == before


def test_notebook_without_parameters_cell(ran):
    path = ran.root / "notebooks" / "double.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][0]["metadata"] = {}
    path.write_text(json.dumps(nb))
    before = ran.snapshot()
    assert_clean_refusal(ran.cli("run"), "notebooks/double.ipynb has no cell tagged 'parameters'")
    assert ran.snapshot() == before


def test_spec_param_not_in_notebook(ran):
    ran.spec(TWO_STEPS.replace("notebook: notebooks/double.ipynb", "notebook: notebooks/double.ipynb\n    params: {factr: 3}"))
    assert_clean_refusal(ran.cli("run"), "steps[double].params", "'factr'", "did you mean 'factor'")


def test_global_options_before_or_after_the_command(ran):
    elsewhere = ran.root.parent
    after = json.loads(ran.cli("runs", "--json", "-C", str(ran.root)).stdout)
    before = json.loads(
        __import__("subprocess").run(
            [__import__("sys").executable, "-m", "dataops_nb.cli", "--json", "-C", str(ran.root), "runs"],
            cwd=elsewhere, capture_output=True, text=True, check=True,
        ).stdout
    )
    assert before == after and after[0]["status"] == "success"


def test_runs_json_shape(ran):
    [run] = json.loads(ran.cli("runs", "--json", check=0).stdout)
    assert {"run_id", "status", "started_at", "ended_at", "steps"} <= set(run)
    assert {"name", "status", "duration_s", "output_notebook"} <= set(run["steps"][0])
    shown = json.loads(ran.cli("show", run["run_id"], "--json", check=0).stdout)
    assert shown["run_id"] == run["run_id"]
    assert {d["dataset"] for d in shown["datasets"]} == {"raw.numbers", "staging.doubled"}
    assert_clean_refusal(ran.cli("show", "nope"), "Unknown run 'nope'")


def test_status_reports_each_step(ran):
    rows = json.loads(ran.cli("status", "--env", "test", "--json", check=0).stdout)
    assert [(r["step"], r["last_status"]) for r in rows] == [("make", "success"), ("double", "success")]
    assert {r["environment"] for r in rows} == {"test"}
    # the run was in test: prod has run nothing
    rows = json.loads(ran.cli("status", "--json", check=0).stdout)
    assert [(r["step"], r["last_status"], r["environment"]) for r in rows] == [("make", None, "prod"), ("double", None, "prod")]


def test_no_project_found(tmp_path):
    from .conftest import run_cli

    assert_clean_refusal(run_cli("status", cwd=tmp_path), "No dataops.yaml found")


def test_help_is_fast_and_lists_commands(tmp_path):
    from .conftest import run_cli

    result = run_cli("--help", cwd=tmp_path, check=0)
    for command in ("init", "run", "runs", "show", "status", "templates", "new", "test", "schema"):
        assert command in result.stdout


def test_bad_input_on_a_project_that_never_ran_creates_no_state(project):
    from .conftest import make_two_steps

    fresh = make_two_steps(project)
    assert_clean_refusal(fresh.cli("run", "-p", "nope=1"), "-p nope")
    assert not (fresh.root / ".dataops").exists()

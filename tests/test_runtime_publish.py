"""One publisher per dataset, one publish per step, and what a hand-run publish shadows."""

from __future__ import annotations

import polars as pl

from tests.test_runtime import run_by_hand


def test_publishing_a_dataset_twice_in_a_step_is_an_error_unless_replace(project):
    project.spec(
        """
        name: twice
        steps:
          - name: twice
            notebook: notebooks/twice.ipynb
        """
    )
    project.notebook(
        "twice",
        "replace = False",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.x", "select 1 as a")
        step.publish("raw.x", "select 2 as a", replace=replace)
        """,
    )
    result = project.cli("run")
    assert result.returncode == 1
    assert "This step already published raw.x; pass replace=True to publish it again" in result.stdout + result.stderr
    assert project.ledger_rows("select count(*) from dataset_versions where status = 'current'") == [(0,)]

    project.cli("run", "-p", "replace=true", check=0)
    [(path,)] = project.ledger_rows("select path from dataset_versions where status = 'current'")
    assert pl.read_parquet(project.root / ".dataops" / path)["a"].to_list() == [2]


def _computed_publishers(project):
    """Two steps publishing raw.shared under a computed name, which no static reading can see."""
    project.spec(
        """
        name: collide
        steps:
          - name: first
            notebook: notebooks/first.ipynb
          - name: second
            notebook: notebooks/second.ipynb
            needs: [first]
        """
    )
    for name, value in (("first", 1), ("second", 2)):
        project.notebook(name, "", "import dataops_nb as dn\n"
                         f'dn.step().publish(".".join(["raw", "shared"]), "select {value} as a")')


def test_a_second_step_publishing_the_same_dataset_in_a_run_fails_and_changes_nothing(project):
    _computed_publishers(project)
    result = project.cli("run")
    assert result.returncode == 1, result.stdout
    out = result.stdout + result.stderr
    assert "Step 'first' already published raw.shared in this run" in out
    assert "step 'second' may not publish it too" in out
    [(step, path)] = project.ledger_rows(
        "select step, path from dataset_versions where dataset = 'raw.shared' and status = 'current'"
    )
    assert step == "first"
    assert pl.read_parquet(project.root / ".dataops" / path)["a"].to_list() == [1]  # not overwritten


def test_hand_run_publish_says_it_went_to_scratch_and_dn_read_keeps_reading_published(two_steps, monkeypatch):
    two_steps.cli("run", "--env", "test", check=0)
    monkeypatch.setenv("DATAOPS_ENV", "test")  # a kernel reads the environment it is told to
    result = run_by_hand(
        two_steps,
        """
        import dataops_nb as dn
        step = dn.step()
        out = step.publish("raw.numbers", "select 42 as i")
        print(out)
        print(step.read("raw.numbers").height, dn.read("raw.numbers").height,
              dn.read("raw.numbers", scratch=True)["i"].to_list())
        step.publish("raw.numbers", "select 43 as i")  # re-running a cell by hand replaces the scratch file
        print(dn.read("raw.numbers", scratch=True)["i"].to_list())
        """,
    )
    assert result.returncode == 0, result.stderr
    message, reads, again = result.stdout.splitlines()
    assert message.startswith("raw.numbers: 1 rows, 1 columns, written to scratch ")
    assert "no run sees it" in message and "dn.read reads the published version" in message
    assert reads == "1 5 [42]"
    assert again == "[43]"


def test_two_steps_visibly_publishing_one_dataset_are_refused_before_the_run(project):
    # as the templates are written: the dataset is a parameter, given by the spec
    project.spec(
        """
        name: collide
        steps:
          - name: first
            notebook: notebooks/first.ipynb
          - name: second
            notebook: notebooks/second.ipynb
            params: {target: raw.shared}
        """
    )
    project.notebook("first", "", 'import dataops_nb as dn\nname = "raw.shared"\ndn.step().publish(name, "select 1 as a")')
    project.notebook("second", 'target = "raw.other"',
                     'import dataops_nb as dn\ndn.step().publish(target, "select 2 as a")')
    before = project.snapshot()
    result = project.cli("run")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Steps 'first' (cell 2) and 'second' (cell 2) both publish raw.shared" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.snapshot() == before
    lint = project.cli("lint")
    assert "NB107" in lint.stdout and "raw.shared is also published by step 'first'" in lint.stdout


def test_a_step_publishing_what_another_step_published_in_an_earlier_run_fails_at_commit(project):
    # separate runs: only the commit can see that the dataset has an owner
    _computed_publishers(project)
    project.cli("run", "--only", "first", check=0)

    result = project.cli("run", "--only", "second")

    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join((result.stdout + result.stderr).split())
    assert "Step 'second' published raw.shared, whose current version step 'first' published" in out
    assert "nothing of 'second' was promoted" in out
    rows = project.ledger_rows("select step, status from dataset_versions where dataset = 'raw.shared'")
    assert rows == [("first", "current")]
    assert project.ledger_rows("select status from step_runs where step = 'second'") == [("failed",)]

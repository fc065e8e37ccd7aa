"""`dn.review()` in a real kernel: press its buttons, then read the ledger."""

from __future__ import annotations

from ..quality.conftest import MAKE, SPEC


def test_review_widget_records_decisions_in_the_ledger(project, kernel_in):
    project.notebook("make", "dup = False", MAKE)
    project.notebook("after", "x = 1", "print(x)")
    project.spec(SPEC)
    project.cli("run", check=0)
    project.cli("run", "-p", "dup=true")
    [(quarantined,)] = project.ledger_rows("select version_id from dataset_versions where status = 'quarantined'")

    kernel = kernel_in(project.root / "notebooks")
    shown = kernel.run(
        """
        import os
        os.environ["DATAOPS_USER"] = "carol"
        import dataops_nb as dn
        panel = dn.review()
        print(panel.status.value)
        group = next(g for g in panel.groups if g.version.endswith(panel.groups[0].version.split("@")[1]))
        print(group.version)
        print("unique(id)" in group.checks.value, "********" in group.sample.value)
        group.accept.click()
        print(group.message.value)
        """
    )
    lines = shown.splitlines()
    assert "open failure(s), 1 quarantined version(s)" in lines[0]
    assert lines[1] == quarantined
    assert lines[2] == "True True"  # the failing rows are shown, PII masked
    assert "Give a reason first" in lines[3]
    assert project.ledger_rows("select count(*) from reviews") == [(0,)]

    kernel.run(
        """
        group.comment_box.value = "looking into the duplicate"
        group.comment_button.click()
        group.reason.value = "duplicate comes from the source system"
        group.accept.click()
        print(panel.status.value)
        """
    )
    assert project.ledger_rows("select decision, reason, user, version_id from reviews order by id") == [
        ("comment", "looking into the duplicate", "carol", quarantined),
        ("accept", "duplicate comes from the source system", "carol", quarantined),
    ]
    assert project.ledger_rows("select status from dataset_versions where version_id = ?".replace("?", f"'{quarantined}'")) == [("current",)]

    # the re-check finds the same failures on the accepted version: decided, not open again
    rechecked = kernel.run("panel.recheck.click()\nprint(panel.status.value)")
    assert "Re-checked staging.t: pass (3 accepted)" in rechecked


def test_review_widget_decides_on_one_check_and_lists_known_issues(project, kernel_in):
    project.notebook("make", "dup = False", MAKE)
    project.notebook("after", "x = 1", "print(x)")
    project.spec(SPEC)
    project.cli("run", check=0)
    [[failure_id]] = project.ledger_rows("select id from check_results where check_name = 'not_null(name)'")
    project.cli("review", "accept", f"#{failure_id}", "--for-runs", "2", "-m", "names are backfilled", check=0)
    project.cli("run", "--force", check=0)

    kernel = kernel_in(project.root / "notebooks")
    shown = kernel.run(
        """
        import dataops_nb as dn
        panel = dn.review()
        print(panel.status.value)
        print("Known issues" in panel.known.value, "names are backfilled" in panel.known.value)
        """
    )
    assert shown.splitlines() == ["Nothing to review: every check passes or has a decision.", "True True"]
    # a check added to the spec fails on the version: decide on that one check only
    project.spec(SPEC.replace("      carrier: {}",
                              "      carrier: {checks: [{accepted_values: {values: [UA], severity: warn, name: ua}}]}"))
    project.cli("check", check=0)
    decided = kernel.run(
        """
        panel.refresh()
        group = panel.groups[0]
        print([label for label, _ in group.scope.options])
        group.scope.value = group.scope.options[1][1]
        group.reason.value = "UA only from January"
        group.waive.click()
        print(panel.status.value.split("<br>")[0])
        """
    )
    lines = decided.splitlines()
    assert lines[0].startswith("['the whole version (the checks failing now)', 'only #") and " ua'" in lines[0]
    assert lines[1] == "Nothing to review: every check passes or has a decision."
    assert project.ledger_rows("select decision, check_name, check_id is not null from reviews order by id") == [
        ("accept", "not_null(name)", 1), ("waive", "ua", 1)]

"""Environments in the sidebar, as a user sees them in the light and the dark theme: the selector
(remembered across reloads) that every panel reads through, a pipeline whose steps show their
outcome in the environment or their deferral to its base, a dataset's diff against the base, and
"Promote" with its plan, its confirmation, its refusals and its authorization.

One Jupyter server over a two-step project for the module: prod built once, dev-alice rebuilt
`double` only; the tests follow one story in order (look, compare, refuse, promote).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import ProjectFactory, make_two_steps
from ..identities import token_of
from ..server.test_environments import ACCESS
from .conftest import (AA, Lab, contrast, module_page, open_sidebar, readable_in_both_themes, running_lab,
                       save_screenshot, use_theme)



def pointers(project: ProjectFactory, env: str) -> dict[str, str]:
    return dict(project.ledger_rows(
        f"select dataset, version_id from current_versions where environment = '{env}' order by dataset"))


@pytest.fixture(scope="module")
def envlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("envlab")
    root = base / "twosteps"
    root.mkdir()

    def build(lab: Lab) -> None:
        make_two_steps(lab.project, ACCESS)
        lab.project.cli("run", env={"DATAOPS_USER": "alice"}, check=0)
        lab.project.cli("run", "--env", "dev-alice", "--only", "double", "-p", "double.factor=3",
                        env={"DATAOPS_USER": "alice"}, check=0)

    with running_lab(base, root, before=build) as lab:
        yield lab


@pytest.fixture(scope="module")
def alice(envlab: Lab, browser) -> Iterator[dict[str, Any]]:
    """alice's page for the module (she may promote into prod), with its uncaught page errors."""
    with module_page(envlab, browser) as alice:
        yield alice


@pytest.fixture
def page(alice: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    page = alice["page"]
    use_theme(page, "light")
    open_sidebar(page)
    yield page
    save_screenshot(page, request.node.name)
    assert alice["errors"] == []


def shown(page, text: str | None = None) -> str:
    """What the panel says it shows; with `text`, once it says that (it updates after a fetch)."""
    if text is not None:
        page.wait_for_function("t => document.querySelector('[data-testid=dataops-env-shown]')?.textContent.trim() === t",
                               arg=text)
    return page.locator("[data-testid=dataops-env-shown]").inner_text()


def choose(page, env: str) -> None:
    page.select_option("[data-testid=dataops-env-select]", env)
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=dataops-env-shown]')?.dataset.environment === {json.dumps(env)}")


def nodes(page) -> dict[str, dict[str, str | None]]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node')]
                 .map(n => [n.dataset.step, {outcome: n.dataset.outcome, deferred: n.dataset.deferred ?? null,
                                            label: n.querySelector('.jp-DataOps-deferredlabel')?.textContent ?? null}]))"""
    )


def test_the_selector_lists_environments_marks_the_default_and_is_remembered(page, envlab):
    select = page.locator("[data-testid=dataops-env-select]")
    select.locator("option").first.wait_for(state="attached")
    options = select.locator("option").all_inner_texts()
    assert options == ["dev-alice · 1 differ from prod", "prod (default)", "test"]
    assert select.input_value() == "prod"
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    page.wait_for_selector("[data-testid=dataops-graph]")
    assert shown(page, "Pipeline in prod (the default environment)") == "Pipeline in prod (the default environment)"
    assert page.locator("[data-testid=dataops-promote]").is_hidden()  # prod has no base to promote into

    choose(page, "dev-alice")
    assert shown(page, "Pipeline in dev-alice · reads what it does not build from prod") == (
        "Pipeline in dev-alice · reads what it does not build from prod")
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-run-all]')?.textContent === 'Run all in dev-alice'")
    # each step's state in dev-alice: double is its own run, make is read from prod
    drawn = nodes(page)
    assert drawn["make"] == {"outcome": "success", "deferred": "prod", "label": "↳ prod"}
    assert drawn["double"] == {"outcome": "success", "deferred": None, "label": None}
    page.locator("[data-testid=dataops-graph] g[data-step=make]").click()
    assert "Deferred to prod" in page.locator("[data-testid=dataops-step-deferred]").inner_text()
    assert page.locator("[data-testid=dataops-step-outcome]").inner_text().startswith("success in run ")

    # every panel reads dev-alice and says so
    page.locator("[data-testid=dataops-tab-runs]").click()
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-env-shown]')?.textContent.startsWith('Runs in dev-alice')")
    dev_runs = [r["run_id"] for r in envlab.api("runs?env=dev-alice")["items"]]
    assert page.locator("[data-testid=dataops-run]").evaluate_all("rows => rows.map(r => r.dataset.run)") == dev_runs
    assert len(dev_runs) == 1
    page.locator("[data-testid=dataops-tab-quality]").click()
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-env-shown]')?.textContent.startsWith('Quality in dev-alice')")

    # the choice outlives a reload
    page.reload()
    page.wait_for_selector(".jp-LabShell", state="attached", timeout=60_000)
    open_sidebar(page)
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-env-select]')?.value === 'dev-alice'")
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-env-shown]')?.textContent.startsWith('Pipeline in dev-alice')")
    page.wait_for_selector("[data-testid=dataops-graph] g[data-step=make][data-deferred=prod]")
    readable_in_both_themes(page, "[data-testid=dataops-envbar] label, [data-testid=dataops-env-shown], "
                            "[data-testid=dataops-graph] .jp-DataOps-node text:not(.jp-DataOps-deferredlabel)", "environments")


def test_a_dataset_page_shows_its_diff_against_the_base(page):
    choose(page, "dev-alice")
    page.locator("[data-testid=dataops-tab-catalog]").click()
    page.locator("[data-testid=dataops-catalog-search]").fill("doubled")
    page.locator("[data-testid=dataops-hit][data-dataset='staging.doubled']").click()
    diff = page.locator("[data-testid=dataops-diff]")
    diff.wait_for()
    assert diff.get_attribute("data-differs") == "true"
    assert diff.locator("h4").inner_text() == "Compared with prod"
    assert diff.locator("[data-testid=dataops-diff-summary]").inner_text() == \
        "9 changed, 0 only in dev-alice, 0 only in prod (key i)"
    assert diff.locator("[data-testid=dataops-diff-rows]").inner_text() == "rows: 10 in prod → 10 in dev-alice"
    assert diff.locator("[data-testid=dataops-diff-columns]").inner_text() == "Changed columns: j (9)"
    sample = diff.locator("[data-testid=dataops-diff-sample] tbody tr").first.locator("td").all_inner_texts()
    assert sample == ["1", "2", "3"]  # alice may unmask j: i, j in prod, j in dev-alice
    assert shown(page).startswith("Catalog in dev-alice")
    readable_in_both_themes(page, "[data-testid=dataops-diff] p, [data-testid=dataops-diff-sample] td", "dataset-diff")

    # in prod (the default environment) there is no base to compare with
    choose(page, "prod")
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-diff] p')?.textContent.includes('prod is the default environment')")


def test_a_user_without_the_promote_right_sees_why_and_a_masked_diff(envlab, browser, request):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    # Lab's page hands every tab the server's own token (alice's here): bob's requests carry his
    # token instead, as his own server behind JupyterHub would give him
    bob = f"token {token_of('bob')}"
    context.route("**/*", lambda route: route.continue_(headers={**route.request.headers, "authorization": bob}))
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{envlab.url}/lab?reset&token={token_of('bob')}")
        page.wait_for_selector(".jp-LabShell", state="attached", timeout=60_000)
        open_sidebar(page)
        choose(page, "dev-alice")
        button = page.locator("[data-testid=dataops-promote]")
        page.wait_for_function("() => document.querySelector('[data-testid=dataops-promote-why]')?.textContent !== ''")
        assert button.inner_text() == "Promote to prod…" and button.is_disabled()
        reason = "User 'bob' may not promote to prod (see access.roles.<role>.promote in dataops.yaml)."
        assert page.locator("[data-testid=dataops-promote-why]").inner_text() == reason
        assert button.get_attribute("title") == reason
        page.locator("[data-testid=dataops-tab-catalog]").click()
        page.locator("[data-testid=dataops-catalog-search]").fill("doubled")
        page.locator("[data-testid=dataops-hit][data-dataset='staging.doubled']").click()
        row = page.locator("[data-testid=dataops-diff-sample] tbody tr").first.locator("td")
        row.first.wait_for()
        i, before, after = row.all_inner_texts()
        assert i == "1" and before == after and set(before) == {"*"}  # bob may not unmask j
    finally:
        save_screenshot(page, request.node.name)
        context.close()


def test_promote_shows_the_plan_asks_refuses_stale_inputs_then_applies(page, envlab):
    project = envlab.project
    # prod rebuilt raw.numbers since dev-alice's doubled was built from the old one
    project.cli("run", "--only", "make", "-p", "make.n=7", env={"DATAOPS_USER": "alice"}, check=0)
    before = pointers(project, "prod")
    choose(page, "prod")
    choose(page, "dev-alice")  # the plan is read as the environment is chosen
    button = page.locator("[data-testid=dataops-promote]")
    page.wait_for_function("() => !document.querySelector('[data-testid=dataops-promote]').disabled")
    assert button.inner_text() == "Promote to prod…"

    # the plan, then Cancel: nothing changes (in each theme, readable)
    for theme in ("light", "dark"):
        use_theme(page, theme)
        button.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for()
        assert "Promote dev-alice to prod?" in dialog.locator(".jp-Dialog-header").inner_text()
        plan = dialog.locator("[data-testid=dataops-promote-plan]")
        assert plan.locator("p").first.inner_text() == \
            "Promoting dev-alice to prod makes 1 version current in prod: nothing is recomputed, no file is copied."
        move = plan.locator("[data-testid=dataops-promote-move]")
        assert move.get_attribute("data-dataset") == "staging.doubled"
        cells = move.locator("td").all_inner_texts()
        assert cells[0] == "staging.doubled" and cells[3] == "no checks" and "built from raw.numbers@" in cells[4]
        poor = [m for m in contrast(page, ".jp-Dialog [data-testid=dataops-promote-plan] td, "
                                         ".jp-Dialog [data-testid=dataops-promote-plan] p") if m["ratio"] < AA]
        assert not poor, f"{theme}: {poor}"
        save_screenshot(page, f"promote-plan-{theme}")
        dialog.locator(".jp-Dialog-button", has_text="Cancel").click()
        dialog.wait_for(state="detached")
    use_theme(page, "light")
    assert pointers(project, "prod") == before

    # confirmed without force: refused (409), the sidebar names the dataset, nothing changes
    button.click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-Dialog-button.jp-mod-accept", has_text="Promote 1 dataset").click()
    message = page.locator("[data-testid=dataops-message]")
    message.filter(has_text="is refused").wait_for()
    assert "Promoting dev-alice to prod is refused: staging.doubled: built from raw.numbers@" in message.inner_text()
    assert pointers(project, "prod") == before

    # with force: applied, said so, and prod reads dev-alice's version
    button.click()
    dialog.locator("[data-testid=dataops-promote-force]").check()
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    result = page.locator("[data-testid=dataops-promote-result]")
    result.filter(has_text="Promoted").wait_for()
    assert result.inner_text() == "Promoted dev-alice to prod: staging.doubled current in prod now."
    after = pointers(project, "prod")
    assert after["staging.doubled"] == pointers(project, "dev-alice")["staging.doubled"]
    assert after["raw.numbers"] == before["raw.numbers"]
    assert project.ledger_rows("select actor, origin from audit_log where action = 'promoted'") == [("alice", "server")]
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-promote]').disabled")
    assert page.locator("[data-testid=dataops-promote-why]").inner_text() == \
        "Nothing to promote: prod already has every version of dev-alice."
    readable_in_both_themes(page, "[data-testid=dataops-promote-result] div, [data-testid=dataops-promote-why]", "promoted")


def test_run_all_runs_in_the_selected_environment(page, envlab):
    api = envlab.api
    others = {env: api(f"environments/{env}")["datasets"] for env in ("prod", "dev-alice")}
    before = {r["run_id"] for r in api("runs")["items"]}
    choose(page, "test")
    page.locator("[data-testid=dataops-tab-pipeline]").click()
    run_all = page.locator("[data-testid=dataops-run-all]")
    page.wait_for_function("() => document.querySelector('[data-testid=dataops-run-all]')?.textContent === 'Run all in test'")
    run_all.click()
    page.locator("[data-testid=dataops-live]", has_text="Run ").wait_for()
    # both steps run in test (n = 5 there): its own outcomes, nothing deferred to prod any more
    page.wait_for_function(
        """() => {
            const nodes = [...document.querySelectorAll('[data-testid=dataops-graph] g.jp-DataOps-node')];
            return nodes.length === 2 && nodes.every(n => n.dataset.outcome === 'success' && n.dataset.deferred === undefined)
                && document.querySelector('[data-testid=dataops-live]')?.textContent === 'No run in progress.';
        }""",
        timeout=180_000,
    )
    (run,) = [r for r in api("runs")["items"] if r["run_id"] not in before]
    assert (run["environment"], run["status"], run["user"]) == ("test", "success", "alice")
    assert [r["run_id"] for r in api("runs?env=test")["items"]] == [run["run_id"]]

    # what it built is current in test only; prod and dev-alice read what they read before
    shown = api("environments/test")["datasets"]
    assert {d["dataset"]: d["from"] for d in shown} == {"raw.numbers": "test", "staging.doubled": "test"}
    for dataset in shown:
        assert dataset["rows"] == 5 and dataset["version"].endswith("@" + run["run_id"])
        (version,) = [v for v in api(f"catalog/{dataset['dataset']}")["versions"] if v["version"] == dataset["version"]]
        assert (version["environment"], version["current_in"]) == ("test", ["test"])
    assert {env: api(f"environments/{env}")["datasets"] for env in others} == others

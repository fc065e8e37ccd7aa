"""Replay: re-execute a past run exactly and say whether it reproduces.

The steps the run executed run again from the run's git commit (a temporary `git worktree`),
with its parameters and its environment's parameter overlay, each step reading exactly the
dataset versions it read then (pinned, even if superseded since), into a scratch environment
(`replay-<run>`, dropped afterwards unless kept). Every dataset the run published is then
compared with the replay's by content hash and, where the bytes differ, by a data diff; the
answer says `reproduced`, or what differs and why it could not be exact (uncommitted changes
at the time, an input version gc deleted, a step whose output differs between runs, other
package versions).

Bad input (an unknown run, a commit the repository does not have, inputs gc deleted that no
replayed step rebuilds) is refused before anything is written.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataOpsError, NotFoundError
from ..ledger import VersionRecord, validate_run_id
from ..ledger.records import RunRecord
from ..project import Project
from .fingerprint import Fingerprint

EXECUTED = ("success", "quarantined", "accepted")  # the step runs that recorded what they read


def scratch_environment(run_id: str) -> str:
    return f"replay-{run_id}"


@dataclass
class ReplayPlan:
    run: RunRecord
    commit: str
    repository: Path  # the top of the git work tree the project is in
    steps: list[str]  # the steps the run executed, in the run's order
    fingerprints: dict[str, Fingerprint]
    pins: dict[str, dict[str, str]]  # step -> dataset -> version it read (still readable)
    # step -> datasets whose version it read gc deleted: it reads the replayed one instead
    substituted: dict[str, dict[str, str]] = field(default_factory=dict)


# --- what can be replayed (nothing written) ------------------------------------------------


def prepare(project: Project, run_id: str) -> ReplayPlan:
    """The replay of run `run_id`, or the one sentence why it cannot be."""
    validate_run_id(run_id)
    run = project.ledger.runs.get(run_id) if project.has_ledger() else None
    if run is None:
        known = [r.run_id for r in project.ledger.runs.recent(20)] if project.has_ledger() else []
        raise NotFoundError("run", run_id, known)
    if run.status == "running":
        raise DataOpsError(f"Run {run_id} is still running: replay it once it has ended.")
    if not run.git_commit:
        raise DataOpsError(f"Run {run_id} recorded no git commit (its project was not in a git repository), "
                           "so its code cannot be checked out to replay it.")
    repository = _repository(project, run_id)
    if _git(repository, "cat-file", "-e", f"{run.git_commit}^{{commit}}").returncode != 0:
        raise DataOpsError(f"Run {run_id} ran at commit {run.git_commit[:12]}, which is not in the repository at "
                           f"{repository} (fetch it, then replay).")
    steps, fingerprints = [], {}
    for record in project.ledger.runs.steps(run_id):
        printed = Fingerprint.from_json(record.fingerprint) if record.status in EXECUTED else None
        if printed is not None:
            steps.append(record.step)
            fingerprints[record.step] = printed
    if not steps:
        raise DataOpsError(f"Run {run_id} executed no step to completion (each was fresh, skipped or failed): "
                           "there is nothing to replay.")
    plan = ReplayPlan(run, run.git_commit, repository, steps, fingerprints, {})
    _pin_inputs(project, plan)
    return plan


def _pin_inputs(project: Project, plan: ReplayPlan) -> None:
    """Each step reads what it read; a version gc deleted is read from the replay where a replayed
    step of the run rebuilds it, else the replay is refused naming every such version."""
    wanted = {version for printed in plan.fingerprints.values() for version in printed.inputs.values()}
    records = {v.version_id: v for v in project.ledger.versions.get_many(wanted)}
    rebuilt = {v.version_id for v in project.ledger.versions.of_run(plan.run.run_id) if v.step in plan.steps}
    lost = []
    for step in plan.steps:
        pins = plan.pins.setdefault(step, {})
        for dataset, version in plan.fingerprints[step].inputs.items():
            if _readable(records.get(version)):
                pins[dataset] = version
            elif version in rebuilt:
                plan.substituted.setdefault(step, {})[dataset] = version
            else:
                lost.append(f"{version} (read by step '{step}')")
    if lost:
        raise DataOpsError(f"Run {plan.run.run_id} cannot be replayed: gc deleted input version(s) it read that "
                           f"no replayed step rebuilds: {', '.join(lost)}.")


def _readable(record: VersionRecord | None) -> bool:
    return record is not None and record.status != "deleted" and Path(record.path).is_file()


def _repository(project: Project, run_id: str) -> Path:
    found = _git(project.root, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise DataOpsError(f"The project at {project.root} is not in a git repository, so run {run_id}'s "
                           "commit cannot be checked out.")
    return Path(found.stdout.strip()).resolve()


def _git(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(where), *args], check=False, capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(args, 1, "", str(exc))


# --- the replay ------------------------------------------------------------------------------


@contextmanager
def checkout(project: Project, plan: ReplayPlan) -> Iterator[Project]:
    """The project as it was at the run's commit (a temporary git worktree) over the project's own
    store and ledger; removed on leaving. Declared input files git does not hold are taken from the
    project as they are now (a replay compares their versions with those the run read)."""
    folder = Path(tempfile.mkdtemp(prefix="dataops-replay-"))
    tree = folder / "tree"
    try:
        added = _git(plan.repository, "worktree", "add", "--detach", "--quiet", str(tree), plan.commit)
        if added.returncode != 0:
            raise DataOpsError(f"Commit {plan.commit[:12]} could not be checked out: "
                               f"{(added.stderr.strip().splitlines() or ['git failed'])[-1]}")
        root = tree / project.root.relative_to(plan.repository)
        if not (root / project.spec_path.name).is_file():
            raise DataOpsError(f"Commit {plan.commit[:12]} has no {project.spec_path.name} at "
                               f"{project.root.relative_to(plan.repository) or '.'}: run {plan.run.run_id} "
                               "cannot be replayed from it.")
        for printed in plan.fingerprints.values():
            for key in printed.files:
                source, target = project.root / key, root / key
                if not Path(key).is_absolute() and not target.exists() and source.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
        try:
            then = Project(root, store_root=project.store.root)
        except DataOpsError as exc:
            raise DataOpsError(f"The spec of commit {plan.commit[:12]} does not load: {exc}") from exc
        yield then
    finally:
        if tree.exists():
            _git(plan.repository, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)
        _git(plan.repository, "worktree", "prune")


def replay(project: Project, run_id: str, *, keep: bool = False, jobs: int = 1,
           report: Callable[[dict[str, Any]], None] | None = None, user: str | None = None) -> dict[str, Any]:
    """Re-execute run `run_id` into its scratch environment and compare what it published."""
    from ..environments import drop_environment, known
    from .run import Runner, RunRequest

    plan = prepare(project, run_id)
    scratch = scratch_environment(run_id)
    with checkout(project, plan) as then:
        missing = [step for step in plan.steps if step not in then.spec.step_names]
        steps = [step for step in plan.steps if step in then.spec.step_names]
        if not steps:
            raise DataOpsError(f"None of the steps run {run_id} executed ({', '.join(plan.steps)}) is in the spec "
                               f"of commit {plan.commit[:12]} (they were uncommitted when it ran).")
        if scratch in known(project):  # a replay kept before: start from nothing again
            drop_environment(project, scratch, user=user, origin="replay")
        request = RunRequest(
            overrides=_overrides(plan.run, steps), only=tuple(steps), jobs=jobs, env=scratch,
            overlay=plan.run.environment, force=True, replay_of=run_id,
            pins={step: plan.pins[step] for step in steps},
        )
        summary = Runner(then, request, report).run()
    result = compare(project, plan, summary.run_id, missing=missing,
                     failed={name: o.error or o.status for name, o in summary.failures.items()}, user=user)
    result["environment"] = scratch
    result["kept"] = keep
    if not keep and scratch in known(project):
        drop_environment(project, scratch, user=user, origin="replay")
    return result


def _overrides(run: RunRecord, steps: list[str]) -> dict[str, Any]:
    """The run's resolved parameters of `steps` (secrets are read from the environment again)."""
    return {
        f"{step}.{key}": value
        for step, values in run.params.items()
        if step in steps
        for key, value in values.items()
        if not (isinstance(value, dict) and "secret" in value)
    }


# --- the comparison ---------------------------------------------------------------------------


def compare(project: Project, plan: ReplayPlan, replay_id: str, *, missing: list[str] | None = None,
            failed: dict[str, str] | None = None, user: str | None = None) -> dict[str, Any]:
    """Each dataset the run published against the replay's, and why the replay could not be exact."""
    from .packages import differences

    ledger = project.ledger
    again = ledger.runs.get(replay_id)
    packages = differences(plan.run.packages, again.packages if again else {}) if plan.run.packages else []
    reasons: list[str] = []
    if plan.run.git_dirty:
        reasons.append(f"the working tree had uncommitted changes when run {plan.run.run_id} ran: the replay ran "
                       f"commit {plan.commit[:12]} as committed")
    if not plan.run.packages:
        reasons.append("the run recorded no package versions, so they cannot be compared")
    elif packages:
        reasons.append("package versions differ: " + ", ".join(packages))
    reasons += [f"step '{step}' is not in the spec of commit {plan.commit[:12]}: not replayed" for step in missing or []]
    for step, error in (failed or {}).items():
        reasons.append(f"step '{step}' failed in the replay: {error}")

    steps: dict[str, list[str]] = {}
    for step in plan.steps:
        record = ledger.runs.step(replay_id, step)
        now = Fingerprint.from_json(record.fingerprint) if record else None
        steps[step] = _step_differences(plan, step, now)
    for step, why in steps.items():
        reasons += [f"step '{step}': {reason}" for reason in why]

    originals = {v.dataset: v for v in ledger.versions.of_run(plan.run.run_id)}
    replayed = {v.dataset: v for v in ledger.versions.of_run(replay_id)}
    datasets = []
    for name in sorted(set(originals) | set(replayed)):
        entry = _dataset(project, name, originals.get(name), replayed.get(name), user=user)
        step = (originals.get(name) or replayed[name]).step
        if entry["status"] == "differs" and step in steps:
            if not steps[step] and not packages:
                entry["why"] = (f"step '{step}' produced other data from the same code, parameters and inputs: "
                                "its output differs between runs")
                reasons.append(f"{name}: {entry['why']}")
            else:
                entry["why"] = "; ".join(steps[step] + (["package versions differ"] if packages else []))
        datasets.append(entry)
    reproduced = all(d["status"] in ("identical", "same_rows") for d in datasets) and not failed and not missing
    return {
        "run_id": plan.run.run_id, "replay_run_id": replay_id, "commit": plan.commit,
        "reproduced": reproduced, "datasets": datasets, "reasons": reasons,
        "steps": [{"step": step, "differences": why} for step, why in steps.items()],
        "packages": packages,
    }


def _step_differences(plan: ReplayPlan, step: str, now: Fingerprint | None) -> list[str]:
    """What a replayed step did not get as the run's step had it."""
    from ..inputs import changes

    before = plan.fingerprints[step]
    found = [f"read the replayed {version.split('@')[0]}: the version it read, {version}, was deleted by gc"
             for version in plan.substituted.get(step, {}).values()]
    if now is None:
        return found
    if now.code != before.code:
        found.append("its notebook's code differs from what ran")
    if now.params != before.params:
        found.append("its parameters differ from the run's")
    found += [f"module {path} differs from what ran" for path in sorted(set(now.modules) | set(before.modules))
              if now.modules.get(path) != before.modules.get(path)]
    substituted = plan.substituted.get(step, {})
    found += [f"read {now.inputs.get(dataset, 'no version')} of {dataset} where the run read {version}"
              for dataset, version in sorted(before.inputs.items())
              if dataset not in substituted and now.inputs.get(dataset) != version]
    found += [f"input {reason}" for reason in changes(now.files, before.files)]
    return found


def _dataset(project: Project, name: str, original: VersionRecord | None, replayed: VersionRecord | None, *,
             user: str | None) -> dict[str, Any]:
    """`identical` (same bytes), `same_rows` (other bytes, no row differs), `differs` (with the diff),
    `not_compared` (the original's file is gone) or `missing` (one side did not publish it)."""
    from ..inputs import file_hash

    entry: dict[str, Any] = {"dataset": name, "original": original.version_id if original else None,
                             "replayed": replayed.version_id if replayed else None}
    if original is None or replayed is None:
        entry.update(status="missing", why="only the replay published it" if original is None
                     else "the replay did not publish it")
        return entry
    if not _readable(original):
        entry.update(status="not_compared", why=f"{original.version_id} was deleted by gc: nothing to compare with")
        return entry
    same = file_hash(Path(original.path)) == file_hash(Path(replayed.path))
    if same:
        entry["status"] = "identical"
        return entry
    from ..metadata.diff import dataset_diff, declared_key

    try:
        found = dataset_diff(project, name, original, replayed, key=declared_key(project.spec, name), user=user)
    except DataOpsError:  # a key the data does not hold (missing, not unique): compare rows as multisets
        found = dataset_diff(project, name, original, replayed, key=None, user=user)
    entry["status"] = "differs" if found["differs"] else "same_rows"
    entry["diff"] = found
    return entry

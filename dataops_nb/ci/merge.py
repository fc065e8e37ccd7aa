"""What a merge to the main branch does with the environment CI tested.

CI records what it built (`ci_tested` in the audit log: commit, tree, whether the tree was
clean). When the merged commit has that same tree (a fast-forward, a squash or a merge of an
up-to-date branch), the tested versions are what a run would build: promote them, nothing
recomputed. Otherwise (main moved on, CI never built this environment, or built it from a dirty
tree or failed) the target is built by a normal run.
"""

from __future__ import annotations

from typing import Any

from .. import audit
from ..errors import DataOpsError
from ..project import Project
from . import git


def tested_build(project: Project, env: str) -> dict[str, Any] | None:
    """The latest `ci` build of `env`: its audit details (commit, tree, dirty, run_id, failed, ...)."""
    if not project.has_ledger():
        return None
    entries = [e for e in project.ledger.audit.entries(action=audit.CI_TESTED) if e.target == env]
    return dict(entries[-1].details) if entries else None


def decide(project: Project, source: str, target: str, merged: str) -> dict[str, Any]:
    """`{"action": "promote" | "run", "why": ..., "tested": ...}` for the merge of commit `merged`."""
    from ..environments import promotion_plan, require_known

    git.require_repository(project.root)
    require_known(project, source)
    commit, tree = git.commit_of(project.root, merged), git.tree(project.root, merged)
    if commit is None or tree is None:
        raise DataOpsError(f"--merged {merged}: not a commit of the repository at {project.root}.")
    tested = tested_build(project, source)
    decision = {"action": "run", "merged": commit, "tested": tested, "from": source, "to": target}
    if tested is None:
        return {**decision, "why": f"no ci build of {source} is recorded"}
    built = (tested.get("commit") or "?")[:10]
    if tested.get("dirty"):
        return {**decision, "why": f"{source} was built from commit {built} with uncommitted changes"}
    if tested.get("tree") != tree:
        return {**decision, "why": f"{source} was built from commit {built}, whose files differ from {commit[:10]}'s"}
    if tested.get("failed"):
        return {**decision, "why": f"the ci build of {source} (commit {built}) failed"}
    moves = promotion_plan(project, source, target)
    moved_on = [m.dataset for m in moves if m.problem and m.forcible]
    if moved_on:
        return {**decision, "why": f"{target} has changed inputs of {', '.join(moved_on)} since the ci build"}
    same = "is the commit" if tested.get("commit") == commit else f"has the files of commit {built}, the one"
    return {**decision, "action": "promote", "why": f"{commit[:10]} {same} ci built {source} from"}

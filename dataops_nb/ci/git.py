"""What slim CI asks git: the repository, the branch, a commit's tree, a file at a commit.

Every call is `git` in the project's folder; a failure answers None (or raises the one
bad-input error, for a project outside any repository)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from ..errors import DataOpsError


class NotARepositoryError(DataOpsError):
    """Slim CI compares commits: the project must be inside a git repository."""

    def __init__(self, root: Path) -> None:
        super().__init__(f"dataops-nb ci compares commits, but {root} is not inside a git repository "
                         "(run it in a clone, or `git init` and commit first).")
        self.root = root


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], check=False, cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def require_repository(root: Path) -> Path:
    """The top folder of the repository `root` is in (a repository with at least one commit)."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or _git(root, "rev-parse", "--verify", "-q", "HEAD") is None:
        raise NotARepositoryError(root)
    return Path(top.strip())


def branch(root: Path) -> str | None:
    """The branch being tested: a pull request's head branch on GitHub Actions, else the checked-out
    one (None on a detached HEAD)."""
    name = os.environ.get("GITHUB_HEAD_REF", "").strip()
    if not name:
        out = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
        name = out.strip() if out else ""
    return name if name and name != "HEAD" else None


def tree(root: Path, rev: str) -> str | None:
    """The tree hash of commit `rev` (two commits with one tree hold the same files)."""
    if rev.startswith("-"):
        return None
    out = _git(root, "rev-parse", "--verify", "-q", f"{rev}^{{tree}}")
    return out.strip() if out else None


def commit_of(root: Path, rev: str) -> str | None:
    if rev.startswith("-"):
        return None
    out = _git(root, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}")
    return out.strip() if out else None


def show(root: Path, commit: str, path: Path) -> str | None:
    """The text of `path` (a file of the project) at `commit`, None where it was not there."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        return None
    relative = path.resolve().relative_to(Path(top.strip()).resolve()).as_posix()
    return _git(root, "show", f"{commit}:{relative}")


def environment_name(root: Path) -> str:
    """`ci-<branch>` (letters, digits, '-' and '_' kept), else `ci-<short commit>`."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", branch(root) or "").strip("-_")
    if not name:
        out = _git(root, "rev-parse", "--short=10", "HEAD")
        name = out.strip() if out else "detached"
    return f"ci-{name}"[:64].rstrip("-_")

"""Secrets, identity and access: who is acting, what their roles allow, and keeping
secret values out of every artifact."""

from __future__ import annotations

import fnmatch
import getpass
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .secrets import MASK  # noqa: F401  (re-exported: masking PII uses the same mask)


USER_VARIABLE = "DATAOPS_USER"
ORIGIN_VARIABLE = "DATAOPS_ORIGIN"  # set by the server for the runs it starts; the CLI is "cli"
ORIGINS = ("cli", "server")


def current_user() -> str:
    """DATAOPS_USER, else JUPYTERHUB_USER, else the OS user (the CLI's identity; the server
    passes Jupyter's authenticated user instead)."""
    for variable in (USER_VARIABLE, "JUPYTERHUB_USER"):
        value = os.environ.get(variable)
        if value:
            return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_origin() -> str:
    """Where the current process acts from: "server" for a run the server started, else "cli"."""
    origin = os.environ.get(ORIGIN_VARIABLE, "cli")
    return origin if origin in ORIGINS else "cli"


def role_grants(spec: Any, user: str, dataset: str, right: str) -> bool:
    """A role of `user` has a `right` (read, unmask, review; run for a step, promote for an
    environment) pattern matching `dataset`."""
    for role in spec.access.members.get(user, []):
        patterns = spec.access.roles.get(role)
        if patterns and any(fnmatch.fnmatchcase(dataset, p) for p in getattr(patterns, right)):
            return True
    return False


def may(spec: Any, user: str, dataset: str, right: str) -> bool:
    """Reading and reviewing are open to anyone until `access.members` names people; then a
    role must grant them. Unmasking PII always needs a role."""
    if right != "unmask" and not spec.access.members:
        return True
    return role_grants(spec, user, dataset, right)


def may_run(spec: Any, user: str, steps: Iterable[str]) -> str | None:
    """The first of `steps` that `user` may not start (None when all are allowed).

    Like reading, open to anyone until `access.members` names people; then a role's `run`
    patterns must match every step the run would execute."""
    if not spec.access.members:
        return None
    return next((step for step in steps if not role_grants(spec, user, step, "run")), None)


def may_promote(spec: Any, user: str, environment: str) -> bool:
    """Whether `user` may make versions current in `environment` by promotion (from the server).

    Like running, open to anyone until `access.members` names people; then a role's `promote`
    patterns must match the target environment."""
    return not spec.access.members or role_grants(spec, user, environment, "promote")


def secret_values(env_names: Iterable[str]) -> list[str]:
    """The values behind secret environment variables that can be masked, longest first."""
    from .secrets import values_of

    return values_of(env_names)


def redact_text(text: str, values: Iterable[str]) -> str:
    """`text` with every form of every value masked (see `secrets.forms`)."""
    from .secrets import Redactor

    return Redactor(values).text(text)


def redact(data: Any, values: list[str]) -> Any:
    """`data` (JSON-like) with every form of every secret value masked in every string."""
    from .secrets import Redactor

    return Redactor(values).data(data)


def redact_notebook(source: Path, target: Path, values: list[str]) -> None:
    """Copy an executed notebook to `target` with secret values masked in every output."""
    from .secrets import Redactor

    nb = json.loads(source.read_text(encoding="utf-8"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".ipynb.tmp")
    tmp.write_text(json.dumps(Redactor(values).notebook(nb), indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)

"""Secrets and identity: who is acting, and keeping secret values out of every artifact."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MASK = "********"


def current_user() -> str:
    """DATAOPS_USER, else JUPYTERHUB_USER, else the OS user."""
    for variable in ("DATAOPS_USER", "JUPYTERHUB_USER"):
        value = os.environ.get(variable)
        if value:
            return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def secret_values(env_names: Iterable[str]) -> list[str]:
    """The values behind secret environment variables, longest first (for replacement)."""
    values = {os.environ[name] for name in env_names if os.environ.get(name)}
    # very short values would mask ordinary text everywhere; they are refused earlier
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, values: Iterable[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
        escaped = json.dumps(value)[1:-1]
        if escaped != value:
            text = text.replace(escaped, MASK)
    return text


def redact(data: Any, values: list[str]) -> Any:
    """`data` (JSON-like) with every secret value masked in every string."""
    if not values:
        return data
    if isinstance(data, str):
        return redact_text(data, values)
    if isinstance(data, list):
        return [redact(item, values) for item in data]
    if isinstance(data, dict):
        return {key: redact(item, values) for key, item in data.items()}
    return data


def redact_notebook(source: Path, target: Path, values: list[str]) -> None:
    """Copy an executed notebook to `target` with secret values masked in every output."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".ipynb.tmp")
    tmp.write_text(json.dumps(redact(nb, values), indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)

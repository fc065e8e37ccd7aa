"""Files the kit writes for other tools: marked as generated, replaced whole, never over a user's own."""

from __future__ import annotations

from pathlib import Path

from .errors import ConflictError


def check_replaceable(path: Path, marker: str, command: str, *, force: bool = False) -> None:
    """Refuse to replace a file that does not start with `marker` (so was not generated), unless `force`."""
    if path.is_dir():
        raise ConflictError(f"{path} is a directory, not a file that `{command}` can write.")
    if path.exists() and not force and not path.read_text(encoding="utf-8", errors="replace").startswith(marker):
        raise ConflictError(f"{path} exists and was not written by `{command}`: pass --force to replace it.")


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` in one step (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

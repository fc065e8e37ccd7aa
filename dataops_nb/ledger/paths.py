"""Version paths as the ledger keeps them: relative to the store root, so a moved project reads its own files."""

from __future__ import annotations

from pathlib import Path


def stored_path(path: Path | str, store_root: Path) -> str:
    """A version's file as the ledger records it: relative to the store root (POSIX), so the
    record stays true when the project is copied or moved; a file outside the store stays absolute."""
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    for candidate, root in ((path, store_root), (path.resolve(), store_root.resolve())):
        if candidate.is_relative_to(root):
            return candidate.relative_to(root).as_posix()
    return str(path)


def resolve_stored_path(stored: str, store_root: Path) -> str:
    """The file a ledger path names, from the current store root (absolute rows stay as they are)."""
    return str(store_root / stored)

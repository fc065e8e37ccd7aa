"""The encodings an attacker would look for, computed here independently of the kit."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus


def encodings(value: str) -> dict[str, str]:
    """Name -> the text `value` becomes in that encoding (base64: of the value alone)."""
    return {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "repr": repr(value)[1:-1],
        "html": html.escape(value),
        "html-repr": html.escape(repr(value)[1:-1]),
        "html-numeric": html.escape(value).replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode()[:-4],  # the last group may hold padding
        "base64-url": base64.urlsafe_b64encode(value.encode()).decode()[:-4],
    }


def byte_forms(value: str) -> dict[str, bytes]:
    """Name -> the bytes `value` becomes: each text encoding in UTF-8, and the value in UTF-16."""
    forms = {kind: form.encode() for kind, form in encodings(value).items()}
    forms.update({"utf-16-le": value.encode("utf-16-le"), "utf-16-be": value.encode("utf-16-be")})
    return forms


def leaks(data: bytes, secrets: dict[str, str]) -> list[str]:
    """`SECRET:encoding` for every encoding of every secret found in `data`."""
    return [
        f"{name}:{kind}"
        for name, value in secrets.items()
        for kind, form in byte_forms(value).items()
        if form in data
    ]


def scan_tree(root: Path, secrets: dict[str, str], *, skip: Callable[[str], bool] = lambda path: False,
              ) -> dict[str, list[str]]:
    """Every file under `root` (but those whose relative path `skip` names) with the encodings of secrets it holds."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not skip(relative):
            hits = leaks(path.read_bytes(), secrets)
            if hits:
                found[relative] = hits
    return found

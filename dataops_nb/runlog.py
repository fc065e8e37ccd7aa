"""The JSON-lines log of one run (`runs/<run_id>/run.log`): one event per line."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from .ledger import now


class RunLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def event(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"time": now(), "event": event, **fields}
        line = json.dumps(record, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return record


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

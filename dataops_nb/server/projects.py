"""The server's open projects: one `Project` per directory, kept while its spec file is unchanged.

Opening a project per request parsed nothing twice (the spec cache) but still opened the
ledger each time: a new database connection per call, a PostgreSQL one costing more than the
search it served. A kept project also keeps its ledger handle, so the catalog's cached
answers can tell cheaply whether anything was written since.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .. import service
from ..project import Project

_RACY_NS = 2_000_000_000  # two writes within the clock's granularity may share an mtime
_LIMIT = 64


class ProjectCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, tuple[tuple[int, int], Project]] = {}

    def get(self, directory: Path) -> Project:
        with self._lock:
            kept = self._open.get(directory)
        if kept is not None:
            stamp, project = kept
            now = _stamp(project.spec_path)
            if now == stamp and time.time_ns() - now[0] > _RACY_NS:
                return project
        project = service.open_project(directory)
        with self._lock:
            if len(self._open) >= _LIMIT:
                self._open.pop(next(iter(self._open)))
            self._open[directory] = (_stamp(project.spec_path), project)
        return project


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_mtime_ns, stat.st_size)


PROJECTS = ProjectCache()

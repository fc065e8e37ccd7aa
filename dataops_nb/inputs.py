"""File inputs: the files (and URLs) a step reads from outside the store.

A step declares them in `dataops.yaml` (`inputs: [data/companies.csv, "data/raw/*.parquet",
https://example.com/prices.csv]`: paths relative to the project, globs allowed) or in the
notebook (`step.input("data/companies.csv")`). Each one's version joins the step's
fingerprint, so editing the file makes the step stale:

- a file's version is the hash of its content. Hashes are cached by (size, mtime_ns) in
  the store (`.dataops/cache/files.json`), so a no-op plan reads no unchanged file; a
  file modified within the last two seconds is hashed again (its mtime may not have
  ticked yet).
- a URL's version comes from a HEAD request: its ETag, else its Last-Modified and
  length. A server that says neither, or does not answer, leaves the step stale.

Keys are project-relative POSIX paths (or the URL as declared), the same in fingerprints,
lineage and OpenLineage events.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from .errors import DataOpsError

MISSING = "missing"  # the version of a declared file that does not exist
UNVERSIONED = "unversioned"  # a URL whose server gives no ETag or Last-Modified, or does not answer
_RACY_NS = 2_000_000_000
_GLOB = set("*?[")
_lock = threading.Lock()


class InputError(DataOpsError):
    """A declared input that cannot be used (a file that does not exist, a path outside the project)."""

    def __init__(self, message: str, *, step: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.step, self.path = step, path


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def is_pattern(text: str) -> bool:
    return bool(_GLOB & set(text))


def key_of(path: Path, project: Path) -> str:
    """How a file is named in fingerprints and lineage: relative to the project when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(project.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def expand(patterns: list[str], project: Path) -> list[str]:
    """The keys of declared inputs: each URL, each file a glob matches, each literal path."""
    keys: list[str] = []
    for pattern in patterns:
        if is_url(pattern):
            keys.append(pattern)
        elif is_pattern(pattern):
            root = str(project / pattern) if not os.path.isabs(pattern) else pattern
            keys += sorted(key_of(Path(p), project) for p in glob.glob(root, recursive=True) if os.path.isfile(p))
        else:
            keys.append(key_of(project / pattern, project))
    return list(dict.fromkeys(keys))


class FileVersions:
    """Content hashes of files (cached by size and mtime) and versions of URLs."""

    def __init__(self, project: Path, cache_dir: Path | None) -> None:
        self.project = project
        self.cache_file = cache_dir / "files.json" if cache_dir is not None else None
        self._cache: dict[str, list[Any]] | None = None
        self._dirty = False
        self._urls: dict[str, str] = {}

    def versions(self, keys: list[str]) -> dict[str, str]:
        found = {key: self.version(key) for key in keys}
        self.save()
        return found

    def version(self, key: str) -> str:
        if is_url(key):
            if key not in self._urls:
                self._urls[key] = url_version(key)
            return self._urls[key]
        path = Path(key) if os.path.isabs(key) else self.project / key
        try:
            stat = path.stat()
        except OSError:
            return MISSING
        if not path.is_file():
            return MISSING
        cache = self._load()
        mark = [stat.st_size, stat.st_mtime_ns]
        entry = cache.get(key)
        if entry and entry[:2] == mark and time.time_ns() - stat.st_mtime_ns > _RACY_NS:
            return str(entry[2])
        digest = file_hash(path)
        cache[key] = [*mark, digest]
        self._dirty = True
        return digest

    def _load(self) -> dict[str, list[Any]]:
        if self._cache is None:
            self._cache = {}
            if self.cache_file is not None:
                try:
                    data = json.loads(self.cache_file.read_text())
                    self._cache = data if isinstance(data, dict) else {}
                except (OSError, ValueError):
                    pass
        return self._cache

    def save(self) -> None:
        """Write the cache (only into a store that exists: a plan never creates one)."""
        if not self._dirty or self.cache_file is None or not self.cache_file.parent.parent.is_dir():
            return
        with _lock:
            try:
                self.cache_file.parent.mkdir(exist_ok=True)
                staged = self.cache_file.with_name(f".files.{os.getpid()}.{threading.get_ident()}.tmp")
                staged.write_text(json.dumps(self._cache))
                os.replace(staged, self.cache_file)
                self._dirty = False
            except OSError:
                pass  # a cache: without it files are hashed again


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def url_version(url: str, *, timeout: float = 10.0) -> str:
    """`etag:...` or `modified:...`, from a HEAD request; UNVERSIONED when the server says neither."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "dataops-nb"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: is_url
            headers = response.headers
    except (urllib.error.URLError, OSError, ValueError):
        return UNVERSIONED
    if headers.get("ETag"):
        return "etag:" + hashlib.sha256(headers["ETag"].encode()).hexdigest()[:16]
    if headers.get("Last-Modified"):
        stamp = f"{headers['Last-Modified']}|{headers.get('Content-Length', '')}"
        return "modified:" + hashlib.sha256(stamp.encode()).hexdigest()[:16]
    return UNVERSIONED


def changes(now: dict[str, str], last: dict[str, str]) -> list[str]:
    """Why the files a step read make it stale: one reason per file."""
    reasons = []
    for key in sorted(set(now) | set(last)):
        what = "input URL" if is_url(key) else "input file"
        version, before = now.get(key), last.get(key)
        if version == UNVERSIONED:
            reasons.append(f"{what} cannot be versioned (no ETag or Last-Modified, or no answer): {key}")
        elif version == before:
            continue
        elif version == MISSING or version is None:
            reasons.append(f"{what} missing: {key}")
        elif before is None:
            reasons.append(f"{what} added: {key}")
        else:
            reasons.append(f"{what} changed: {key}")
    return reasons

"""The kit itself as something another machine can install: a release pin, or a wheel of this source.

A kit installed from a package index is pinned (`dataops-nb==VERSION`). A kit installed from a
source tree (editable, a local directory, a git URL) is a version no index serves, so it is
packed as a pure-Python wheel of the code this process runs: the `dataops_nb` package, the
built-in templates inside it, and the installed distribution's own metadata (dependencies,
entry points). Nothing is built or downloaded: the files are zipped as they are.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import zipfile
from pathlib import Path

DISTRIBUTION = "dataops-nb"
PACKAGE = "dataops_nb"


def from_index() -> bool:
    """True when the installed kit came from a package index (no `direct_url.json`, PEP 610)."""
    try:
        direct = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return False  # run from a checkout on the path: nothing installed it
    if not direct:
        return True
    try:
        return "archive_info" in json.loads(direct) and "dir_info" not in json.loads(direct)
    except ValueError:
        return False


def version() -> str:
    from . import __version__

    return __version__


def _files() -> dict[str, Path]:
    """Path in the wheel -> file on disk: the package and the templates it ships."""
    from .templates import builtin_dir

    package = Path(__file__).resolve().parent
    found = {}
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix not in {".pyc", ".tmp"}:
            found[f"{PACKAGE}/{relative.as_posix()}"] = path
    templates = builtin_dir().resolve()
    if templates != package / "_templates":
        for path in sorted(templates.glob("*.ipynb")):
            found[f"{PACKAGE}/_templates/{path.name}"] = path
    return found


def _metadata() -> tuple[str, str]:
    """METADATA and entry_points.txt of the installed kit (or a minimal one when it is not installed)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
        return dist.read_text("METADATA") or "", dist.read_text("entry_points.txt") or ""
    except importlib.metadata.PackageNotFoundError:
        return (f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {version()}\n",
                "[console_scripts]\ndataops-nb = dataops_nb.cli:main\n")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _entry(name: str) -> zipfile.ZipInfo:
    """A fixed date and mode, so the same code makes the same wheel (and the same image layer)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build(directory: Path) -> Path:
    """Write `dataops_nb-VERSION-py3-none-any.whl` of the running kit into `directory`; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{PACKAGE}-{version()}"
    target = directory / f"{name}-py3-none-any.whl"
    metadata, entry_points = _metadata()
    info = f"{name}.dist-info"
    extra = {
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: dataops-nb export docker\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
        f"{info}/entry_points.txt": entry_points.encode(),
    }
    tmp = target.with_name(target.name + ".tmp")
    record = []
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        entries = [(arc, path.read_bytes()) for arc, path in _files().items()] + list(extra.items())
        for arc, data in entries:
            wheel.writestr(_entry(arc), data)
            record.append(_record_line(arc, data))
        record.append(f"{info}/RECORD,,")
        wheel.writestr(_entry(f"{info}/RECORD"), "\n".join(record) + "\n")
    tmp.replace(target)
    return target

"""Read access to what a step touched: may a user see a step's executed notebook (or its error)?

An executed notebook can show rows of every dataset its step read or published, whether the
step succeeded, failed, timed out or was stopped. So the decision takes every dataset the
step is on record for:

- what the ledger says it published in the run, and what those versions were made from;
- what its manifests say it read and published (`runs/<run>/<step>.json`, and the manifests
  of earlier attempts kept beside it as `<step>.attempt-N.json`). A step writes its manifest
  as it reads, so a step that failed after a read still has the read on record.

A manifest that exists but cannot be read leaves the record incomplete: then only a user who
may read every dataset the project knows may see the notebook. Without `access.members`
everyone may read everything (see `security.may`).

A step's error message is shown to everyone who may see the run, but its PII values only to
a user who may read every dataset behind the step and unmask each of them that holds PII
(`metadata.pii.step_error`, from this record). Others see the message with the mask in place of every value of a PII column
of those datasets' versions (looked up in their files) and of anything the classifier takes
for personal data (e-mail addresses, card and other identifying numbers, phone numbers).
Secrets are redacted before the message is ever stored (the runner's Redactor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AccessDeniedError


@dataclass(frozen=True)
class StepDatasets:
    """The datasets a step of a run is on record for; `complete` is False when a manifest was unreadable."""

    run_id: str
    step: str
    datasets: frozenset[str]
    complete: bool = True


def step_manifests(project: Any, run_id: str, step: str) -> list[Path]:
    """The manifest of the step's last attempt and those kept from earlier attempts."""
    run_dir = project.store.run_dir(run_id)
    return sorted(run_dir.glob(f"{step}.attempt-*.json")) + [run_dir / f"{step}.json"]


def step_datasets(project: Any, run_id: str, step: str) -> StepDatasets:
    names, complete, _, _ = step_record(project, run_id, step)
    return StepDatasets(run_id, step, frozenset(names), complete)


def step_record(project: Any, run_id: str, step: str) -> tuple[set[str], bool, dict[str, str], dict[str, str]]:
    """(datasets, complete, {version id: dataset}, {published file: dataset}) of what the step read and published."""
    names: set[str] = set()
    versions: dict[str, str] = {}
    files: dict[str, str] = {}
    complete = True
    if project.has_ledger():
        for version in project.ledger.versions_of_run(run_id):
            if version.step == step:
                names.add(version.dataset)
                versions[version.version_id] = version.dataset
                for source in project.ledger.inputs_of(version.version_id):
                    names.add(source.split("@", 1)[0])
                    versions[source] = source.split("@", 1)[0]
    for path in step_manifests(project, run_id, step):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            complete = False
            continue
        if not isinstance(manifest, dict):
            complete = False
            continue
        for key in ("read", "published"):
            for item in manifest.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("dataset"), str):
                    names.add(item["dataset"])
                    version = item.get("version")
                    if isinstance(version, str) and version:
                        versions[version if "@" in version else f"{item['dataset']}@{version}"] = item["dataset"]
                    if key == "published" and isinstance(item.get("path"), str):  # staged or not
                        files[str(project.store.root / item["path"])] = item["dataset"]
                else:
                    complete = False
    return names, complete, versions, files


def _known_datasets(project: Any) -> set[str]:
    names = set(project.spec.datasets)
    if project.has_ledger():
        names.update(project.ledger.dataset_names())
    return names


def unreadable_for(project: Any, user: str, run_id: str, step: str) -> str | None:
    """The first dataset behind the step that `user` may not read, or None when they may read them all."""
    from .security import may

    if not project.spec.access.members:
        return None
    record = step_datasets(project, run_id, step)
    names = record.datasets if record.complete else record.datasets | _known_datasets(project)
    for name in sorted(names):
        if not may(project.spec, user, name, "read"):
            return name
    return None


def may_read_step(project: Any, user: str | None, run_id: str, step: str) -> bool:
    """Whether `user` (default: the current one) may see what a step of a run showed: its
    executed notebook, and data values in its error."""
    from .security import current_user

    return unreadable_for(project, user or current_user(), run_id, step) is None


def check_step_access(project: Any, user: str | None, run_id: str, step: str) -> None:
    """Raise AccessDeniedError naming the dataset when `user` may not see the step's notebook."""
    from .security import current_user

    user = user or current_user()
    name = unreadable_for(project, user, run_id, step)
    if name is not None:
        raise AccessDeniedError(
            f"User '{user}' may not read {name}, which step {step} of run {run_id} used: "
            "its executed notebook may show its rows."
        )

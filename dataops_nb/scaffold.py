"""`dataops-nb init`: a new project that runs at once."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import ConflictError
from .notebooks import blank_copy
from .spec import SPEC_FILE
from .templates import list_templates

SAMPLE_TEMPLATE = "ingest_file"

SPEC = """\
# The pipeline as code. Schema: `dataops-nb schema`; docs: the dataops-nb README.
name: {name}
store: .dataops

environments:
  test:                # `dataops-nb test` and `dataops-nb run --env test`
    params: {{}}

steps:
  - name: ingest
    notebook: notebooks/ingest.ipynb

datasets:
  raw.example:
    description: A first dataset; replace it with your own.
    owner: {owner}
    tags: [example]
"""

GITIGNORE = """\
.dataops/
.ipynb_checkpoints/
__pycache__/
"""

PRE_COMMIT = """\
# Strip notebook outputs before they reach git (cells marked NBVAL_CHECK_OUTPUT keep theirs).
repos:
  - repo: local
    hooks:
      - id: dataops-strip
        name: strip notebook outputs
        entry: dataops-nb strip
        language: system
        files: \\.ipynb$
"""

CI_WORKFLOW = """\
# Slim CI for data: a pull request builds only the steps it changes (and their dependents) into an
# environment of its own, ci-pr-<number>, reading everything else from prod, and shows how the data
# changes; merging it promotes that environment to prod (nothing recomputed when the merged commit
# has the files CI built; otherwise a normal run). Environments are pointers in the ledger: both
# jobs must share it and the store, so set the spec's ledger.url_env (a PostgreSQL URL, read from
# the repository's secrets) and a store the runners share. The promote job reuses the notebooks
# job's env and set-up steps (YAML anchors &name, aliases *name): a variable added there reaches both.
name: dataops
on:
  pull_request:
    types: [opened, synchronize, reopened, closed]
jobs:
  notebooks:
    if: github.event.action != 'closed'
    runs-on: ubuntu-latest
    # The environment variables of the spec's {secret: ENV} parameters, read from the repository's
    # secrets (Settings > Secrets and variables > Actions). Add one line per variable, e.g.
    #   FLIGHTS_TOKEN: ${{ secrets.FLIGHTS_TOKEN }}
    env: &env
      DATAOPS_USER: ci
      DATAOPS_LEDGER_URL: ${{ secrets.DATAOPS_LEDGER_URL }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0    # ci compares notebooks with the commits prod was built from
      - &python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - &install
        run: pip install -r requirements.txt     # the kit, and whatever else your notebooks import
      - run: dataops-nb lint
      - run: dataops-nb ci --base prod --env ci-pr-${{ github.event.pull_request.number }} --quiet --summary dataops-ci.md
      - run: dataops-nb report -o dataops-report.html
        if: always()
        continue-on-error: true    # nothing to report when the pull request changed no step
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: dataops-ci
          path: |
            dataops-ci.md
            dataops-report.html
            .dataops/runs/
  promote:
    if: github.event.action == 'closed' && github.event.pull_request.merged
    runs-on: ubuntu-latest
    env: *env
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.merge_commit_sha }}
          fetch-depth: 0
      - *python
      - *install
      - run: dataops-nb promote ci-pr-${{ github.event.pull_request.number }} --to prod --merged HEAD
"""


REQUIREMENTS = """\
# What the pipeline needs: `pip install -r requirements.txt` (the CI workflow and the image do).
{kit}
"""


def _kit_requirement(directory: Path) -> str:
    """A release pin, or (for a kit installed from source, which no index serves) its wheel in wheels/."""
    from . import kitwheel

    if kitwheel.from_index():
        return f"dataops-nb=={kitwheel.version()}"
    wheel = kitwheel.build(directory / "wheels")
    return f"# this kit was installed from source: its wheel, to commit with the project\n./wheels/{wheel.name}"


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when that reads back as the same string, else quoted."""
    return value if _PLAIN.match(value) else json.dumps(value)


_PLAIN = re.compile(r"^(?!(?:true|false|null|yes|no|on|off|~)$)[A-Za-z_][A-Za-z0-9_.@-]*$", re.IGNORECASE)


def init_project(directory: Path, *, name: str | None = None) -> list[str]:
    """Create the project files in `directory`; returns the paths written.

    Files that exist already are kept (an existing .gitignore gets the missing lines);
    a directory that is a project already, or whose sample notebook exists, is refused.
    """
    directory = directory.resolve()
    if (directory / SPEC_FILE).exists():
        raise ConflictError(f"{directory / SPEC_FILE} already exists: this is a project already.")
    sample = directory / "notebooks" / "ingest.ipynb"
    if sample.exists():
        raise ConflictError(f"{sample} already exists; init would overwrite it (move it away or init elsewhere).")
    name = name or re.sub(r"[^a-z0-9_]+", "_", directory.name.lower()).strip("_") or "pipeline"
    from .security import current_user

    files = {
        SPEC_FILE: SPEC.format(name=_scalar(name), owner=_scalar(current_user())),
        ".gitignore": GITIGNORE,
        ".pre-commit-config.yaml": PRE_COMMIT,
        ".github/workflows/dataops.yml": CI_WORKFLOW,
        "requirements.txt": None,
        "templates/README.md": "Your team's own step templates (.ipynb); they add to and override the built-ins.\n",
    }
    template = {t.name: t for t in list_templates()}[SAMPLE_TEMPLATE]
    written = []
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            text = REQUIREMENTS.format(kit=_kit_requirement(directory)) if text is None else text
            path.write_text(text, encoding="utf-8")
            written.append(relative)
        elif relative == ".gitignore":
            present = path.read_text(encoding="utf-8")
            missing = [line for line in text.splitlines() if line not in present.splitlines()]
            if missing:
                glue = "" if not present or present.endswith("\n") else "\n"
                path.write_text(present + glue + "\n".join(missing) + "\n", encoding="utf-8")
                written.append(relative)
    blank_copy(template.path, sample, description=template.description)
    written.append("notebooks/ingest.ipynb")
    return written

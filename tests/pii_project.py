"""A project with personal data and two readers: alice, a steward who may unmask it, and bob, an
analyst who may not. The PII tests and bench/pii_bench.py build theirs with it."""

from __future__ import annotations

from pathlib import Path

from .conftest import ProjectFactory

PEOPLE_PII = """
  raw.people:
    columns:
      full_name: {tags: [pii]}
"""


def pii_spec(name: str, steps: list[str], datasets: str = PEOPLE_PII, *, steward_reviews: bool = False) -> str:
    """A spec of `steps` (each a flow mapping), the `datasets:` block (indented by two) and the two readers."""
    review = ', review: ["*"]' if steward_reviews else ""
    return "".join([
        f"name: {name}\nsteps:\n", *(f"  - {step}\n" for step in steps), "datasets:\n", datasets.strip("\n"), "\n",
        "access:\n  roles:\n", f'    steward: {{read: ["*"], unmask: ["*"]{review}}}\n',
        '    analyst: {read: ["*"]}\n', "  members: {alice: [steward], bob: [analyst]}\n",
    ])


def pii_project(root: Path, spec: str, notebooks: dict[str, str], *, run_as: str | None = "alice",
                env: dict[str, str] | None = None) -> ProjectFactory:
    """The project in `root`: each notebook a parameters cell (`x = 1`) and its code; run once as
    `run_as` (None: not run)."""
    project = ProjectFactory(root)
    for name, code in notebooks.items():
        project.notebook(name, "x = 1", code)
    project.spec(spec)
    if run_as is not None:
        project.cli("run", env={**(env or {}), "DATAOPS_USER": run_as}, check=0)
    return project

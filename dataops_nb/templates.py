"""Step templates: the kit's built-ins plus the project's own `templates/`, and `new`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .errors import ConflictError, DataOpsError, NotFoundError, SpecError
from .notebooks import blank_copy, read
from .project import Project
from .spec import STEP_NAME, load_spec, read_yaml, write_yaml

PROJECT_TEMPLATES = "templates"


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    path: Path
    source: str  # built-in or project


def builtin_dir() -> Path:
    """Inside the wheel: dataops_nb/_templates; in a source checkout: the repo's templates/."""
    packaged = Path(__file__).parent / "_templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


def _scan(folder: Path, source: str) -> dict[str, Template]:
    found = {}
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        try:
            description = read(path).get("metadata", {}).get("dataops", {}).get("description", "")
        except ValueError:
            continue  # not a notebook; not a template
        found[path.stem] = Template(path.stem, description, path, source)
    return found


def list_templates(project_root: Path | None = None) -> list[Template]:
    """Built-ins, overridden and extended by the project's own templates."""
    templates = _scan(builtin_dir(), "built-in")
    if project_root is not None:
        own = project_root / PROJECT_TEMPLATES
        if own.resolve() != builtin_dir().resolve():
            templates.update(_scan(own, "project"))
    return sorted(templates.values(), key=lambda t: t.name)


def new_step(project: Project, step: str, template: str, *, needs: list[str]) -> Path:
    """Write notebooks/STEP.ipynb from a template and append the step to dataops.yaml."""
    if not STEP_NAME.match(step):
        raise DataOpsError(f"Step name '{step}' must be an identifier (letters, digits, _ or -).")
    if step in project.spec.step_names:
        raise ConflictError(f"Step '{step}' already exists in {project.spec_path.name}.")
    for need in needs:
        if need not in project.spec.step_names:
            project.spec.step(need)  # raises NotFoundError with a suggestion
    templates = {t.name: t for t in list_templates(project.root)}
    if template not in templates:
        raise NotFoundError("template", template, templates)
    notebook = project.root / "notebooks" / f"{step}.ipynb"
    if notebook.exists():
        raise ConflictError(f"{project.relative(notebook)} already exists; choose another step name.")

    document = read_yaml(project.spec_path)
    entry = CommentedMap()
    entry["name"] = step
    entry["notebook"] = f"notebooks/{step}.ipynb"
    if needs:
        seq = CommentedSeq(needs)
        seq.fa.set_flow_style()
        entry["needs"] = seq
    steps = document.get("steps")
    if not isinstance(steps, CommentedSeq) or not steps:
        steps = CommentedSeq(list(steps or []))
        document["steps"] = steps
    steps.append(entry)

    blank_copy(templates[template].path, notebook, description=templates[template].description)
    staged = project.spec_path.with_name(f".{project.spec_path.name}.new")
    try:
        write_yaml(staged, document)
        load_spec(staged)  # the edited spec must still be valid before it replaces the old
    except (SpecError, DataOpsError):
        notebook.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)
        raise
    staged.replace(project.spec_path)
    project.reload()
    return notebook

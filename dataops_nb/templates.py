"""Step templates: the kit's built-ins plus the project's own `templates/`, and `new`."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .errors import ConflictError, DataOpsError, NotFoundError, SpecError
from .notebooks import blank_copy, read
from .project import Project
from .spec import STEP_NAME, _yaml, load_spec, read_yaml

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

    original = project.spec_path.read_bytes().decode("utf-8")
    text = _with_step(original, step, needs, project.spec_path)

    blank_copy(templates[template].path, notebook, description=templates[template].description)
    staged = project.spec_path.with_name(f".{project.spec_path.name}.new")
    try:
        staged.write_bytes(text.encode("utf-8"))
        load_spec(staged)  # the edited spec must still be valid before it replaces the old
    except (SpecError, DataOpsError):
        notebook.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)
        raise
    staged.replace(project.spec_path)
    project.reload()
    return notebook


def _entry(step: str, needs: list[str]) -> CommentedMap:
    entry = CommentedMap()
    entry["name"] = step
    entry["notebook"] = f"notebooks/{step}.ipynb"
    if needs:
        seq = CommentedSeq(needs)
        seq.fa.set_flow_style()
        entry["needs"] = seq
    return entry


def _plain(data: object) -> object:
    return json.loads(json.dumps(data, default=str))


def _with_step(text: str, step: str, needs: list[str], path: Path) -> str:
    """The spec's text with the step appended to `steps:`, every other byte kept.

    The entry is written as text right after the last step, in that list's own
    indentation, so comments, blank lines and layout stay as they were. Only when the
    list is not a plain block sequence (missing, empty, flow style) or the text edit
    would change anything else does it fall back to a round-trip dump of the YAML.
    """
    document = read_yaml(path)
    if not isinstance(document, CommentedMap):
        raise SpecError("the spec must be a mapping", file=path)
    entry = _entry(step, needs)
    edited = _insert_text(text, document, entry)
    if edited is not None:
        expected = _plain(document)
        expected["steps"] = list(expected["steps"]) + [_plain(entry)]
        try:
            if _plain(_yaml().load(edited)) == expected:
                return edited
        except YAMLError:
            pass
    yaml = _yaml()
    yaml.width = 4096  # a flow-style list stays on its line
    steps = document.get("steps")
    if not isinstance(steps, CommentedSeq) or not steps:
        steps = CommentedSeq(list(steps or []))
        document["steps"] = steps
    elif not steps.fa.flow_style():
        item_line, item_col = steps.lc.item(0)
        dash = text.split("\n")[item_line].find("-")
        if 0 <= dash < item_col:  # keep the list's own indentation
            yaml.indent(mapping=2, sequence=item_col, offset=dash)
    steps.append(entry)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def _insert_text(text: str, document: CommentedMap, entry: CommentedMap) -> str | None:
    steps = document.get("steps")
    if not isinstance(steps, CommentedSeq) or not steps or steps.fa.flow_style():
        return None
    lines = text.split("\n")  # as the parser counts them; a CRLF line keeps its "\r"
    cr = "\r" if "\r\n" in text else ""
    steps_line = document.lc.key("steps")[0]
    later = [document.lc.key(k)[0] for k in document if document.lc.key(k)[0] > steps_line]
    end = min(later) if later else len(lines)
    # the step list ends at its last line of content; comments and blank lines after it
    # separate it from what follows and stay where they are
    last = next(
        (i for i in range(end - 1, steps_line, -1) if lines[i].strip() and not lines[i].lstrip().startswith("#")),
        None,
    )
    item_line, item_col = steps.lc.item(0)
    dash = lines[item_line].find("-")
    if last is None or dash < 0 or dash >= item_col:
        return None
    yaml = _yaml()
    yaml.indent(mapping=2, sequence=item_col - dash, offset=0)
    buffer = io.StringIO()
    yaml.dump([entry], buffer)
    block = [" " * dash + line + cr for line in buffer.getvalue().splitlines()]
    return "\n".join(lines[: last + 1] + block + lines[last + 1 :])

"""Step templates: the kit's built-ins plus the project's own `templates/`, and `new`."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .errors import ConflictError, DataOpsError, NotFoundError, SpecError
from .notebooks import blank_copy, read
from .project import Project
from .runner.dataflow import published_datasets, read_dataflow, spec_publishers
from .runner.params import inspect_notebook
from .spec import STEP_NAME, _yaml, load_spec, read_yaml, validate_dataset_name

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


def new_step(project: Project, step: str, template: str, *, needs: list[str],
             publishes: str | None = None, params: dict[str, Any] | None = None) -> Path:
    """Write notebooks/STEP.ipynb from a template and append the step to dataops.yaml.

    The datasets the template publishes through a parameter are named after the step
    (`raw.example` becomes `raw.STEP`), or `publishes`; `params` set any other parameter.
    A name another step already publishes is refused before anything is written.
    """
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
    defaults = template_defaults(templates[template], step, publishes=publishes, params=params or {})
    _refuse_collisions(project, templates[template], step, defaults)

    original = project.spec_path.read_bytes().decode("utf-8")
    text = _with_step(original, step, needs, project.spec_path)

    blank_copy(templates[template].path, notebook, description=templates[template].description, defaults=defaults)
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


def template_parameters(template: Template) -> list[dict[str, Any]]:
    """The template's parameters with their defaults, and whether each names a dataset it publishes."""
    try:
        defaults = inspect_notebook(template.path).defaults
        flow = read_dataflow(template.path)
    except DataOpsError:
        return []
    return [
        {"name": name, "default": _plain(value), "publishes": name in flow.publish_names and isinstance(value, str)}
        for name, value in defaults.items()
    ]


def template_defaults(template: Template, step: str, *, publishes: str | None,
                      params: dict[str, Any]) -> dict[str, Any]:
    """The values to write into the new notebook's parameters cell."""
    nb = inspect_notebook(template.path, shown=Path(f"template {template.name}"))
    for name, value in params.items():
        nb.check(step, name, value, origin="-p")
    values = {name: str(value) if isinstance(nb.defaults[name], str) else value for name, value in params.items()}
    outputs = [p["name"] for p in template_parameters(template) if p["publishes"] and p["name"] not in values]
    if publishes is not None:
        validate_dataset_name(publishes)
        if len(outputs) != 1:
            raise DataOpsError(
                f"Template '{template.name}' publishes {len(outputs) or 'no'} dataset(s) through a parameter"
                f"{' (' + ', '.join(outputs) + ')' if outputs else ''}, so --publishes cannot name its output"
                f"{'; set each with -p NAME=schema.table' if outputs else ''}."
            )
        return {**values, outputs[0]: publishes}
    table = re.sub(r"[^a-z0-9_]", "_", step.lower())
    schemas = [str(nb.defaults[name]).split(".")[0] for name in outputs]
    for name, schema in zip(outputs, schemas, strict=True):  # two outputs in one schema: told apart by parameter
        values[name] = f"{schema}.{table}" if schemas.count(schema) == 1 else f"{schema}.{table}_{name}"
    return values


def _refuse_collisions(project: Project, template: Template, step: str, defaults: dict[str, Any]) -> None:
    """A dataset the new step would publish that a step of the spec publishes already."""
    mine = published_datasets(template.path, defaults)
    for dataset, steps in sorted(spec_publishers(project).items()):
        if dataset in mine:
            raise ConflictError(
                f"Step '{steps[0][0]}' already publishes {dataset}, which the new step '{step}' would publish "
                "too: name its output with --publishes schema.table (or -p NAME=schema.table)."
            )


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

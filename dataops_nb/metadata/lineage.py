"""Where a dataset came from and where it goes: dataset-level and column-level lineage.

The dataset-level graph comes from the ledger: each dataset's version in effect (the
current one; for a dataset with no current version, its newest surviving one), the
input versions recorded in `lineage` for it, and the step (and run, and executed
notebook) that published it. Datasets and steps are nodes:

    raw.flights --> clean --> staging.flights --> report --> marts.delays

Column-level lineage is derived only from SQL: the text a step published
(`step.publish(name, "select ...")` or a DuckDB relation's `.sql_query()`), parsed
with sqlglot in the DuckDB dialect. A column whose origin the SQL does not settle (an
unknown function, an unqualified column of a join with unknown schemas, a star over a
table whose columns are unknown, a table function) is left out; it is never guessed.

Nothing here writes the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import DataOpsError, NotFoundError
from ..ledger import VersionRecord
from ..spec import validate_dataset_name

DIRECTIONS = ("upstream", "downstream", "both")
FORMATS = ("text", "json", "mermaid", "dot")

Source = tuple[str, str]  # (dataset, column)
ColumnMap = dict[str, list[Source]]
SqlSource = Callable[[VersionRecord], "str | None"]


# --- the graph ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A dataset (its version in effect) or a step (its latest run behind that version)."""

    id: str  # safe in mermaid and dot: [a-z0-9_] only
    kind: str  # "dataset" | "step" | "file" (a file or URL a step read)
    name: str
    version: str | None = None  # datasets: the version in effect
    status: str | None = None  # datasets: current / quarantined / ...
    step: str | None = None  # datasets: the step that published the version
    run_id: str | None = None
    notebook: str | None = None  # the executed notebook behind it (project-relative)
    rows: int | None = None
    # datasets: output column -> ((dataset, column), ...); None when no SQL settles it
    columns: tuple[tuple[str, tuple[Source, ...]], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.columns is not None:
            data["columns"] = {
                out: [{"dataset": ds, "column": col} for ds, col in sources] for out, sources in self.columns
            }
        return data


@dataclass(frozen=True)
class Edge:
    """dataset -> step (the step read it) or step -> dataset (the step published it)."""

    source: str  # node id
    target: str  # node id
    version: str | None = None  # the dataset version read or published
    stale: bool = False  # a step read a version that is no longer the one in effect

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LineageGraph:
    root: str | None  # node id of the dataset asked about (None: the whole graph)
    direction: str
    depth: int | None
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def dataset(self, name: str) -> Node:
        return self.node(dataset_id(name))

    @property
    def datasets(self) -> set[str]:
        return {n.name for n in self.nodes if n.kind == "dataset"}

    @property
    def steps(self) -> set[str]:
        return {n.name for n in self.nodes if n.kind == "step"}

    def dataset_edges(self) -> set[tuple[str, str, str]]:
        """(input dataset, step, output dataset) triples: what read what to make what."""
        by_id = {n.id: n for n in self.nodes}
        into = [(e.source, e.target) for e in self.edges if by_id[e.target].kind == "step"]
        out = [(e.source, e.target) for e in self.edges if by_id[e.source].kind == "step"]
        return {
            (by_id[src].name, by_id[step].name, by_id[dst].name)
            for src, step in into
            for step2, dst in out
            if step == step2
        }

    def to_dict(self) -> dict[str, Any]:
        root = next((n.name for n in self.nodes if n.id == self.root), None)
        return {
            "dataset": root,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }


def _escape(name: str) -> str:
    """Injective and safe for mermaid/dot ids: keep [a-z0-9], hex-escape the rest (`.` -> `_2e`)."""
    return "".join(c if c.isascii() and (c.islower() or c.isdigit()) else f"_{ord(c):02x}" for c in name)


def dataset_id(name: str) -> str:
    return "ds_" + _escape(name)


def step_id(name: str) -> str:
    return "st_" + _escape(name)


def file_id(key: str) -> str:
    return "fi_" + _escape(key)


def _files_of(fingerprint: str | None) -> dict[str, str]:
    """The files (and URLs) a step run read, from its fingerprint."""
    try:
        return dict(json.loads(fingerprint or "{}").get("files") or {})
    except (ValueError, AttributeError):
        return {}


def build_graph(project: Any, *, sql_for: SqlSource | None = None, columns: bool = True,
                env: str | None = None) -> LineageGraph:
    """The whole dataset-level graph of a project, from its ledger.

    `sql_for(version) -> str | None` gives the SQL a version was published from; by
    default `published_sql(project, version)` (ledger column or manifest, when recorded).
    """
    ledger = project.ledger
    sql_for = sql_for or (lambda version: published_sql(project, version))
    effective = ledger.versions.in_effect()
    step_rows = ledger.runs.every_step()
    notebooks = {(r.run_id, r.step): r.output_notebook for r in step_rows}
    files = {(r.run_id, r.step): _files_of(r.fingerprint) for r in step_rows}
    by_version = {version.version_id: version for version in ledger.versions.every()}
    effective.update(project.current_versions(env))  # what the environment reads comes first
    chain = project.spec.environment_chain(env)  # re-derivations by its runs and its bases' count

    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str], Edge] = {}
    steps: dict[str, str | None] = {}  # step -> latest run behind a version in effect
    for name, record in effective.items():
        cols = _columns(ledger, record, sql_for, by_version) if columns else None
        nodes[dataset_id(name)] = Node(
            id=dataset_id(name),
            kind="dataset",
            name=name,
            version=record.version_id,
            status=record.status,
            step=record.step,
            run_id=record.run_id,
            notebook=notebooks.get((record.run_id, record.step)),
            rows=record.rows,
            columns=None if cols is None else tuple((k, tuple(v)) for k, v in cols.items()),
        )
        if not record.step:
            continue
        if record.run_id and (steps.get(record.step) or "") < record.run_id:
            steps[record.step] = record.run_id
        else:
            steps.setdefault(record.step, record.run_id)
        edges[(step_id(record.step), dataset_id(name))] = Edge(
            step_id(record.step), dataset_id(name), version=record.version_id
        )
        for key, version in files.get((record.run_id, record.step), {}).items():  # the files it read
            nodes.setdefault(file_id(key), Node(id=file_id(key), kind="file", name=key, version=version))
            edges[(file_id(key), step_id(record.step))] = Edge(file_id(key), step_id(record.step), version=version)
        for input_id in ledger.inputs_of(record.version_id, chain):
            source = by_version.get(input_id)
            if source is None:
                continue
            in_effect = effective.get(source.dataset)
            key = (dataset_id(source.dataset), step_id(record.step))
            stale = in_effect is None or in_effect.version_id != input_id
            previous = edges.get(key)
            if previous is None or (previous.version or "") < input_id:
                edges[key] = Edge(key[0], key[1], version=input_id, stale=stale)
            if source.dataset not in effective and key[0] not in nodes:
                nodes[key[0]] = Node(id=key[0], kind="dataset", name=source.dataset,
                                     version=input_id, status=source.status)
    for step, run_id in steps.items():
        nodes[step_id(step)] = Node(
            id=step_id(step), kind="step", name=step, run_id=run_id, notebook=notebooks.get((run_id, step))
        )
    return LineageGraph(
        root=None,
        direction="both",
        depth=None,
        nodes=tuple(sorted(nodes.values(), key=lambda n: (n.kind, n.name))),
        edges=tuple(sorted(edges.values(), key=lambda e: (e.source, e.target))),
    )


def lineage(
    project: Any,
    dataset: str,
    *,
    direction: str = "both",
    depth: int | None = None,
    sql_for: SqlSource | None = None,
    columns: bool = True,
    env: str | None = None,
) -> LineageGraph:
    """The part of the graph upstream and/or downstream of `dataset`, `depth` dataset hops deep."""
    validate_dataset_name(dataset)
    if direction not in DIRECTIONS:
        raise NotFoundError("lineage direction", direction, DIRECTIONS)
    if depth is not None and depth < 0:
        raise DataOpsError("--depth must be 0 or more.")
    graph = build_graph(project, sql_for=sql_for, columns=columns, env=env)
    root = dataset_id(dataset)
    if not any(n.id == root for n in graph.nodes):
        raise NotFoundError("dataset with versions", dataset, graph.datasets)
    return subgraph(graph, dataset, direction=direction, depth=depth)


def subgraph(graph: LineageGraph, dataset: str, *, direction: str = "both", depth: int | None = None) -> LineageGraph:
    root = dataset_id(dataset)
    parents: dict[str, list[Edge]] = {}
    children: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.target, []).append(edge)
        children.setdefault(edge.source, []).append(edge)
    keep_nodes, keep_edges = {root}, set()
    kinds = {n.id: n.kind for n in graph.nodes}
    for walk, adjacency in (("upstream", parents), ("downstream", children)):
        if direction not in (walk, "both"):
            continue
        frontier, hops = {root}, 0
        seen = {root}
        while frontier and (depth is None or hops < depth):
            hops += 1
            following: set[str] = set()
            for node in frontier:
                for edge in adjacency.get(node, []):  # dataset -> step
                    step = edge.source if walk == "upstream" else edge.target
                    keep_edges.add(edge)
                    keep_nodes.add(step)
                    for edge2 in adjacency.get(step, []):  # step -> dataset
                        other = edge2.source if walk == "upstream" else edge2.target
                        if kinds.get(other) not in ("dataset", "file"):
                            continue
                        keep_edges.add(edge2)
                        keep_nodes.add(other)
                        if other not in seen:
                            seen.add(other)
                            following.add(other)
            frontier = following
    return LineageGraph(
        root=root,
        direction=direction,
        depth=depth,
        nodes=tuple(n for n in graph.nodes if n.id in keep_nodes),
        edges=tuple(e for e in graph.edges if e in keep_edges),
    )


# --- where the SQL comes from ------------------------------------------------------------


def published_sql(project: Any, version: VersionRecord) -> str | None:
    """The SQL text `version` was published from, when the runtime recorded it.

    Read from the ledger column `dataset_versions.sql` when it exists, else from the
    `sql` field of the version's entry in its step manifest (`runs/<run>/<step>.json`).
    None when the step published a dataframe (nothing to derive columns from).
    """
    recorded = project.ledger.versions.sql_of(version.version_id)
    if recorded:
        return recorded
    if not version.run_id or not version.step:
        return None
    manifest = project.store.run_dir(version.run_id) / f"{version.step}.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    for item in data.get("published", []):
        if item.get("dataset") == version.dataset and item.get("sql"):
            return str(item["sql"])
    return None


def version_column_lineage(
    project: Any, version: VersionRecord, sql: str | None = None
) -> ColumnMap | None:
    """Column lineage of one version from `sql` (default: the SQL it was published from)."""
    by_version = {v.version_id: v for v in project.ledger.versions.every()}
    return _columns(project.ledger, version, lambda v: sql if sql is not None else published_sql(project, v),
                    by_version)


def _columns(ledger: Any, version: VersionRecord, sql_for: SqlSource,
             by_version: Mapping[str, VersionRecord]) -> ColumnMap | None:
    sql = sql_for(version)
    if not sql:
        return None
    schemas: dict[str, list[str]] = {}
    related = [by_version[i] for i in ledger.inputs_of(version.version_id) if i in by_version]
    # what the same step published earlier in the run is readable by its later SQL too
    related += [v for v in by_version.values() if v.run_id == version.run_id and v.step == version.step
                and v.dataset != version.dataset]
    for other in related:
        schemas[other.dataset] = [c["name"] for c in other.schema]
    result = column_lineage(sql, schemas)
    published = {c["name"].lower(): c["name"] for c in version.schema}
    if published:  # keep only columns the version really has, named as it names them
        result = {published[k.lower()]: v for k, v in result.items() if k.lower() in published}
    return result


# --- column-level lineage ----------------------------------------------------------------


def column_lineage(sql: str, schemas: Mapping[str, Iterable[Any]] | None = None) -> ColumnMap:
    """For each output column of a DuckDB SELECT, the (dataset, column) pairs it is computed from.

    `schemas` maps dataset names (`schema.table`) to their columns (names, or dicts
    with a `name`); with them, `select *` expands and unqualified columns of joins
    resolve. A column is absent from the result when the SQL does not settle where it
    comes from; an empty list means it comes from no dataset column (a constant,
    `count(*)`). Sources are what the column's expression reads (CASE conditions and
    aggregate arguments included; join keys, filters and GROUP BY are not).
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope
    from sqlglot.schema import MappingSchema

    known: dict[str, dict[str, str]] = {}  # dataset -> {lower column: column as stored}
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for name, cols in (schemas or {}).items():
        if "." not in name:
            continue
        names = [c["name"] if isinstance(c, Mapping) else str(c) for c in cols]
        known[name.lower()] = {c.lower(): c for c in names}
        schema_name, table = name.lower().split(".", 1)
        mapping.setdefault(schema_name, {})[table] = {c: "UNKNOWN" for c in names}
    try:
        original = sqlglot.parse_one(sql, dialect="duckdb")
        expression = sqlglot.parse_one(sql, dialect="duckdb")
        if not isinstance(expression, exp.Query):
            return {}
        expression = qualify(
            expression,
            schema=MappingSchema(mapping, dialect="duckdb") if mapping else None,
            dialect="duckdb",
            validate_qualify_columns=False,
            identify=False,
        )
        root = build_scope(expression)
    except (SqlglotError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    if root is None:
        return {}

    def dataset_of(table: exp.Table) -> str | None:
        if not isinstance(table.this, exp.Identifier) or not table.db:
            return None  # a table function, or a bare name that is not a dataset view
        if table.catalog and table.catalog.lower() not in ("memory", "main"):
            return None
        return f"{table.db}.{table.name}".lower()

    def scopes_of(scope: Any) -> list[Any]:
        if isinstance(scope.expression, exp.SetOperation):
            branches = getattr(scope, "set_operation_scopes", None) or getattr(scope, "union_scopes", None) or []
            return [s for branch in branches for s in scopes_of(branch)]
        return [scope]

    def is_star(projection: exp.Expression) -> bool:
        return isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        )

    def trace(scope: Any, column: str, depth: int = 0) -> set[Source] | None:
        if depth > 50:
            return None
        branches = scopes_of(scope)
        wanted = column.lower()
        if len(branches) == 1:
            chosen = [p for p in branches[0].expression.selects if not is_star(p) and p.alias_or_name.lower() == wanted]
            if len(chosen) != 1:
                return None  # not there (an unexpanded star?) or ambiguous
            return sources(branches[0], chosen[0], depth)
        # a UNION and friends: columns match by position, named by the first branch
        if any(is_star(p) for b in branches for p in b.expression.selects):
            return None
        names = [p.alias_or_name.lower() for p in branches[0].expression.selects]
        if names.count(wanted) != 1:
            return None
        index = names.index(wanted)
        found: set[Source] = set()
        for branch in branches:
            selects = branch.expression.selects
            if index >= len(selects):
                return None
            sub = sources(branch, selects[index], depth)
            if sub is None:
                return None
            found |= sub
        return found

    def sources(scope: Any, projection: exp.Expression, depth: int) -> set[Source] | None:
        if projection.find(exp.Anonymous, exp.Subquery, exp.Lambda, exp.Placeholder) is not None:
            return None  # an unknown function (a UDF), a scalar subquery, a lambda: not settled
        found: set[Source] = set()
        aliases = {p.alias.lower() for p in scope.expression.selects if isinstance(p, exp.Alias)}
        selected = getattr(scope, "selected_sources", {}) or {}
        for col in projection.find_all(exp.Column):
            if isinstance(col.this, exp.Star):
                return None
            if not col.table:
                # one source and no select alias of that name: the column can only be the source's
                if len(selected) != 1 or col.name.lower() in aliases:
                    return None
                source = next(iter(selected.values()))[1]
            else:
                source = scope.sources.get(col.table)
            if source is None:
                return None
            if isinstance(source, exp.Table):
                dataset = dataset_of(source)
                if dataset is None:
                    return None
                columns = known.get(dataset)
                if columns is not None:
                    if col.name.lower() not in columns:
                        return None
                    found.add((dataset, columns[col.name.lower()]))
                else:
                    found.add((dataset, col.name))
            elif hasattr(source, "expression"):  # a CTE, derived table or union: look inside
                sub = trace(source, col.name, depth + 1)
                if sub is None:
                    return None
                found |= sub
            else:
                return None
        return found

    # output names as DuckDB reports them: the query's own spelling where it names them
    spelled = {}
    for projection in original.selects if isinstance(original, exp.Query) else []:
        if isinstance(projection, (exp.Alias, exp.Column)) and projection.alias_or_name:
            spelled[projection.alias_or_name.lower()] = projection.alias_or_name
    result: ColumnMap = {}
    top = scopes_of(root)[0].expression
    originals = {p.alias_or_name.lower() for p in original.selects} if isinstance(original, exp.Query) else set()
    star = isinstance(original, exp.Query) and any(
        isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
        for p in original.selects
    )
    for projection in top.selects:
        if is_star(projection):
            continue
        name = projection.alias_or_name
        if name.lower() not in originals and not star:
            continue  # an unnamed expression: DuckDB names it `(a + 1)`, sqlglot `_col_0`
        if name.lower().startswith("_col_") and name.lower() not in spelled:
            continue
        found = trace(root, name)
        if found is None:
            continue
        result[spelled.get(name.lower(), _schema_name(name, found))] = sorted(found)
    return result


def _schema_name(name: str, found: set[Source]) -> str:
    """A column that came from `*` keeps the spelling of the dataset column it came from."""
    for dataset, column in found:
        if column.lower() == name.lower():
            return column
    return name


# --- rendering ---------------------------------------------------------------------------


def render(graph: LineageGraph, fmt: str = "text") -> str:
    if fmt not in FORMATS:
        raise NotFoundError("lineage format", fmt, FORMATS)
    return {"text": render_text, "json": render_json, "mermaid": render_mermaid, "dot": render_dot}[fmt](graph)


def render_json(graph: LineageGraph) -> str:
    return json.dumps(graph.to_dict(), indent=2)


def _label(node: Node) -> str:
    if node.kind == "file":
        return f"{node.name}  (file, {node.version})"
    if node.kind == "step":
        bits = [f"step, run {node.run_id}" if node.run_id else "step"]
        if node.notebook:
            bits.append(node.notebook)
        return f"{node.name}  ({', '.join(bits)})"
    bits = [node.version or "no version"]
    if node.rows is not None:
        bits.append(f"{node.rows} rows")
    if node.status and node.status != "current":
        bits.append(node.status)
    return f"{node.name}  ({', '.join(bits)})"


def render_text(graph: LineageGraph) -> str:
    """A tree per direction: upstream (what it was made from) and downstream (what uses it)."""
    by_id = {n.id: n for n in graph.nodes}
    parents: dict[str, list[Edge]] = {}
    children: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.target, []).append(edge)
        children.setdefault(edge.source, []).append(edge)
    if graph.root is None:
        roots = [n.id for n in graph.nodes if n.kind == "dataset" and n.id not in parents]
        sections = [("", r, children, "downstream") for r in roots]
    else:
        sections = []
        if graph.direction in ("upstream", "both"):
            sections.append(("upstream", graph.root, parents, "upstream"))
        if graph.direction in ("downstream", "both"):
            sections.append(("downstream", graph.root, children, "downstream"))
    lines: list[str] = []
    for title, root, adjacency, walk in sections:
        if title:
            lines.append(f"{title}:")
        lines.append(_label(by_id[root]))
        lines.extend(_tree(root, adjacency, walk, by_id, "", (root,)))
    if graph.root is not None:
        node = by_id[graph.root]
        if node.columns:
            lines.append("columns:")
            width = max(len(name) for name, _ in node.columns)
            for name, found in node.columns:
                origin = ", ".join(f"{ds}.{col}" for ds, col in found) or "(no dataset column)"
                lines.append(f"  {name.ljust(width)}  <- {origin}")
    return "\n".join(lines) + "\n"


def _tree(node: str, adjacency: dict[str, list[Edge]], walk: str, by_id: dict[str, Node],
          prefix: str, path: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    edges = sorted(adjacency.get(node, []), key=lambda e: by_id[e.source if walk == "upstream" else e.target].name)
    for index, edge in enumerate(edges):
        other = edge.source if walk == "upstream" else edge.target
        last = index == len(edges) - 1
        note = f"  [read {edge.version}, not the version in effect]" if edge.stale else ""
        if other in path:
            lines.append(f"{prefix}{'└── ' if last else '├── '}{by_id[other].name}  (cycle)")
            continue
        lines.append(f"{prefix}{'└── ' if last else '├── '}{_label(by_id[other])}{note}")
        lines.extend(_tree(other, adjacency, walk, by_id, prefix + ("    " if last else "│   "), path + (other,)))
    return lines


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def render_mermaid(graph: LineageGraph) -> str:
    lines = ["graph LR"]
    for node in graph.nodes:
        label = _mermaid_text(node.name)
        shapes = {"dataset": '[("{}")]', "file": '[/"{}"/]'}
        lines.append(f"    {node.id}" + shapes.get(node.kind, '(["{}"])').format(label))
    for edge in graph.edges:
        arrow = "-.->" if edge.stale else "-->"
        lines.append(f"    {edge.source} {arrow} {edge.target}")
    if graph.root is not None:
        lines.append(f"    style {graph.root} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_dot(graph: LineageGraph) -> str:
    lines = ["digraph lineage {", "    rankdir=LR;"]
    for node in graph.nodes:
        shape = {"dataset": "cylinder", "file": "note"}.get(node.kind, "box")
        extra = ", penwidth=3" if node.id == graph.root else ""
        lines.append(f'    {node.id} [label="{_dot_text(node.name)}", shape={shape}{extra}];')
    for edge in graph.edges:
        style = " [style=dashed]" if edge.stale else ""
        lines.append(f"    {edge.source} -> {edge.target}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


/**
 * The pipeline DAG as SVG: layered top to bottom (a step sits below everything it needs), with
 * optional dataset nodes between the step that publishes a dataset and the steps that read it.
 * The layout is pure (positions from names and needs); drawing only turns it into SVG.
 */

import { tone } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
const STEP_W = 128;
const STEP_H = 30;
const DATASET_W = 150;
const DATASET_H = 22;
const GAP_X = 16;
const GAP_Y = 34;
/** Every column is as wide as the widest kind of node: nodes of one layer never overlap. */
const CELL_W = Math.max(STEP_W, DATASET_W) + GAP_X;

export interface IGraphNode {
  name: string;
  needs: string[];
  /** The last outcome (see state.ts OUTCOMES): the node's fill. */
  outcome: string;
  /** fresh / stale (dashed outline) / in_run: the node's outline. */
  freshness: string;
  /** The base environment the step is read from (the environment shown does not rebuild it). */
  deferred?: string | null;
  title: string;
}

/** What a step reads and publishes (the server's GET dataflow). */
export interface IFlow {
  step: string;
  reads: string[];
  publishes: string[];
}

export interface IPlaced {
  /** The step's name, or `dataset:` and the dataset's name. */
  id: string;
  kind: 'step' | 'dataset';
  name: string;
  layer: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IPoint {
  x: number;
  y: number;
}

/**
 * An edge and its route: down from the source, across each gap between two rows, through a slot
 * of its own in every row it skips (a dummy node), down into the target. Between two points at
 * the same x the route is a straight line inside a slot; between two others it crosses the gap
 * between two rows, where no node is.
 */
export interface IRoutedEdge {
  from: string;
  to: string;
  points: IPoint[];
}

export interface ILayout {
  nodes: IPlaced[];
  edges: IRoutedEdge[];
  width: number;
  height: number;
}

export interface ITransform {
  x: number;
  y: number;
  scale: number;
}

export const datasetId = (name: string): string => `dataset:${name}`;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  return node;
}

/** Layer of each node: the longest chain of needs above it. */
export function layers(nodes: { name: string; needs: string[] }[]): Map<string, number> {
  const byName = new Map(nodes.map(n => [n.name, n]));
  const layer = new Map<string, number>();
  const visit = (name: string, trail: Set<string>): number => {
    const known = layer.get(name);
    if (known !== undefined) {
      return known;
    }
    if (trail.has(name)) {
      return 0; // the spec rejects cycles; never loop here
    }
    trail.add(name);
    const needs = (byName.get(name)?.needs ?? []).filter(n => byName.has(n));
    const value = needs.length ? Math.max(...needs.map(n => visit(n, trail))) + 1 : 0;
    layer.set(name, value);
    return value;
  };
  nodes.forEach(n => visit(n.name, new Set()));
  return layer;
}

/**
 * The graph to lay out: steps and their needs, or, with `flows`, steps and datasets (a dataset
 * needs the step that publishes it, a step needs the datasets it reads; a need that no dataset
 * carries stays a direct edge). A dataset no step publishes sits above the steps that read it.
 */
function graphOf(steps: IGraphNode[], flows: IFlow[] | null): { id: string; kind: 'step' | 'dataset'; name: string; needs: string[] }[] {
  const known = new Set(steps.map(s => s.name));
  const result = steps.map(s => ({ id: s.name, kind: 'step' as const, name: s.name, needs: s.needs.filter(n => known.has(n)) }));
  if (!flows) {
    return result;
  }
  const producer = new Map<string, string>();
  for (const flow of flows) {
    flow.publishes.forEach(d => producer.has(d) || producer.set(d, flow.step));
  }
  const datasets = new Map<string, string[]>();
  const readsOf = new Map(flows.map(f => [f.step, f.reads]));
  for (const step of result) {
    const reads = readsOf.get(step.id) ?? [];
    const carried = new Set(reads.map(d => producer.get(d)).filter((p): p is string => Boolean(p)));
    step.needs = [...step.needs.filter(n => !carried.has(n)), ...reads.map(datasetId)];
    reads.forEach(d => datasets.set(d, producer.has(d) && known.has(producer.get(d)!) ? [producer.get(d)!] : []));
  }
  for (const [dataset, step] of producer) {
    if (known.has(step) && !datasets.has(dataset)) {
      datasets.set(dataset, [step]); // published, read by no step: below its producer
    }
  }
  return [...result, ...[...datasets].map(([name, needs]) => ({ id: datasetId(name), kind: 'dataset' as const, name, needs }))];
}

/** Where a dummy node of an edge sits: `~FROM>TO@LAYER` (not a name a step or dataset id can take). */
const dummyId = (from: string, to: string, layer: number): string => `~${from}>${to}@${layer}`;

/** A slot a long edge takes in a row it passes through: room for the line and a gap each side. */
const DUMMY_SLOT = 24;

/**
 * Positions of every node: one row per layer; an edge that skips rows gets a narrow slot of its
 * own in each (a dummy node), so it never runs through a node; within a row, nodes and slots are
 * ordered by the mean position of what they connect to (a few sweeps down and up), so edges
 * mostly run straight and cross little.
 */
export function layout(steps: IGraphNode[], flows: IFlow[] | null = null): ILayout {
  const graph = graphOf(steps, flows);
  const layer = layers(graph.map(n => ({ name: n.id, needs: n.needs })));
  const byId = new Map(graph.map(n => [n.id, n]));
  const edges = graph.flatMap(n => n.needs.filter(need => byId.has(need)).map(need => ({ from: need, to: n.id })));
  const rows: string[][] = [];
  const add = (id: string, index: number) => (rows[index] = rows[index] ?? []).push(id);
  graph.forEach(node => add(node.id, layer.get(node.id) ?? 0));
  // each hop of an edge joins two neighbouring rows: a long edge is a chain through its dummies
  const up = new Map<string, string[]>(graph.map(n => [n.id, []]));
  const down = new Map<string, string[]>(graph.map(n => [n.id, []]));
  const chains = edges.map(({ from, to }) => {
    const top = layer.get(from) ?? 0;
    const chain = [from];
    for (let l = top + 1; l < (layer.get(to) ?? 0); l++) {
      const dummy = dummyId(from, to, l);
      add(dummy, l);
      up.set(dummy, []);
      down.set(dummy, []);
      chain.push(dummy);
    }
    chain.push(to);
    chain.slice(1).forEach((id, i) => {
      up.get(id)!.push(chain[i]);
      down.get(chain[i])!.push(id);
    });
    return chain;
  });
  const cell = flows ? CELL_W : STEP_W + GAP_X;
  const slot = (id: string) => (byId.has(id) ? cell : DUMMY_SLOT);
  const rowWidth = (row: string[]) => row.reduce((sum, id) => sum + slot(id), 0);
  // the centre of each slot, relative to the centre of its row
  const centre = new Map<string, number>();
  const place = (row: string[]) => {
    let left = -rowWidth(row) / 2;
    for (const id of row) {
      centre.set(id, left + slot(id) / 2);
      left += slot(id);
    }
  };
  rows.forEach(place);
  const order = (row: string[], neighbours: Map<string, string[]>) => {
    const key = (id: string) => {
      const linked = neighbours.get(id) ?? [];
      return linked.length ? linked.reduce((sum, n) => sum + centre.get(n)!, 0) / linked.length : centre.get(id)!;
    };
    const keyed = row.map((id, i) => ({ id, key: key(id), i }));
    keyed.sort((a, b) => a.key - b.key || a.i - b.i);
    row.splice(0, row.length, ...keyed.map(k => k.id));
    place(row);
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    rows.slice(1).forEach(row => order(row, up));
    rows.slice(0, -1).reverse().forEach(row => order(row, down));
  }
  const width = Math.max(cell, ...rows.map(rowWidth)) + GAP_X;
  const rowTop = (y: number) => GAP_Y / 2 + y * (STEP_H + GAP_Y);
  const placed: IPlaced[] = [];
  const slotX = new Map<string, number>(); // the centre of every node's and dummy's slot
  rows.forEach((row, y) => {
    let left = (width - rowWidth(row) + GAP_X) / 2;
    for (const id of row) {
      slotX.set(id, left + (slot(id) - GAP_X) / 2);
      const node = byId.get(id);
      if (node) {
        const [w, h] = node.kind === 'step' ? [STEP_W, STEP_H] : [DATASET_W, DATASET_H];
        placed.push({ id, kind: node.kind, name: node.name, layer: y, width: w, height: h,
          x: left + (cell - GAP_X - w) / 2, y: rowTop(y) + (STEP_H - h) / 2 });
      }
      left += slot(id);
    }
  });
  const at = new Map(placed.map(n => [n.id, n]));
  const routed = chains.map(chain => {
    const [from, to] = [at.get(chain[0])!, at.get(chain[chain.length - 1])!];
    const points: IPoint[] = [{ x: slotX.get(from.id)!, y: from.y + from.height }, { x: slotX.get(from.id)!, y: rowTop(from.layer) + STEP_H }];
    chain.slice(1, -1).forEach((dummy, i) => {
      const x = slotX.get(dummy)!;
      points.push({ x, y: rowTop(from.layer + 1 + i) }, { x, y: rowTop(from.layer + 1 + i) + STEP_H });
    });
    points.push({ x: slotX.get(to.id)!, y: rowTop(to.layer) }, { x: slotX.get(to.id)!, y: to.y });
    const kept = points.filter((p, i) => i === 0 || p.x !== points[i - 1].x || p.y !== points[i - 1].y);
    return { from: from.id, to: to.id, points: kept };
  });
  return { nodes: placed, edges: routed, width, height: rows.length * (STEP_H + GAP_Y) + GAP_Y / 2 };
}

/**
 * An edge's route as an SVG path: straight within a slot, a curve with vertical ends across a gap
 * (it stays between its end points' rows, inside the gap), ending a pixel short for the arrow.
 */
export function edgePath(points: IPoint[]): string {
  const parts = [`M ${points[0].x} ${points[0].y}`];
  points.slice(1).forEach((q, i) => {
    const p = points[i];
    const y = i === points.length - 2 ? q.y - 1 : q.y;
    if (p.x === q.x) {
      parts.push(`L ${q.x} ${y}`);
    } else {
      const mid = (p.y + q.y) / 2;
      parts.push(`C ${p.x} ${mid}, ${q.x} ${mid}, ${q.x} ${y}`);
    }
  });
  return parts.join(' ');
}

/** The transform that shows all of a layout centred in a viewport, never enlarged past `maxScale`. */
export function fit(size: { width: number; height: number }, viewport: { width: number; height: number }, margin = 16, maxScale = 1.5): ITransform {
  const room = { width: Math.max(1, viewport.width - 2 * margin), height: Math.max(1, viewport.height - 2 * margin) };
  const scale = Math.min(maxScale, room.width / Math.max(1, size.width), room.height / Math.max(1, size.height));
  return { scale, x: (viewport.width - size.width * scale) / 2, y: (viewport.height - size.height * scale) / 2 };
}

/** `transform` scaled by `factor` about the point (px, py) of the viewport, within [minScale, maxScale]. */
export function zoom(transform: ITransform, factor: number, px: number, py: number, minScale = 0.1, maxScale = 4): ITransform {
  const scale = Math.min(maxScale, Math.max(minScale, transform.scale * factor));
  const k = scale / transform.scale;
  return { scale, x: px - (px - transform.x) * k, y: py - (py - transform.y) * k };
}

export interface IDrawOptions {
  selected: string | null;
  onSelect: (name: string) => void;
  onDataset?: (name: string) => void;
  /** The id of the arrow marker: unique per drawing, a hidden SVG's marker does not render elsewhere. */
  marker?: string;
}

/** The layout's edges and nodes as one SVG group (the caller places or transforms it). */
export function drawLayout(plan: ILayout, steps: IGraphNode[], options: IDrawOptions): { defs: SVGDefsElement; group: SVGGElement } {
  const marker = options.marker ?? 'dataops-arrow';
  const defs = svg('defs', {});
  const arrow = svg('marker', { id: marker, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' });
  arrow.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'jp-DataOps-arrow' }));
  defs.append(arrow);
  const group = svg('g', {});
  for (const edge of plan.edges) {
    group.append(svg('path', { d: edgePath(edge.points), class: 'jp-DataOps-edge', 'marker-end': `url(#${marker})` }));
  }
  const stepOf = new Map(steps.map(s => [s.name, s]));
  for (const placed of plan.nodes) {
    const node = placed.kind === 'step' ? stepOf.get(placed.name)! : null;
    const group2 = svg('g', {
      class: node
        ? `jp-DataOps-node jp-DataOps-tone-${tone(node.outcome)} jp-DataOps-${node.freshness}${node.name === options.selected ? ' jp-DataOps-selected' : ''}`
        : 'jp-DataOps-node jp-DataOps-dataset',
      transform: `translate(${placed.x}, ${placed.y})`
    });
    const title = svg('title', {});
    const max = node ? 17 : 22;
    const label = svg('text', { x: placed.width / 2, y: placed.height / 2 + 4, 'text-anchor': 'middle' });
    label.textContent = placed.name.length > max ? placed.name.slice(0, max - 1) + '…' : placed.name;
    group2.append(title, svg('rect', { width: placed.width, height: placed.height, rx: node ? 6 : placed.height / 2 }), label);
    if (node) {
      group2.setAttribute('data-step', node.name);
      group2.setAttribute('data-outcome', node.outcome);
      group2.setAttribute('data-freshness', node.freshness);
      title.textContent = node.title;
      if (node.deferred) {
        group2.setAttribute('data-deferred', node.deferred);
        group2.classList.add('jp-DataOps-deferred');
        // at the bottom left, clear of the edges that leave from the middle
        const from = svg('text', { x: 2, y: placed.height + 11, 'text-anchor': 'start', class: 'jp-DataOps-deferredlabel' });
        from.textContent = `↳ ${node.deferred}`;
        group2.append(from);
      }
      group2.addEventListener('click', () => options.onSelect(node.name));
    } else {
      group2.setAttribute('data-dataset', placed.name);
      title.textContent = `Dataset ${placed.name}`;
      const open = options.onDataset;
      if (open) {
        group2.addEventListener('click', () => open(placed.name));
      }
    }
    group.append(group2);
  }
  return { defs, group };
}

/** The sidebar's DAG: steps only, scaled down to the sidebar's width, never up. */
export function drawGraph(nodes: IGraphNode[], selected: string | null, onSelect: (name: string) => void): SVGSVGElement {
  const plan = layout(nodes);
  const root = svg('svg', { class: 'jp-DataOps-graph', width: '100%', viewBox: `0 0 ${plan.width} ${plan.height}`, style: `max-width: ${plan.width}px` });
  root.setAttribute('data-testid', 'dataops-graph');
  const { defs, group } = drawLayout(plan, nodes, { selected, onSelect });
  root.append(defs, group);
  return root;
}

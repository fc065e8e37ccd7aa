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

export interface ILayout {
  nodes: IPlaced[];
  edges: { from: string; to: string }[];
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

/**
 * Positions of every node: one row per layer; within a row, nodes ordered by the mean column of
 * what they connect to (a few sweeps down and up), so edges mostly run straight and cross little.
 */
export function layout(steps: IGraphNode[], flows: IFlow[] | null = null): ILayout {
  const graph = graphOf(steps, flows);
  const layer = layers(graph.map(n => ({ name: n.id, needs: n.needs })));
  const rows: string[][] = [];
  for (const node of graph) {
    const index = layer.get(node.id) ?? 0;
    (rows[index] = rows[index] ?? []).push(node.id);
  }
  const up = new Map(graph.map(n => [n.id, n.needs]));
  const down = new Map<string, string[]>(graph.map(n => [n.id, []]));
  graph.forEach(n => n.needs.forEach(need => down.get(need)?.push(n.id)));
  const column = new Map<string, number>();
  const place = (row: string[]) => row.forEach((id, i) => column.set(id, i - (row.length - 1) / 2));
  rows.forEach(place);
  const order = (row: string[], neighbours: Map<string, string[]>) => {
    const centre = (id: string) => {
      const linked = (neighbours.get(id) ?? []).filter(n => column.has(n));
      return linked.length ? linked.reduce((sum, n) => sum + column.get(n)!, 0) / linked.length : column.get(id)!;
    };
    const keyed = row.map((id, i) => ({ id, key: centre(id), i }));
    keyed.sort((a, b) => a.key - b.key || a.i - b.i);
    row.splice(0, row.length, ...keyed.map(k => k.id));
    place(row);
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    rows.slice(1).forEach(row => order(row, up));
    rows.slice(0, -1).reverse().forEach(row => order(row, down));
  }
  const cell = flows ? CELL_W : STEP_W + GAP_X;
  const widest = Math.max(1, ...rows.map(r => r.length));
  const width = widest * cell + GAP_X;
  const byId = new Map(graph.map(n => [n.id, n]));
  const placed: IPlaced[] = [];
  rows.forEach((row, y) => {
    const offset = (width - row.length * cell + GAP_X) / 2;
    row.forEach((id, x) => {
      const node = byId.get(id)!;
      const [w, h] = node.kind === 'step' ? [STEP_W, STEP_H] : [DATASET_W, DATASET_H];
      const cellLeft = offset + x * cell;
      placed.push({
        id, kind: node.kind, name: node.name, layer: y, width: w, height: h,
        x: cellLeft + (cell - GAP_X - w) / 2,
        y: GAP_Y / 2 + y * (STEP_H + GAP_Y) + (STEP_H - h) / 2
      });
    });
  });
  const edges = graph.flatMap(n => n.needs.filter(need => byId.has(need)).map(need => ({ from: need, to: n.id })));
  return { nodes: placed, edges, width, height: rows.length * (STEP_H + GAP_Y) + GAP_Y / 2 };
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
  const at = new Map(plan.nodes.map(n => [n.id, n]));
  for (const edge of plan.edges) {
    const from = at.get(edge.from)!;
    const to = at.get(edge.to)!;
    const x1 = from.x + from.width / 2;
    const y1 = from.y + from.height;
    const x2 = to.x + to.width / 2;
    const y2 = to.y;
    const mid = (y1 + y2) / 2;
    group.append(svg('path', { d: `M ${x1} ${y1} C ${x1} ${mid}, ${x2} ${mid}, ${x2} ${y2 - 1}`, class: 'jp-DataOps-edge', 'marker-end': `url(#${marker})` }));
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

/** The pipeline DAG as SVG: layered top to bottom (a step sits below everything it needs). */

import { tone } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 128;
const NODE_H = 30;
const GAP_X = 16;
const GAP_Y = 34;

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

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  return node;
}

/** Layer of each node: the longest chain of needs above it. */
export function layers(nodes: IGraphNode[]): Map<string, number> {
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

export function drawGraph(
  nodes: IGraphNode[],
  selected: string | null,
  onSelect: (name: string) => void
): SVGSVGElement {
  const layer = layers(nodes);
  const rows: string[][] = [];
  for (const node of nodes) {
    const index = layer.get(node.name) ?? 0;
    (rows[index] = rows[index] ?? []).push(node.name);
  }
  const widest = Math.max(1, ...rows.map(r => r.length));
  const width = widest * (NODE_W + GAP_X) + GAP_X;
  const height = rows.length * (NODE_H + GAP_Y) + GAP_Y / 2;
  const position = new Map<string, { x: number; y: number }>();
  rows.forEach((row, y) => {
    const offset = (width - row.length * (NODE_W + GAP_X) + GAP_X) / 2;
    row.forEach((name, x) => position.set(name, { x: offset + x * (NODE_W + GAP_X), y: GAP_Y / 2 + y * (NODE_H + GAP_Y) }));
  });

  // scales down to the sidebar's width, never up
  const root = svg('svg', { class: 'jp-DataOps-graph', width: '100%', viewBox: `0 0 ${width} ${height}`, style: `max-width: ${width}px` });
  root.setAttribute('data-testid', 'dataops-graph');
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'dataops-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' });
  marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'jp-DataOps-arrow' }));
  defs.append(marker);
  root.append(defs);

  for (const node of nodes) {
    const to = position.get(node.name)!;
    for (const need of node.needs) {
      const from = position.get(need);
      if (!from) {
        continue;
      }
      const x1 = from.x + NODE_W / 2;
      const y1 = from.y + NODE_H;
      const x2 = to.x + NODE_W / 2;
      const y2 = to.y;
      const mid = (y1 + y2) / 2;
      root.append(svg('path', { d: `M ${x1} ${y1} C ${x1} ${mid}, ${x2} ${mid}, ${x2} ${y2 - 1}`, class: 'jp-DataOps-edge', 'marker-end': 'url(#dataops-arrow)' }));
    }
  }
  for (const node of nodes) {
    const { x, y } = position.get(node.name)!;
    const group = svg('g', {
      class: `jp-DataOps-node jp-DataOps-tone-${tone(node.outcome)} jp-DataOps-${node.freshness}${node.name === selected ? ' jp-DataOps-selected' : ''}`,
      transform: `translate(${x}, ${y})`
    });
    group.setAttribute('data-step', node.name);
    group.setAttribute('data-outcome', node.outcome);
    group.setAttribute('data-freshness', node.freshness);
    if (node.deferred) {
      group.setAttribute('data-deferred', node.deferred);
      group.classList.add('jp-DataOps-deferred');
    }
    const title = svg('title', {});
    title.textContent = node.title;
    group.append(title, svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }));
    const label = svg('text', { x: NODE_W / 2, y: NODE_H / 2 + 4, 'text-anchor': 'middle' });
    label.textContent = node.name.length > 17 ? node.name.slice(0, 16) + '…' : node.name;
    group.append(label);
    if (node.deferred) {
      // at the bottom left, clear of the edges that leave from the middle
      const from = svg('text', { x: 2, y: NODE_H + 11, 'text-anchor': 'start', class: 'jp-DataOps-deferredlabel' });
      from.textContent = `↳ ${node.deferred}`;
      group.append(from);
    }
    group.addEventListener('click', () => onSelect(node.name));
    root.append(group);
  }
  return root;
}

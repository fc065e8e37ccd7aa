import { describe, expect, it } from 'vitest';

import { datasetId, edgePath, fit, IFlow, IGraphNode, ILayout, IPlaced, IPoint, layers, layout, zoom } from '../src/graph';

const node = (name: string, needs: string[]): IGraphNode => ({ name, needs, outcome: 'success', freshness: 'fresh', title: name });

describe('DAG layout', () => {
  it('puts every step below everything it needs, at 50 steps', () => {
    const nodes = Array.from({ length: 50 }, (_, i) =>
      node(`s${i}`, i === 0 ? [] : [`s${Math.floor((i - 1) / 2)}`, ...(i % 7 === 0 ? [`s${i - 3}`] : [])].filter((n, k, all) => all.indexOf(n) === k))
    );
    const layer = layers(nodes);
    expect(layer.size).toBe(50);
    for (const n of nodes) {
      for (const need of n.needs) {
        expect(layer.get(n.name)!).toBeGreaterThan(layer.get(need)!);
      }
    }
    expect(layer.get('s0')).toBe(0);
  });

  it('ignores needs outside the pipeline and never loops on a cycle', () => {
    const layer = layers([node('a', ['gone']), node('b', ['a', 'c']), node('c', ['b'])]);
    expect(layer.get('a')).toBe(0);
    expect([...layer.keys()].sort()).toEqual(['a', 'b', 'c']);
  });
});

/** A 50-step pipeline as a data team grows one: a few sources, chains of transforms, marts joining several. */
function fiftySteps(): { steps: IGraphNode[]; flows: IFlow[] } {
  const steps = Array.from({ length: 50 }, (_, i) =>
    node(`s${i}`, i < 4 ? [] : [...new Set([`s${Math.floor(i / 2) - 1}`, `s${i - 3}`, ...(i % 5 === 0 ? [`s${i - 4}`] : [])])]));
  const flows = steps.map(s => ({ step: s.name, reads: s.needs.map(n => `ds.${n}`), publishes: [`ds.${s.name}`] }));
  return { steps, flows };
}

function overlapping(plan: ILayout): string[] {
  const found: string[] = [];
  plan.nodes.forEach((a, i) => plan.nodes.slice(i + 1).forEach(b => {
    if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) {
      found.push(`${a.id} / ${b.id}`);
    }
  }));
  return found;
}

/** Whether the segment p-q passes through the inside of the node's box (its outline may be touched). */
function crosses(p: IPoint, q: IPoint, box: IPlaced): boolean {
  // clip the segment to the box's open interior (Liang-Barsky)
  let [t0, t1] = [0, 1];
  const [dx, dy] = [q.x - p.x, q.y - p.y];
  for (const [step, room] of [[-dx, p.x - box.x], [dx, box.x + box.width - p.x], [-dy, p.y - box.y], [dy, box.y + box.height - p.y]]) {
    if (step === 0) {
      if (room <= 0) {
        return false;
      }
      continue;
    }
    const t = room / step;
    if (step < 0) {
      t0 = Math.max(t0, t);
    } else {
      t1 = Math.min(t1, t);
    }
  }
  return t1 - t0 > 1e-9;
}

/** Each edge segment that runs through a node other than the edge's own two ends. */
function throughNodes(plan: ILayout): string[] {
  return plan.edges.flatMap(edge => edge.points.slice(1).flatMap((q, i) => plan.nodes
    .filter(n => n.id !== edge.from && n.id !== edge.to && crosses(edge.points[i], q, n))
    .map(n => `${edge.from} -> ${edge.to} through ${n.id}`)));
}

describe('pipeline view layout', () => {
  it('routes an edge that skips a row beside the nodes of that row, never through one', () => {
    // report needs ingest and clean: the straight line from ingest to report runs through clean
    const steps = [node('ingest', []), node('clean', ['ingest']), node('model', ['clean']), node('report', ['model', 'ingest', 'clean'])];
    const plan = layout(steps);
    const at = new Map(plan.nodes.map(n => [n.id, n]));
    expect(throughNodes(plan)).toEqual([]);
    const long = plan.edges.find(e => e.from === 'ingest' && e.to === 'report')!;
    const [ingest, report] = [at.get('ingest')!, at.get('report')!];
    expect(long.points[0]).toEqual({ x: ingest.x + ingest.width / 2, y: ingest.y + ingest.height });
    expect(long.points[long.points.length - 1]).toEqual({ x: report.x + report.width / 2, y: report.y });
    // through a slot of its own in each row it skips: beside clean and model
    for (const skipped of [at.get('clean')!, at.get('model')!]) {
      const inRow = long.points.filter(p => p.y >= skipped.y && p.y <= skipped.y + skipped.height);
      expect(inRow.length).toBeGreaterThan(0);
      inRow.forEach(p => expect(p.x < skipped.x || p.x > skipped.x + skipped.width).toBe(true));
    }
    // the drawn path follows the route: it starts and ends where the route does
    expect(edgePath(long.points)).toMatch(new RegExp(`^M ${long.points[0].x} ${long.points[0].y} `));
  });

  it('routes no edge of 50 steps and their datasets through a node', () => {
    const { steps, flows } = fiftySteps();
    for (const plan of [layout(steps), layout(steps, flows)]) {
      expect(throughNodes(plan)).toEqual([]);
      for (const edge of plan.edges) {
        // within the drawing, and only ever downwards
        edge.points.forEach(p => expect(p.x >= 0 && p.x <= plan.width && p.y >= 0 && p.y <= plan.height).toBe(true));
        edge.points.slice(1).forEach((q, i) => expect(q.y).toBeGreaterThanOrEqual(edge.points[i].y));
      }
    }
  });


  it('places 50 steps and their datasets with no two nodes overlapping, inside its size', () => {
    const { steps, flows } = fiftySteps();
    for (const plan of [layout(steps), layout(steps, flows)]) {
      expect(overlapping(plan)).toEqual([]);
      for (const n of plan.nodes) {
        expect(n.x).toBeGreaterThanOrEqual(0);
        expect(n.y).toBeGreaterThanOrEqual(0);
        expect(n.x + n.width).toBeLessThanOrEqual(plan.width);
        expect(n.y + n.height).toBeLessThanOrEqual(plan.height);
      }
    }
    expect(layout(steps, flows).nodes.filter(n => n.kind === 'dataset')).toHaveLength(50);
  });

  it('puts a dataset between the step that publishes it and the steps that read it', () => {
    const steps = [node('ingest', []), node('clean', ['ingest']), node('report', ['clean', 'ingest'])];
    const flows = [
      { step: 'ingest', reads: ['flights.csv'], publishes: ['raw.flights'] },
      { step: 'clean', reads: ['raw.flights'], publishes: ['staging.flights'] },
      { step: 'report', reads: ['staging.flights'], publishes: [] }
    ];
    const plan = layout(steps, flows);
    const at = new Map(plan.nodes.map(n => [n.id, n]));
    const [source, ingest, raw, clean, staging, report] = ['flights.csv', 'ingest', 'raw.flights', 'clean', 'staging.flights', 'report']
      .map(n => at.get(n) ?? at.get(datasetId(n))!);
    expect([source, raw, staging].map(n => n.kind)).toEqual(['dataset', 'dataset', 'dataset']);
    expect(source.y).toBeLessThan(ingest.y);
    expect(ingest.y).toBeLessThan(raw.y);
    expect(raw.y).toBeLessThan(clean.y);
    expect(clean.y).toBeLessThan(staging.y);
    expect(staging.y).toBeLessThan(report.y);
    const edges = plan.edges.map(e => `${e.from} -> ${e.to}`).sort();
    // a need that a dataset carries goes through it; one that none carries stays direct
    expect(edges).toEqual([
      'clean -> dataset:staging.flights', 'dataset:flights.csv -> ingest', 'dataset:raw.flights -> clean',
      'dataset:staging.flights -> report', 'ingest -> dataset:raw.flights', 'ingest -> report'
    ].sort());
  });

  it('orders a layer by what it connects to, so a chain runs straight down', () => {
    const steps = [node('a', []), node('b', []), node('a2', ['a']), node('b2', ['b'])];
    const plan = layout([steps[0], steps[1], steps[3], steps[2]]);
    const x = new Map(plan.nodes.map(n => [n.id, n.x]));
    expect(x.get('a2')).toBe(x.get('a'));
    expect(x.get('b2')).toBe(x.get('b'));
  });

  it('fits a transform that shows every node inside the viewport, centred', () => {
    const { steps, flows } = fiftySteps();
    const plan = layout(steps, flows);
    const viewport = { width: 900, height: 600 };
    const t = fit(plan, viewport);
    expect(t.scale).toBeGreaterThan(0);
    expect(t.scale).toBeLessThan(1); // 50 steps do not fit unscaled
    for (const n of plan.nodes) {
      expect(t.x + n.x * t.scale).toBeGreaterThanOrEqual(0);
      expect(t.y + n.y * t.scale).toBeGreaterThanOrEqual(0);
      expect(t.x + (n.x + n.width) * t.scale).toBeLessThanOrEqual(viewport.width);
      expect(t.y + (n.y + n.height) * t.scale).toBeLessThanOrEqual(viewport.height);
    }
    // a small graph is not blown up past 1.5×
    expect(fit({ width: 100, height: 50 }, viewport).scale).toBe(1.5);
  });

  it('zooms about the pointer: the point under it stays put', () => {
    const t = zoom({ x: 10, y: 20, scale: 1 }, 2, 110, 70);
    expect(t.scale).toBe(2);
    expect([(110 - t.x) / t.scale, (70 - t.y) / t.scale]).toEqual([100, 50]);
    expect(zoom(t, 100, 0, 0).scale).toBe(4);
  });
});

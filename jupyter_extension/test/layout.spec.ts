import { describe, expect, it } from 'vitest';

import { IGraphNode, layers } from '../src/graph';

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

import { describe, expect, it } from 'vitest';

import { median, slowness } from '../src/charts';

describe('step durations', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBe(0);
  });

  it('marks a run over twice the median of the earlier ones, given three of them', () => {
    const runs = [2.0, 2.2, 1.9, 2.1, 9.0];
    expect(slowness(runs, 4)).toEqual({ median: 2.05, slow: true });
    expect(slowness(runs, 3).slow).toBe(false);
    expect(slowness([2, 9], 1).slow).toBe(false); // one earlier run is too little to judge by
    expect(slowness([0.1, 0.1, 0.1, 0.5], 3).slow).toBe(false); // five times, but not a second more
  });
});

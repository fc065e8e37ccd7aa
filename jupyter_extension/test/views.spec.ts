import { describe, expect, it } from 'vitest';

import { compareValues, diffSummary, parameterRows, shownRows } from '../src/viewdata';

describe('dataset page preview', () => {
  const rows = [
    { carrier: 'UA', flights: 58665, airline: '********' },
    { carrier: 'DL', flights: 48110, airline: '********' },
    { carrier: 'OO', flights: null, airline: null },
    { carrier: 'AA', flights: 32729, airline: '********' }
  ];

  it('sorts numbers as numbers, either way, with empty values last', () => {
    expect(shownRows(rows, '', { column: 'flights', descending: false }).map(r => r.carrier)).toEqual(['AA', 'DL', 'UA', 'OO']);
    expect(shownRows(rows, '', { column: 'flights', descending: true }).map(r => r.carrier)).toEqual(['UA', 'DL', 'AA', 'OO']);
    expect(shownRows(rows, '', { column: 'carrier', descending: false }).map(r => r.carrier)).toEqual(['AA', 'DL', 'OO', 'UA']);
    expect(compareValues('item 9', 'item 10')).toBeLessThan(0);
  });

  it('keeps the rows holding the filter text in any value, ignoring case', () => {
    expect(shownRows(rows, 'dl', null).map(r => r.carrier)).toEqual(['DL']);
    expect(shownRows(rows, '487', null)).toEqual([]);
    expect(shownRows(rows, '  ', null)).toHaveLength(4);
  });
});

describe('run view', () => {
  it('lists the run parameters and each step parameter', () => {
    expect(parameterRows({ sample_rows: 5000, carrier_delays: { on_time_minutes: 15, label: 'x' } })).toEqual([
      { parameter: 'sample_rows', value: '5000' },
      { parameter: 'carrier_delays.on_time_minutes', value: '15' },
      { parameter: 'carrier_delays.label', value: 'x' }
    ]);
    expect(parameterRows(null)).toEqual([]);
  });

  it('says what changed in a dataset between two runs', () => {
    const same = { dataset: 'd', a: 'd@1', b: 'd@2', differs: false, rows: { a: 3, b: 3 } };
    expect(diffSummary(same)).toBe('same data');
    const changed = { dataset: 'd', a: 'd@1', b: 'd@2', differs: true, rows: { a: 3, b: 5 }, changed: 1, only_in_b: 2,
      schema_changes: { added: ['x'], removed: [], type_changed: [{ column: 'y', a: 'INT', b: 'DOUBLE' }] } };
    expect(diffSummary(changed)).toBe('rows 3 → 5 · 1 changed · 2 only in B · added: x · type changed: y');
  });
});

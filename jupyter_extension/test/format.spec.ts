import { describe, expect, it } from 'vitest';

import { nameProblem, quarantinedNewer, statText } from '../src/format';
import { versionCards } from '../src/quality';

describe('dataset page values', () => {
  it('rounds numbers, groups counts and leaves text alone', () => {
    expect(statText(0.123456789)).toBe('0.123');
    expect(statText(1234.5678)).toBe('1234.6');
    expect(statText(2013)).toBe('2013');
    expect(statText(336776, true)).toBe('336,776');
    expect(statText('17.25')).toBe('17.25');
    expect(statText('2013-01-01 05:00:00')).toBe('2013-01-01 05:00:00');
    expect(statText(null)).toBe('');
  });

  it('finds a quarantined version newer than the current one', () => {
    const current = { version: 'd@r1', status: 'current', created_at: '2026-01-01T10:00' };
    const held = { version: 'd@r2', status: 'quarantined', created_at: '2026-01-02T10:00' };
    const old = { version: 'd@r0', status: 'quarantined', created_at: '2025-12-31T10:00' };
    expect(quarantinedNewer([current, held, old])?.version).toBe('d@r2');
    expect(quarantinedNewer([current, old])).toBeNull();
  });
});

describe('new step names', () => {
  it('says what is wrong with a name as it is typed', () => {
    expect(nameProblem('', ['clean'])).toBe('Give the step a name.');
    expect(nameProblem('2weekly', ['clean'])).toMatch(/starts with a letter/);
    expect(nameProblem('clean', ['clean'])).toBe("The pipeline already has a step 'clean'.");
    expect(nameProblem('weekly_carriers', ['clean'])).toBe('');
  });
});

describe('review cards', () => {
  it('makes one card per version, its checks inside, quarantined first', () => {
    const failure = (id: number, version: string, status: string, check: string) => ({
      id, dataset: 'staging.flights', version, version_status: status, run_id: null, step: 'clean', check, column: null,
      status: 'warn', failing: 1, fraction: null, rows: 10, message: null, sample: []
    });
    const cards = versionCards(
      [{ dataset: 'staging.flights', version: 'f@r2', run_id: 'r2', step: 'clean', rows: 10, created_at: '' }],
      [failure(1, 'f@r1', 'current', 'a'), failure(2, 'f@r2', 'quarantined', 'b'), failure(3, 'f@r2', 'quarantined', 'c')]
    );
    expect(cards.map(c => [c.version, c.status, c.checks.map(k => k.check)])).toEqual([
      ['f@r2', 'quarantined', ['b', 'c']],
      ['f@r1', 'current', ['a']]
    ]);
  });
});

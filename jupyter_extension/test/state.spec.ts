import { describe, expect, it } from 'vitest';

import { IPipelineStep, IRun } from '../src/api';
import { downstream, errorParts, outcomeOfRun, stepView } from '../src/state';

const run = (status: string, warnings = 0) => ({
  name: 'clean', status, attempt: 1, started_at: null, ended_at: null, duration_s: 1, output_notebook: null, error: null, warnings
});

function step(overrides: Partial<IPipelineStep> = {}): IPipelineStep {
  return {
    name: 'clean', notebook: 'notebooks/clean.ipynb', needs: ['ingest'], description: '', state: 'fresh', reasons: [],
    last_status: 'success', last_run: 'r1', outcome: { ...run('success'), run_id: 'r1' }, ...overrides
  };
}

describe('outcomes', () => {
  it('calls a success with warn checks a warn, and a fresh step no outcome', () => {
    expect(outcomeOfRun(run('success', 2))).toBe('warn');
    expect(outcomeOfRun(run('success'))).toBe('success');
    expect(outcomeOfRun(run('accepted', 1))).toBe('warn');
    expect(outcomeOfRun(run('skipped'))).toBe('skipped');
    expect(outcomeOfRun(run('fresh'))).toBeNull();
  });

  it('keeps the outcome and the freshness apart', () => {
    const stale = stepView(step({ state: 'stale', reasons: ['upstream changed'], outcome: { ...run('failed'), run_id: 'r2' } }), null);
    expect(stale).toMatchObject({ outcome: 'failed', runId: 'r2', freshness: 'stale', reason: 'upstream changed' });
    expect(stepView(step({ outcome: null, state: 'stale' }), null)).toMatchObject({ outcome: 'never_ran', reason: 'never ran' });
  });

  it('shows the live run while it goes on, and the last outcome for a step it did not re-run', () => {
    const live = { run_id: 'r3', steps: [run('running'), { ...run('fresh'), name: 'ingest' }] } as unknown as IRun;
    expect(stepView(step(), live)).toMatchObject({ outcome: 'running', runId: 'r3', freshness: 'in_run' });
    expect(stepView(step({ name: 'ingest', needs: [] }), live)).toMatchObject({ outcome: 'success', runId: 'r1', freshness: 'fresh' });
  });
});

describe('errors and downstream', () => {
  it("splits `cell N: Error: message` into the cell and the error's first line", () => {
    expect(errorParts('cell 4:2: ValueError: empty\nTraceback ...')).toEqual({ cell: '4', line: '2', message: 'ValueError: empty' });
    expect(errorParts('cell 4: KeyError: x')).toEqual({ cell: '4', line: null, message: 'KeyError: x' });
    expect(errorParts('timed out after 5 s')).toEqual({ cell: null, line: null, message: 'timed out after 5 s' });
    expect(errorParts(null)).toBeNull();
  });

  it('finds every step below one, in pipeline order', () => {
    const steps = [
      { name: 'ingest', needs: [] }, { name: 'clean', needs: ['ingest'] }, { name: 'weather', needs: ['clean'] },
      { name: 'carriers', needs: ['clean'] }, { name: 'report', needs: ['weather', 'carriers'] }, { name: 'other', needs: ['ingest'] }
    ];
    expect(downstream(steps, 'clean')).toEqual(['weather', 'carriers', 'report']);
    expect(downstream(steps, 'report')).toEqual([]);
  });
});

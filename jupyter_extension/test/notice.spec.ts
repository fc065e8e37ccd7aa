import { describe, expect, it } from 'vitest';

import { IRun, IStepRun } from '../src/api';
import { runNotice } from '../src/notice';

const step = (name: string, status: string, extra: Partial<IStepRun> = {}): IStepRun => ({
  name, status, attempt: 1, started_at: null, ended_at: null, duration_s: 1, output_notebook: null, error: null, warnings: 0, ...extra
});

function ended(status: string, steps: IStepRun[], extra: Partial<IRun> = {}): IRun {
  return {
    run_id: 'r1', status, started_at: '2026-12-03T07:00:00Z', ended_at: '2026-12-03T07:01:00Z', user: 'alice', environment: 'test',
    message: null, resumed_from: null, selection: steps.map(s => s.name), warnings: 0, steps, ...extra
  };
}

describe('the notice when a run ends', () => {
  it('says a run succeeded, and with how many warn checks', () => {
    expect(runNotice(ended('success', [step('ingest', 'success'), step('clean', 'fresh')]))).toEqual(
      { type: 'success', message: 'Run r1 succeeded: 1 step ran.', notebook: null, review: false });
    const warned = runNotice(ended('success', [step('clean', 'success', { warnings: 2 })], { warnings: 2 }));
    expect(warned).toMatchObject({ type: 'warning', message: 'Run r1 succeeded with 2 warn checks.', review: true });
  });

  it('names the failed step, its cell and the error\'s first line, and offers its executed notebook', () => {
    const failed = ended('failed', [
      step('ingest', 'success'),
      step('clean', 'failed', { error: 'cell 4:2: ValueError: no rows\nTraceback (most recent call last):', output_notebook: '.dataops/runs/r1/clean.ipynb' }),
      step('report', 'skipped', { error: 'clean failed' })
    ]);
    expect(runNotice(failed)).toEqual(
      { type: 'error', message: 'Run r1 failed in step clean, cell 4: ValueError: no rows', notebook: 'clean', review: false });
  });

  it('says when a step timed out or held its versions back, and when a run was cancelled', () => {
    expect(runNotice(ended('failed', [step('clean', 'timed_out', { error: 'timed out after 10 s' })])).message)
      .toBe('Run r1 timed out in step clean: timed out after 10 s');
    const held = runNotice(ended('failed', [step('clean', 'quarantined', { error: 'quality checks failed, versions quarantined: x' })]));
    expect(held).toMatchObject({ type: 'error', review: true, notebook: null });
    expect(held.message).toBe('Run r1 held back its versions in step clean: quality checks failed, versions quarantined: x');
    expect(runNotice(ended('cancelled', [step('clean', 'interrupted')])).type).toBe('info');
  });
});

import { describe, expect, it } from 'vitest';

import { runRequest } from '../src/runrequest';

const steps = ['ingest', 'clean', 'report'];
const empty = { params: '', only: '', from: '', env: '', force: false };

describe('run form', () => {
  it('asks for the options as the CLI takes them', () => {
    expect(runRequest(empty, steps)).toEqual({ mode: 'all', force: false, params: [] });
    expect(runRequest({ ...empty, params: 'sample_rows=100\n\n on_time_minutes=10 ', only: 'clean, report', env: 'test', force: true }, steps))
      .toEqual({ mode: 'only', steps: ['clean', 'report'], params: ['sample_rows=100', 'on_time_minutes=10'], env: 'test', force: true });
    expect(runRequest({ ...empty, from: 'clean' }, steps)).toEqual({ mode: 'from', step: 'clean', force: false, params: [] });
  });

  it('says what is wrong in one sentence', () => {
    expect(runRequest({ ...empty, params: 'rows 100' }, steps)).toBe('Parameter "rows 100" is not key=value.');
    expect(runRequest({ ...empty, only: 'clena' }, steps)).toBe('No step "clena" in the pipeline.');
    expect(runRequest({ ...empty, only: 'clean', from: 'ingest' }, steps)).toBe('Choose --only or --from, not both.');
  });
});

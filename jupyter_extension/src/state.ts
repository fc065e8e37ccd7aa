/** What a step's node, badge and card show: its last outcome and its freshness, kept apart. */

import { IPipelineStep, IRun, IStepRun } from './api';

/** Outcomes in the legend's order; `warn` is a success that published with warn checks. */
export const OUTCOMES = ['success', 'warn', 'failed', 'timed_out', 'quarantined', 'skipped', 'interrupted', 'running', 'pending', 'never_ran'];

const LABELS: Record<string, string> = {
  timed_out: 'timed out',
  interrupted: 'cancelled',
  never_ran: 'never ran'
};

export function outcomeLabel(outcome: string): string {
  return LABELS[outcome] ?? outcome;
}

/** The outcome a step run stands for (`fresh` in a run means it was not re-run: no outcome). */
export function outcomeOfRun(step: Pick<IStepRun, 'status' | 'warnings'>): string | null {
  if (step.status === 'fresh') {
    return null;
  }
  if ((step.status === 'success' || step.status === 'accepted') && step.warnings > 0) {
    return 'warn';
  }
  return step.status === 'accepted' ? 'success' : step.status;
}

export interface IStepView {
  outcome: string;
  /** The run the outcome comes from (the live run while it goes on). */
  runId: string | null;
  run: IStepRun | null;
  freshness: 'fresh' | 'stale' | 'in_run';
  reason: string;
}

/** A step as shown: the live run's record of it while a run goes on, else its last outcome. */
export function stepView(step: IPipelineStep, live: IRun | null): IStepView {
  const inLive = live?.steps.find(s => s.name === step.name) ?? null;
  const liveOutcome = inLive ? outcomeOfRun(inLive) : null;
  if (inLive && liveOutcome) {
    return { outcome: liveOutcome, runId: live!.run_id, run: inLive, freshness: 'in_run', reason: '' };
  }
  const last = step.outcome;
  const outcome = last ? outcomeOfRun(last) ?? 'success' : 'never_ran';
  const reason = step.state === 'fresh' ? 'nothing it depends on changed' : step.reasons.join('; ') || 'never ran';
  return { outcome, runId: last?.run_id ?? null, run: last, freshness: step.state, reason };
}

/** `cell 4:2: ValueError: bad` → the error's first line, the cell (counted as in the step notebook) and the line. */
export function errorParts(error: string | null): { cell: string | null; line: string | null; message: string } | null {
  if (!error) {
    return null;
  }
  const first = error.split('\n')[0];
  const match = /^cell (\d+|\?)(?::(\d+))?: (.*)$/.exec(first);
  return match ? { cell: match[1], line: match[2] ?? null, message: match[3] } : { cell: null, line: null, message: first };
}

/** Steps downstream of `step` (everything that needs it, directly or not). */
export function downstream(steps: Pick<IPipelineStep, 'name' | 'needs'>[], step: string): string[] {
  const found = new Set<string>();
  let frontier = [step];
  while (frontier.length) {
    const next = steps.filter(s => !found.has(s.name) && s.needs.some(n => frontier.includes(n))).map(s => s.name);
    next.forEach(n => found.add(n));
    frontier = next;
  }
  return steps.map(s => s.name).filter(n => found.has(n));
}

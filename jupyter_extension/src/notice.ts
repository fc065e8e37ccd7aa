/** What the Lab notification says when a run ends (pure: no DOM, unit-tested). */

import { IRun } from './api';
import { runOutcome } from './runs';
import { errorParts } from './state';

/** What the Lab says when a run ends: the notification's kind and sentence, and what it offers. */
export interface IRunNotice {
  type: 'success' | 'warning' | 'error' | 'info';
  message: string;
  /** The step whose executed notebook it opens (the one that failed), if it has one. */
  notebook: string | null;
  /** A step held its versions back: the notice offers the Quality panel. */
  review: boolean;
}

const FAILED = ['failed', 'timed_out', 'quarantined', 'interrupted'];

/** The notice for a run that has ended: success, warn (it published with warn checks), cancelled, or
 * the first failed step with its error's first line. */
export function runNotice(run: IRun): IRunNotice {
  const outcome = runOutcome(run);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const ran = run.steps.filter(s => s.status !== 'fresh' && s.status !== 'skipped').length;
  if (outcome === 'success') {
    return { type: 'success', message: `Run ${run.run_id} succeeded: ${plural(ran, 'step')} ran.`, notebook: null, review: false };
  }
  if (outcome === 'warn') {
    return { type: 'warning', message: `Run ${run.run_id} succeeded with ${plural(run.warnings, 'warn check')}.`, notebook: null, review: true };
  }
  if (outcome === 'cancelled') {
    return { type: 'info', message: `Run ${run.run_id} was cancelled: nothing its running steps staged became current.`, notebook: null, review: false };
  }
  const failed = run.steps.find(s => FAILED.includes(s.status)) ?? null;
  const error = errorParts(failed?.error ?? run.message);
  const where = failed ? ` in step ${failed.name}${error?.cell ? `, cell ${error.cell}` : ''}` : '';
  const status = failed?.status === 'timed_out' ? 'timed out' : failed?.status === 'quarantined' ? 'held back its versions' : 'failed';
  return {
    type: 'error',
    message: `Run ${run.run_id} ${status}${where}${error ? `: ${error.message}` : '.'}`,
    notebook: failed?.output_notebook ? failed.name : null,
    review: failed?.status === 'quarantined'
  };
}

/** The run form's fields as the CLI's options (-p, --only, --from, --env, --force), checked before asking. */

import { IStartRun } from './models';

export interface IRunForm {
  /** `key=value` texts, one per line (as `-p`). */
  params: string;
  /** Step names, separated by commas or spaces (as `--only`). */
  only: string;
  /** One step name (as `--from`), or ''. */
  from: string;
  env: string;
  force: boolean;
}

/** The request for POST runs, or the one sentence that says what is wrong with the form. */
export function runRequest(form: IRunForm, steps: string[]): IStartRun | string {
  const params = form.params.split('\n').map(p => p.trim()).filter(Boolean);
  const bad = params.find(p => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(p));
  if (bad) {
    return `Parameter "${bad}" is not key=value.`;
  }
  const only = form.only.split(/[\s,]+/).filter(Boolean);
  const from = form.from.trim();
  const unknown = [...only, ...(from ? [from] : [])].find(s => !steps.includes(s));
  if (unknown) {
    return `No step "${unknown}" in the pipeline.`;
  }
  if (only.length && from) {
    return 'Choose --only or --from, not both.';
  }
  const request: IStartRun = { force: form.force, params };
  if (form.env.trim()) {
    request.env = form.env.trim();
  }
  if (only.length) {
    return { ...request, mode: 'only', steps: only };
  }
  return from ? { ...request, mode: 'from', step: from } : { ...request, mode: 'all' };
}

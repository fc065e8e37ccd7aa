/** How values read and names are checked in the panels (pure functions). */

import { IPageVersion } from './api';

/** A profile value as shown: numbers rounded to what a reader compares (counts grouped), text as it is. */
export function statText(value: unknown, count = false): string {
  if (value === null || value === undefined || value === '') {
    return '';
  }
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(value) ? Number(value) : NaN;
  if (Number.isNaN(number)) {
    return String(value);
  }
  return number.toLocaleString('en-US', { maximumFractionDigits: Math.abs(number) >= 100 ? 1 : 3, useGrouping: count });
}

/** The newest version in quarantine when it is newer than the current one (its readers get the older). */
export function quarantinedNewer<V extends Pick<IPageVersion, 'status' | 'created_at'>>(versions: V[]): V | null {
  const current = versions.find(v => v.status === 'current');
  const held = versions.filter(v => v.status === 'quarantined' && (!current || v.created_at > current.created_at));
  return held.sort((a, b) => b.created_at.localeCompare(a.created_at))[0] ?? null;
}

const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Why `name` cannot be a new step ('' when it can). */
export function nameProblem(name: string, steps: string[]): string {
  if (!name) {
    return 'Give the step a name.';
  }
  if (name.length > 128) {
    return 'A step name has at most 128 characters.';
  }
  if (!STEP_NAME.test(name)) {
    return 'A step name starts with a letter or _ and has only letters, digits, _ and -.';
  }
  if (steps.includes(name)) {
    return `The pipeline already has a step '${name}'.`;
  }
  return '';
}

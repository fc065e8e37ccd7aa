/** What the main-area views show, as pure functions of the server's answers (unit-tested). */

import { IRunDatasetDiff } from './api';

export type Sort = { column: string; descending: boolean } | null;

const empty = (v: unknown) => v === null || v === undefined || v === '';

/** Compare two preview values: numbers as numbers, empty values last, text as text. */
export function compareValues(a: unknown, b: unknown): number {
  if (empty(a) || empty(b)) {
    return empty(a) === empty(b) ? 0 : empty(a) ? 1 : -1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** The preview's rows that contain `filter` (in any value, ignoring case), sorted as asked. */
export function shownRows(rows: Record<string, unknown>[], filter: string, sort: Sort): Record<string, unknown>[] {
  const needle = filter.trim().toLowerCase();
  const kept = needle ? rows.filter(row => Object.values(row).some(v => v !== null && v !== undefined && String(v).toLowerCase().includes(needle))) : [...rows];
  if (sort) {
    const sign = sort.descending ? -1 : 1;
    kept.sort((x, y) => {
      const order = compareValues(x[sort.column], y[sort.column]);
      // empty values stay last either way
      return empty(x[sort.column]) || empty(y[sort.column]) ? order : sign * order;
    });
  }
  return kept;
}

function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A parameter table's rows: `STEP.KEY` for a step's own, `KEY` for the run's. */
export function parameterRows(params: Record<string, unknown> | null | undefined): { parameter: string; value: string }[] {
  const rows: { parameter: string; value: string }[] = [];
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value as Record<string, unknown>)) {
        rows.push({ parameter: `${key}.${inner}`, value: valueText(v) });
      }
    } else {
      rows.push({ parameter: key, value: valueText(value) });
    }
  }
  return rows;
}

/** What changed in a dataset between two runs, in a few words. */
export function diffSummary(d: IRunDatasetDiff): string {
  if (!d.differs) {
    return d.a === d.b ? 'same version' : 'same data';
  }
  const parts: string[] = [];
  const rowsA = d.rows?.a;
  const rowsB = d.rows?.b;
  if (rowsA !== rowsB) {
    parts.push(`rows ${rowsA ?? '?'} → ${rowsB ?? '?'}`);
  }
  if (d.changed) {
    parts.push(`${d.changed} changed`);
  }
  if (d.only_in_a) {
    parts.push(`${d.only_in_a} only in A`);
  }
  if (d.only_in_b) {
    parts.push(`${d.only_in_b} only in B`);
  }
  const schema: Record<string, unknown[]> = d.schema_changes ?? {};
  for (const [kind, columns] of Object.entries(schema)) {
    if (columns?.length) {
      parts.push(`${kind.replace('_', ' ')}: ${columns.map(c => (typeof c === 'string' ? c : String((c as any).column))).join(', ')}`);
    }
  }
  const stats = Object.keys(d.stats ?? {});
  if (stats.length) {
    parts.push(`statistics differ: ${stats.join(', ')}`);
  }
  return parts.join(' · ') || 'differs';
}


/** Small DOM helpers: the panels are plain DOM, no framework. */

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | ((event: Event) => void)> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      node.addEventListener(key.replace(/^on/, ''), value);
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

export function clear(node: HTMLElement, ...children: Child[]): void {
  node.replaceChildren();
  for (const child of children) {
    if (child) {
      node.append(child);
    }
  }
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '';
  }
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function when(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

/** The colour family of a status: every colour comes from the theme's variables (see style/base.css). */
const TONES: Record<string, string> = {
  success: 'ok', pass: 'ok', fresh: 'ok', current: 'ok', ok: 'ok', accepted: 'ok',
  warn: 'warn', quarantined: 'bad',
  failed: 'bad', error: 'bad', timed_out: 'bad',
  running: 'info', pending: 'info', staged: 'info',
  skipped: 'muted', interrupted: 'muted', stale: 'muted', never_ran: 'muted', superseded: 'muted'
};

export function tone(status: string): string {
  return TONES[status] ?? 'muted';
}

export function badge(status: string | null, label?: string): HTMLElement {
  const key = (status ?? 'never_ran').replace(/[^a-z_]/g, '');
  return h('span', { class: `jp-DataOps-badge jp-DataOps-tone-${tone(key)}`, 'data-status': key }, label ?? (status ?? 'never ran').replace('_', ' '));
}

/** A table cell's content: an element as it is, any other value as text. */
export function cellOf(value: unknown): Node | string {
  return value instanceof Node ? value : value === null || value === undefined ? '' : String(value);
}

export function table(columns: string[], rows: Record<string, unknown>[]): HTMLTableElement {
  return h(
    'table',
    { class: 'jp-DataOps-table' },
    h('thead', {}, h('tr', {}, ...columns.map(c => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...rows.map(row =>
        h('tr', {}, ...columns.map(c => h('td', {}, cellOf(row[c]))))
      )
    )
  );
}

/**
 * The dataset page in the main area (`dataops:open-dataset` {name}): what the dataset is (description,
 * owner, tags), its schema with descriptions and PII marks and its profile, its quality history, its
 * versions with their environment, its lineage as a small graph, a masked preview to sort and filter,
 * and "Insert code". Plain DOM and inline SVG, coloured by the theme's variables only.
 */

import { Widget } from '@lumino/widgets';

import { IDatasetPage, ILineageRef } from './api';
import { checkBadges, checkCounts, history, insertCode, lineageNames, schemaRows } from './catalog';
import { IPanelContext, messageOf } from './context';
import { svg } from './charts';
import { badge, cellOf, clear, h, table, when } from './dom';
import { quarantinedNewer } from './format';
import { shownRows, Sort } from './viewdata';

/** What a main-area view uses of the workspace. */
export type IViewContext = Pick<IPanelContext, 'api' | 'notebooks' | 'openExecuted' | 'openDataset' | 'openRun'>;

/** The id of a dataset page's tab is this and the dataset's name. */
export const DATASET_VIEW = 'dataops-dataset:';

/** Rows the page's preview asks for (sorted and filtered in the page). */
export const PREVIEW_ROWS = 100;

const NODE_W = 190;
const NODE_H = 26;
const GAP_X = 70;
const GAP_Y = 10;

/** Shorten a label to what a node holds (its full text is the node's tooltip). */
function fit(text: string, chars = 27): string {
  return text.length > chars ? text.slice(0, chars - 1) + '…' : text;
}

function versionTone(status: string): string {
  return status === 'current' ? 'ok' : status === 'quarantined' ? 'bad' : status === 'staged' ? 'info' : 'muted';
}

/**
 * The dataset between what it is derived from (left) and what reads it (right), each a node that
 * opens its own page; edges as curves into and out of the dataset's node.
 */
export function lineageGraph(name: string, upstream: ILineageRef[], downstream: ILineageRef[], open: (name: string) => void): SVGElement {
  const rows = Math.max(upstream.length, downstream.length, 1);
  const height = rows * (NODE_H + GAP_Y) + GAP_Y;
  const width = 3 * NODE_W + 2 * GAP_X + 4;
  const chart = svg('svg', {
    class: 'jp-DataOps-graph jp-DataOps-lineage', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `Lineage of ${name}: ${upstream.length} upstream, ${downstream.length} downstream`, 'data-testid': 'dataops-lineage-graph'
  });
  const centre = { x: 2 + NODE_W + GAP_X, y: (height - NODE_H) / 2 };
  const column = (items: ILineageRef[]) => {
    const top = (height - items.length * (NODE_H + GAP_Y) + GAP_Y) / 2;
    return items.map((item, index) => ({ item, y: top + index * (NODE_H + GAP_Y) }));
  };
  const node = (x: number, y: number, label: string, status: string, side: string, title: string) => {
    const group = svg('g', {
      class: `jp-DataOps-node jp-DataOps-lnode jp-DataOps-tone-${side === 'self' ? 'info' : versionTone(status)}`,
      'data-testid': 'dataops-lineage-node', 'data-dataset': label, 'data-side': side, transform: `translate(${x},${y})`,
      ...(side === 'self' ? {} : { tabindex: 0, role: 'link' })
    },
    svg('rect', { width: NODE_W, height: NODE_H, rx: 5 }),
    svg('text', { x: 8, y: NODE_H / 2 + 4 }, fit(label)),
    svg('title', {}, title));
    if (side !== 'self') {
      group.addEventListener('click', () => open(label));
      group.addEventListener('keydown', event => (event as KeyboardEvent).key === 'Enter' && open(label));
    }
    chart.append(group);
  };
  const edge = (x1: number, y1: number, x2: number, y2: number) => {
    const mid = (x1 + x2) / 2;
    chart.append(svg('path', { class: 'jp-DataOps-edge', d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
  };
  const cy = centre.y + NODE_H / 2;
  for (const { item, y } of column(upstream)) {
    edge(2 + NODE_W, y + NODE_H / 2, centre.x, cy);
    node(2, y, item.dataset, item.status, 'upstream', `${item.dataset} ${item.version} (${item.status}): open its page`);
  }
  for (const { item, y } of column(downstream)) {
    const x = centre.x + NODE_W + GAP_X;
    edge(centre.x + NODE_W, cy, x, y + NODE_H / 2);
    node(x, y, item.dataset, item.status, 'downstream', `${item.dataset} ${item.version} (${item.status}): open its page`);
  }
  node(centre.x, centre.y, name, 'current', 'self', name);
  return chart;
}

/** The preview: click a header to sort by it (again: the other way), type to keep matching rows. */
class Preview {
  readonly node = h('div', { class: 'jp-DataOps-preview', 'data-testid': 'dataops-preview' });
  private sort: Sort = null;
  private body = h('tbody', {});
  private head = h('tr', {});
  private count = h('span', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-preview-count' });
  private filter = h('input', { class: 'jp-DataOps-search jp-DataOps-filter', type: 'search', placeholder: 'Filter rows', 'aria-label': 'Filter the preview rows', 'data-testid': 'dataops-preview-filter' });

  constructor(private rows: Record<string, unknown>[], private masked: string[]) {
    this.filter.addEventListener('input', () => this.render());
    const columns = rows.length ? Object.keys(rows[0]) : [];
    this.node.append(
      h('div', { class: 'jp-DataOps-toolbar' }, this.filter, this.count),
      h('div', { class: 'jp-DataOps-scroll' }, h('table', { class: 'jp-DataOps-table jp-DataOps-sortable' }, h('thead', {}, this.head), this.body))
    );
    clear(this.head, ...columns.map(column => h('th', {
      'data-testid': 'dataops-preview-header', 'data-column': column, tabindex: '0', role: 'columnheader',
      title: `Sort by ${column}`, onclick: () => this.sortBy(column),
      onkeydown: (event: Event) => (event as KeyboardEvent).key === 'Enter' && this.sortBy(column)
    }, column, masked.includes(column) ? h('span', { class: 'jp-DataOps-pii', title: 'PII: its values are masked for you' }, 'PII') : null,
      h('span', { class: 'jp-DataOps-sortmark' }))));
    this.render();
  }

  private sortBy(column: string): void {
    this.sort = this.sort?.column === column ? { column, descending: !this.sort.descending } : { column, descending: false };
    this.render();
  }

  private render(): void {
    for (const th of Array.from(this.head.children) as HTMLElement[]) {
      const sorted = this.sort?.column === th.dataset.column;
      th.setAttribute('aria-sort', sorted ? (this.sort!.descending ? 'descending' : 'ascending') : 'none');
      th.querySelector('.jp-DataOps-sortmark')!.textContent = sorted ? (this.sort!.descending ? ' ▼' : ' ▲') : '';
    }
    const columns = (Array.from(this.head.children) as HTMLElement[]).map(th => th.dataset.column!);
    const rows = shownRows(this.rows, this.filter.value, this.sort);
    clear(this.body, ...rows.map(row => h('tr', { 'data-testid': 'dataops-preview-row' }, ...columns.map(c =>
      h('td', this.masked.includes(c) ? { class: 'jp-DataOps-masked' } : {}, cellOf(row[c]))))));
    this.count.textContent = rows.length === this.rows.length ? `${rows.length} rows` : `${rows.length} of ${this.rows.length} rows`;
  }
}

/** A view in the main area: a closable tab drawn from one answer of the server, drawn again on `load`. */
export abstract class MainAreaView extends Widget {
  private content = h('div', { class: 'jp-DataOps-viewbody' });
  private message = h('div', { class: 'jp-DataOps-message', role: 'alert', 'data-testid': 'dataops-view-message' });

  constructor(protected context: IViewContext, id: string, label: string, caption: string, data: Record<string, string>) {
    super();
    this.id = id;
    this.addClass('jp-DataOps');
    this.addClass('jp-DataOps-view');
    this.title.label = label;
    this.title.caption = caption;
    this.title.closable = true;
    Object.assign(this.node.dataset, data);
    this.node.append(this.message, this.content);
  }

  /** Ask the server again and draw the view (`data-ready` once drawn). */
  async load(): Promise<void> {
    try {
      clear(this.content, await this.draw());
      this.say('');
      this.node.dataset.ready = 'true';
    } catch (error) {
      this.say(messageOf(error));
    }
  }

  protected abstract draw(): Promise<HTMLElement>;

  /** Show a refusal or failure above the view ('' hides it). */
  protected say(text: string): void {
    clear(this.message, text);
    this.message.classList.toggle('jp-mod-visible', Boolean(text));
  }
}

/** A dataset's page in the main area. */
export class DatasetView extends MainAreaView {
  constructor(context: IViewContext, readonly datasetName: string) {
    super(context, DATASET_VIEW + datasetName, datasetName, `Dataset ${datasetName}`, { testid: 'dataops-dataset-view', dataset: datasetName });
  }

  protected async draw(): Promise<HTMLElement> {
    return this.render(await this.context.api.dataset(this.datasetName, PREVIEW_ROWS));
  }

  private render(page: IDatasetPage): HTMLElement {
    const name = this.datasetName;
    const versions = page.versions;
    const held = quarantinedNewer(versions);
    const notebook = page.notebook?.exists ? page.notebook : null;
    const byName = new Map(page.columns.map(c => [c.name, c]));
    const schema = schemaRows(page).map(row => {
      const column = byName.get(row.column);
      return {
        ...row,
        pii: column?.pii
          ? h('span', { class: 'jp-DataOps-pii', 'data-testid': 'dataops-pii-mark', title: column.masked ? 'PII: masked for you' : 'PII: you may see its values' },
              column.masked ? 'PII · masked' : 'PII')
          : ''
      };
    });
    const preview = page.preview;
    const link = (other: string) => h('a', { class: 'jp-DataOps-link', href: '#', 'data-testid': 'dataops-view-lineage-link', onclick: (e: Event) => { e.preventDefault(); this.context.openDataset(other); } }, other);
    return h('div', { class: 'jp-DataOps-datasetview' },
      h('h2', {}, name, ' ', badge(page.quality.status, held ? `${page.quality.status ?? 'no checks'} (current version)` : undefined)),
      held ? h('p', { class: 'jp-DataOps-note', 'data-testid': 'dataops-quarantined-newer' },
        `A newer version, ${held.version}, is in quarantine: readers still get the current one.`) : null,
      h('p', { 'data-testid': 'dataops-view-description' }, page.description || 'No description.'),
      h('dl', { class: 'jp-DataOps-facts', 'data-testid': 'dataops-view-facts' },
        h('dt', {}, 'Owner'), h('dd', {}, page.owner ?? '—'),
        h('dt', {}, 'Tags'), h('dd', {}, ...page.tags.map(t => h('span', { class: 'jp-DataOps-chip', 'data-testid': 'dataops-view-tag' }, t))),
        h('dt', {}, 'Environment'), h('dd', {}, `${page.environment}${page.base ? ` (reads the rest from ${page.base})` : ''}`),
        h('dt', {}, 'Published by'), h('dd', {}, page.published_by ? `step ${page.published_by}` : 'no step of the pipeline'),
        h('dt', {}, 'Current version'), h('dd', {}, page.current_version ? `${page.current_version.version} · ${page.current_version.rows ?? '?'} rows` : 'none')),
      h('div', { class: 'jp-DataOps-toolbar' },
        h('button', { class: 'jp-mod-styled jp-mod-accept', 'data-testid': 'dataops-view-insert-code', title: 'Insert the code that reads it below the active cell of the current notebook',
          onclick: () => insertCode({ notebooks: this.context.notebooks, report: error => this.say(messageOf(error)) }, name) }, 'Insert code'),
        notebook ? h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-view-open-notebook', onclick: () => this.context.openExecuted(notebook.run_id, notebook.step) }, 'Executed notebook') : null,
        h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-view-refresh', onclick: () => void this.load() }, 'Refresh')),
      h('h3', {}, 'Schema and profile'),
      h('div', { class: 'jp-DataOps-scroll', 'data-testid': 'dataops-view-schema' },
        table(['column', 'type', 'description', 'pii', 'tags', 'nulls', 'distinct', 'min', 'max'], schema)),
      h('p', { class: 'jp-DataOps-muted' }, '≈ distinct counts are estimates (HyperLogLog); min and max are rounded.'),
      h('h3', {}, 'Quality'),
      checkBadges(page),
      history(page),
      h('h3', {}, 'Versions'),
      h('div', { class: 'jp-DataOps-scroll', 'data-testid': 'dataops-view-versions' },
        table(['version', 'status', 'environment', 'current in', 'rows', 'checks', 'created', 'run'], versions.map(v => ({
          version: v.version, status: badge(v.status), environment: v.environment, 'current in': v.current_in.join(', '),
          rows: v.rows ?? '', checks: checkCounts(v, ' · '),
          created: when(v.created_at), run: v.run_id ? h('a', { class: 'jp-DataOps-link', href: '#', 'data-testid': 'dataops-view-version-run',
            onclick: (e: Event) => { e.preventDefault(); this.context.openRun(v.run_id!); } }, v.run_id) : ''
        })))),
      h('h3', {}, 'Lineage'),
      h('div', { class: 'jp-DataOps-scroll' }, lineageGraph(name, page.upstream, page.downstream, other => this.context.openDataset(other))),
      h('p', { class: 'jp-DataOps-muted' }, 'Upstream: ', ...lineageNames(page.upstream).flatMap(u => [link(u), ' ']), '· Downstream: ',
        ...lineageNames(page.downstream).flatMap(d => [link(d), ' '])),
      h('h3', {}, 'Preview'),
      preview.notice ? h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-preview-notice' }, preview.notice) : null,
      preview.masked_columns.length
        ? h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-preview-masked' }, `Masked for ${preview.user}: ${preview.masked_columns.join(', ')}.`)
        : null,
      preview.rows.length ? new Preview(preview.rows, preview.masked_columns).node
        : preview.notice ? null : h('p', { class: 'jp-DataOps-muted' }, 'No rows to preview.')
    );
  }
}

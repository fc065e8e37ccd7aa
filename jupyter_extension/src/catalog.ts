import { NotebookActions } from '@jupyterlab/notebook';

import { IColumnTag, IDatasetPage, ILineageRef, IPageVersion } from './api';
import { IPanelContext, ISection } from './context';
import { badge, clear, h, table } from './dom';
import { datasetDiffSection } from './environments';
import { quarantinedNewer, statText } from './format';
import { bars, gauge, strip } from './charts';

/** The page's history: row counts and check outcomes per version (oldest first), and freshness. */
export function history(page: IDatasetPage): HTMLElement | null {
  const versions = [...page.versions].reverse().slice(-30);
  const fresh = page.freshness;
  const sla = fresh.sla;
  if (!versions.length) {
    return null;
  }
  const outcome = (v: IPageVersion) => (v.checks.error ? 'error' : v.checks.warn ? 'warn' : v.checks.pass ? 'pass' : 'none');
  const counts = (v: IPageVersion) => checkCounts(v, ', ');
  return h('div', { class: 'jp-DataOps-history', 'data-testid': 'dataops-dataset-history' },
    h('div', { class: 'jp-DataOps-chartrow' }, h('span', { class: 'jp-DataOps-muted' }, 'Rows per version'),
      bars(versions.map(v => ({ value: Number(v.rows ?? 0), tone: v.status === 'quarantined' ? 'bad' : v.status === 'current' ? 'ok' : 'info',
        label: `${v.version}: ${v.rows ?? '?'} rows (${v.status}, ${v.created_at})` })), { label: 'Row counts per version', testid: 'dataops-rows-chart' })),
    h('div', { class: 'jp-DataOps-chartrow' }, h('span', { class: 'jp-DataOps-muted' }, 'Checks per version'),
      strip(versions.map(v => ({ outcome: outcome(v), label: `${v.version}: ${counts(v)}` })), 'dataops-checks-strip')),
    fresh.age_s !== null
      ? h('div', { class: 'jp-DataOps-chartrow' }, h('span', { class: 'jp-DataOps-muted' }, 'Freshness'),
          gauge(fresh.age_s, sla?.warn_after ?? null, sla?.error_after ?? null, fresh.status, 'dataops-freshness-chart'))
      : null);
}

/** The snippet "insert code" puts into the active notebook. */
export function readSnippet(name: string): string {
  return `import dataops_nb as dn\n\n${name.split('.').pop()} = dn.read("${name}")\n${name.split('.').pop()}.head()`;
}

/** Put the code that reads `name` below the active cell of the current notebook. */
export function insertCode(context: Pick<IPanelContext, 'notebooks' | 'report'>, name: string): void {
  const panel = context.notebooks.currentWidget;
  if (!panel) {
    context.report(new Error('Open a notebook first: the code goes into the active notebook.'));
    return;
  }
  NotebookActions.insertBelow(panel.content);
  panel.content.activeCell?.model.sharedModel.setSource(readSnippet(name));
}

/** A version's check outcomes in a few words: `2 pass, 1 warn, 0 error`. */
export function checkCounts(v: IPageVersion, separator: string): string {
  return [`${v.checks.pass} pass`, `${v.checks.warn} warn`, `${v.checks.error} error`].join(separator);
}

/** The schema's rows as shown: descriptions, tags, and the profile (≈ distinct, rounded min/max). */
export function schemaRows(page: IDatasetPage): Record<string, string>[] {
  return page.columns.map(c => ({
    column: c.name, type: c.type ?? '', description: c.description ?? '', tags: c.tags.map(tagText).join(', '),
    nulls: statText(c.profile?.null_count, true),
    distinct: c.profile?.approx_distinct === null || c.profile?.approx_distinct === undefined ? '' : `≈ ${statText(c.profile.approx_distinct, true)}`,
    min: statText(c.profile?.min), max: statText(c.profile?.max)
  }));
}

/** The names of a page's upstream or downstream datasets. */
export function lineageNames(list: ILineageRef[]): string[] {
  return list.map(item => item.dataset);
}

/** The latest result of each check, as badges (each check's message as its tooltip). */
export function checkBadges(page: IDatasetPage): HTMLElement {
  const checks = page.quality.checks;
  return checks.length
    ? h('div', { class: 'jp-DataOps-badges', 'data-testid': 'dataops-quality' }, ...checks.map(c => h('span', { title: c.message ?? '' }, badge(c.status), ` ${c.check} `)))
    : h('p', { class: 'jp-DataOps-muted' }, 'No checks recorded.');
}

/** A column tag as shown: `pii`, or `pii (auto, email, 0.98)` for a classifier's tag. */
export function tagText(tag: IColumnTag): string {
  return tag.source === 'auto' ? `${tag.tag} (auto, ${tag.kind ?? '?'}, ${(tag.confidence ?? 0).toFixed(2)})` : tag.tag;
}

/** Search as you type; a dataset page with schema, quality, versions and lineage links. */
export class CatalogSection implements ISection {
  readonly id = 'catalog';
  readonly label = 'Catalog';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-catalog' });
  private input = h('input', { class: 'jp-DataOps-search', type: 'search', placeholder: 'Search datasets (tag:x owner:y pii:yes)', 'data-testid': 'dataops-catalog-search' });
  private results = h('div', {});
  private page = h('div', {});
  private timer = 0;
  private sequence = 0;
  private shown: string | null = null;
  environment: string | null = null;

  constructor(private context: IPanelContext) {
    this.input.addEventListener('input', () => {
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => void this.search(), 120);
    });
    this.node.append(this.input, this.results, this.page);
  }

  async refresh(): Promise<void> {
    if (!this.results.childElementCount) {
      await this.search();
    }
    if (this.shown && this.context.api.env && this.environment !== this.context.api.env) {
      await this.show(this.shown); // another environment was chosen: its page, its diff
    }
  }

  async search(): Promise<void> {
    const ticket = ++this.sequence;
    const hits = (await this.context.api.search(this.input.value)).items;
    if (ticket !== this.sequence) {
      return; // a newer query answered first
    }
    clear(
      this.results,
      hits.length
        ? h('ul', { class: 'jp-DataOps-list' }, ...hits.map(hit =>
            h('li', {}, h('div', { class: 'jp-DataOps-hit jp-DataOps-clickable', 'data-testid': 'dataops-hit', 'data-dataset': hit.name, onclick: () => void this.show(hit.name) },
              h('strong', {}, hit.name), h('span', { class: 'jp-DataOps-muted' }, ` ${hit.owner ?? ''}`),
              h('button', { class: 'jp-DataOps-open', 'data-testid': 'dataops-hit-open', title: `Open the page of ${hit.name} in the main area`,
                onclick: (e: Event) => { e.stopPropagation(); this.context.openDataset(hit.name); } }, 'page ↗'),
              h('div', { class: 'jp-DataOps-muted' }, hit.description))))
          )
        : h('p', { class: 'jp-DataOps-muted' }, 'No dataset matches.')
    );
  }

  async show(name: string): Promise<void> {
    try {
      const page = await this.context.api.dataset(name);
      this.shown = name;
      this.environment = page.environment;
      const diff = h('div', {});
      clear(this.page, this.render(page), diff);
      clear(diff, await datasetDiffSection(this.context.api, name, page.environment, page.base ?? null));
    } catch (error) {
      this.context.report(error);
    }
  }

  private render(page: IDatasetPage): HTMLElement {
    const name = page.name;
    const columns = schemaRows(page);
    const names = lineageNames;
    const link = (other: string) => h('a', { class: 'jp-DataOps-link', 'data-testid': 'dataops-lineage-link', href: '#', onclick: (e: Event) => { e.preventDefault(); void this.show(other); } }, other);
    const versions = page.versions;
    const held = quarantinedNewer(versions);
    const preview = page.preview.rows;
    const notebook = page.notebook?.exists ? page.notebook : null;
    return h(
      'div',
      { class: 'jp-DataOps-card', 'data-testid': 'dataops-dataset-page', 'data-dataset': name },
      h('h3', {}, name, ' ', badge(page.quality.status, held ? `${page.quality.status ?? 'no checks'} (current version)` : undefined)),
      held
        ? h('p', { class: 'jp-DataOps-note', 'data-testid': 'dataops-quarantined-newer' },
            `A newer version, ${held.version}, is in quarantine: readers still get the current one. `,
            h('a', { class: 'jp-DataOps-link', href: '#', onclick: (e: Event) => { e.preventDefault(); this.context.showQuality(); } }, 'Review it'))
        : null,
      h('p', {}, page.description || ''),
      h('p', { class: 'jp-DataOps-muted' }, `owner: ${page.owner ?? '—'} · tags: ${page.tags.join(', ') || '—'}`),
      h('p', { class: 'jp-DataOps-muted' }, 'freshness: ', badge(page.freshness.status), page.freshness.age_s !== null ? ` ${Math.round(page.freshness.age_s / 3600)} h old` : ''),
      h('div', { class: 'jp-DataOps-toolbar' },
        h('button', { class: 'jp-mod-styled jp-mod-accept', 'data-testid': 'dataops-insert-code', onclick: () => insertCode(this.context, name) }, 'Insert code'),
        h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-open-dataset-page', title: 'Open the dataset page in the main area', onclick: () => this.context.openDataset(name) }, 'Open page ↗'),
        notebook ? h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-open-notebook', onclick: () => this.context.openExecuted(notebook.run_id, notebook.step) }, 'Executed notebook') : null),
      h('h4', {}, 'Schema'),
      h('div', { class: 'jp-DataOps-scroll', 'data-testid': 'dataops-schema' },
        table(['column', 'type', 'description', 'tags', 'nulls', 'distinct', 'min', 'max'], columns)),
      h('p', { class: 'jp-DataOps-muted' }, '≈ distinct counts are estimates (HyperLogLog).'),
      h('h4', {}, 'Quality'),
      checkBadges(page),
      h('h4', {}, 'Lineage'),
      h('div', { 'data-testid': 'dataops-upstream' }, 'Upstream: ', ...names(page.upstream).flatMap(u => [link(u), ' '])),
      h('div', { 'data-testid': 'dataops-downstream' }, 'Downstream: ', ...names(page.downstream).flatMap(d => [link(d), ' '])),
      h('h4', {}, 'Versions'),
      history(page),
      table(['version', 'status', 'rows', 'created_at'], versions.map(v => ({ version: v.version, status: v.status, rows: v.rows, created_at: v.created_at }))),
      preview.length || page.preview.notice ? h('h4', {}, 'Preview') : null,
      page.preview.notice ? h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-preview-notice' }, page.preview.notice) : null,
      preview.length ? table(Object.keys(preview[0]), preview) : null
    );
  }
}

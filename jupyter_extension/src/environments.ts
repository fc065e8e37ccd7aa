/**
 * Environments in the sidebar: the selector every panel reads through (`?env=`, remembered per
 * project across reloads), the line saying which environment a panel shows, the promotion of
 * the selected environment into its base (plan, confirmation, result) and a dataset's diff
 * against the base.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { DataOpsClient, IDatasetDiff, IEnvironmentList, IPromotion } from './api';
import { badge, clear, h, table } from './dom';
import { chooseEnvironment, environmentLabel, planSummary, shownText } from './envformat';
import { IPromotionMove } from './models';

const REMEMBERED = 'dataops-nb:environment:';

function remembered(project: string): string | null {
  try {
    return window.localStorage.getItem(REMEMBERED + project);
  } catch {
    return null;
  }
}

function remember(project: string, name: string): void {
  try {
    window.localStorage.setItem(REMEMBERED + project, name);
  } catch {
    // private browsing: the choice lasts until the page reloads
  }
}

/** The selector, the "what this panel shows" line, and "Promote to <base>…". */
export class EnvironmentBar {
  readonly node = h('div', { class: 'jp-DataOps-envbar', 'data-testid': 'dataops-envbar' });
  private select = h('select', { class: 'jp-DataOps-envselect', 'data-testid': 'dataops-env-select', 'aria-label': 'Environment' });
  private shown = h('div', { class: 'jp-DataOps-muted jp-DataOps-envshown', 'data-testid': 'dataops-env-shown' });
  private promoteButton = h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-promote' }, 'Promote…');
  private why = h('span', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-promote-why' });
  private result = h('div', { 'data-testid': 'dataops-promote-result', 'aria-live': 'polite' });
  private list: IEnvironmentList | null = null;
  private plan: IPromotion | null = null;

  constructor(
    private api: DataOpsClient,
    private changed: () => void,
    private report: (error: unknown) => void
  ) {
    this.select.addEventListener('change', () => void this.choose(this.select.value));
    this.promoteButton.addEventListener('click', () => void this.promote());
    this.node.append(
      h('div', { class: 'jp-DataOps-row' }, h('label', { class: 'jp-DataOps-muted' }, 'Environment'), this.select),
      h('div', { class: 'jp-DataOps-row jp-DataOps-envpromote' }, this.promoteButton, this.why),
      this.shown, this.result
    );
  }

  /** The environment the panels read (null until the list is loaded: the default one). */
  get selected(): string | null {
    return this.api.env;
  }

  baseOf(name: string | null): string | null {
    const env = this.list?.items.find(e => e.environment === (name ?? this.list?.default));
    return env?.base ?? null;
  }

  /** Fetch the environments and select the remembered one (the client reads it from then on). */
  async load(): Promise<void> {
    const list = await this.api.environments();
    this.list = list;
    const name = chooseEnvironment(list, this.api.env ?? remembered(this.api.project));
    clear(this.select, ...list.items.map(env => {
      const option = h('option', { value: env.environment, title: env.base ? `reads what it does not build from ${env.base}` : 'the default environment' }, environmentLabel(env));
      option.selected = env.environment === name;
      return option;
    }));
    this.api.env = name;
    await this.loadPlan();
  }

  async choose(name: string): Promise<void> {
    this.api.env = name;
    remember(this.api.project, name);
    clear(this.result);
    this.report(null);
    this.changed();
    try {
      await this.loadPlan();
    } catch (error) {
      this.report(error);
    }
  }

  /** Say which environment the panel on show answered for. */
  shows(panel: string, environment: string | null | undefined): void {
    const name = environment ?? this.api.env ?? this.list?.default ?? '';
    this.shown.textContent = name ? shownText(panel, name, this.baseOf(name)) : '';
    this.shown.dataset.environment = name;
  }

  /** The plan decides the button: nothing to promote, not allowed (and why), or how many. */
  private async loadPlan(): Promise<void> {
    const name = this.api.env;
    const base = this.baseOf(name);
    this.plan = null;
    this.promoteButton.hidden = !base;
    this.promoteButton.parentElement!.style.display = base ? '' : 'none';
    this.why.textContent = '';
    if (!name || !base) {
      return;
    }
    this.promoteButton.textContent = `Promote to ${base}…`;
    this.promoteButton.disabled = true;
    const plan = await this.api.promotion(name, base);
    if (this.api.env !== name) {
      return; // another environment was chosen meanwhile
    }
    this.plan = plan;
    let why = '';
    if (plan.may_promote === false) {
      why = plan.denied ?? `You may not promote to ${base}.`;
    } else if (!plan.moves.length) {
      why = planSummary(plan);
    }
    this.promoteButton.disabled = Boolean(why);
    this.promoteButton.title = why || `Show what promoting ${name} to ${base} changes, then confirm`;
    this.why.textContent = why;
  }

  private async promote(): Promise<void> {
    const plan = this.plan;
    if (!plan || !plan.moves.length) {
      return;
    }
    const force = h('input', { type: 'checkbox', 'data-testid': 'dataops-promote-force' });
    const forcible = plan.moves.some(m => m.problem && m.forcible);
    const body = new Widget({ node: promotionBody(plan, forcible ? force : null) });
    const result = await showDialog({
      title: `Promote ${plan.from} to ${plan.to}?`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: `Promote ${plan.moves.length} dataset${plan.moves.length > 1 ? 's' : ''}` })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      const done = await this.api.promote(plan.from, { to: plan.to, force: force.checked });
      this.report(null);
      clear(this.result, h('div', { class: 'jp-DataOps-notice' },
        `Promoted ${done.from} to ${done.to}: ${done.moves.map(m => m.dataset).join(', ')} current in ${done.to} now.`));
      await this.load();
      this.changed();
    } catch (error) {
      clear(this.result);
      this.report(error);
    }
  }
}

function shortVersion(version: string | null): string {
  return version ? version.split('@').pop()! : '—';
}

function checksText(move: IPromotionMove): string {
  const parts = Object.entries(move.checks).filter(([, n]) => n).map(([status, n]) => `${n} ${status}`);
  return parts.join(', ') || 'no checks';
}

/** The confirmation's body: each dataset, the version the target has and gets, its checks and any problem. */
export function promotionBody(plan: IPromotion, force: HTMLInputElement | null): HTMLElement {
  const rows = plan.moves.map(m => h('tr', { 'data-testid': 'dataops-promote-move', 'data-dataset': m.dataset },
    h('td', {}, m.dataset), h('td', {}, shortVersion(m.from)), h('td', {}, shortVersion(m.to)), h('td', {}, checksText(m)),
    h('td', {}, m.problem ? badge(m.forcible ? 'warn' : 'error', m.problem) : 'ok')));
  const refused = plan.moves.filter(m => m.problem && !m.forcible);
  return h('div', { class: 'jp-DataOps-promotion', 'data-testid': 'dataops-promote-plan' },
    h('p', {}, planSummary(plan)),
    h('table', { class: 'jp-DataOps-table' },
      h('thead', {}, h('tr', {}, ...['dataset', `${plan.to} has`, 'gets', 'checks', 'problem'].map(c => h('th', {}, c)))),
      h('tbody', {}, ...rows)),
    refused.length
      ? h('p', { class: 'jp-DataOps-note' }, `Refused whatever you choose: ${refused.map(m => `${m.dataset} (${m.problem})`).join('; ')}.`)
      : null,
    force
      ? h('label', { class: 'jp-DataOps-row' }, force, `Promote even where the inputs moved on in ${plan.to} (force)`)
      : null);
}

/** A dataset as the selected environment reads it against its base: schema, counts, a sample of changed rows. */
export function diffView(diff: IDatasetDiff): HTMLElement {
  const parts: (HTMLElement | null)[] = [];
  if (diff.same_version) {
    parts.push(h('p', { 'data-testid': 'dataops-diff-summary' }, `Same version as ${diff.against}: ${diff.environment} reads it from there.`));
  } else if (diff.only_in) {
    const where = diff.only_in === 'a' ? diff.against : diff.environment;
    parts.push(h('p', { 'data-testid': 'dataops-diff-summary' }, `Only ${where} has it.`));
  } else {
    const keyed = diff.key?.length;
    const summary = keyed
      ? `${diff.changed ?? 0} changed, ${diff.only_in_b ?? 0} only in ${diff.environment}, ${diff.only_in_a ?? 0} only in ${diff.against} (key ${diff.key!.join(', ')})`
      : `${diff.only_in_b ?? 0} rows only in ${diff.environment}, ${diff.only_in_a ?? 0} only in ${diff.against} (no key declared: rows compared whole)`;
    parts.push(h('p', { 'data-testid': 'dataops-diff-summary' }, diff.differs ? summary : 'No differences.'));
    parts.push(h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-diff-rows' },
      `rows: ${diff.rows.a ?? '—'} in ${diff.against} → ${diff.rows.b ?? '—'} in ${diff.environment}`));
  }
  const schema = diff.schema;
  const changes = schema
    ? [...schema.added.map(c => `+ ${c}`), ...schema.removed.map(c => `− ${c}`), ...schema.type_changed.map(t => `${t.column}: ${t.a} → ${t.b}`)]
    : [];
  if (changes.length) {
    parts.push(h('p', { 'data-testid': 'dataops-diff-schema' }, 'Schema: ', changes.join(', ')));
  }
  const columns = Object.entries(diff.changed_columns ?? {});
  if (columns.length) {
    parts.push(h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-diff-columns' },
      'Changed columns: ', columns.map(([c, n]) => `${c} (${n})`).join(', ')));
  }
  const sample = diff.sample ?? [];
  if (sample.length) {
    parts.push(h('div', { class: 'jp-DataOps-scroll', 'data-testid': 'dataops-diff-sample' }, table(Object.keys(sample[0]), sample)));
  }
  return h('div', { 'data-testid': 'dataops-diff', 'data-differs': String(diff.differs) },
    h('h4', {}, `Compared with ${diff.against}`), ...parts);
}

/** The diff section of a dataset page: against the page's base, or why there is none. */
export async function datasetDiffSection(api: DataOpsClient, dataset: string, environment: string, base: string | null): Promise<HTMLElement> {
  if (!base) {
    return h('div', { 'data-testid': 'dataops-diff' }, h('h4', {}, 'Compared with its base'),
      h('p', { class: 'jp-DataOps-muted' }, `${environment} is the default environment: choose another environment to compare it with this one.`));
  }
  try {
    return diffView(await api.datasetDiff(dataset, base));
  } catch (error) {
    return h('div', { 'data-testid': 'dataops-diff' }, h('h4', {}, `Compared with ${base}`),
      h('p', { class: 'jp-DataOps-muted' }, error instanceof Error ? error.message : String(error)));
  }
}

import { IDecision, IFailure, IQuarantined } from './api';
import { IPanelContext, ISection } from './context';
import { badge, clear, h } from './dom';
import { downstream } from './state';

/** One card: a version (quarantined, or current with open failures) and its checks. */
export interface IVersionCard {
  dataset: string;
  version: string;
  status: string;
  step: string | null;
  rows: number | null;
  checks: IFailure[];
}

/** Group open failures and quarantined versions into one card per version, quarantined first. */
export function versionCards(quarantined: IQuarantined[], failures: IFailure[]): IVersionCard[] {
  const cards = new Map<string, IVersionCard>();
  for (const q of quarantined) {
    cards.set(q.version, { dataset: q.dataset, version: q.version, status: 'quarantined', step: q.step, rows: q.rows, checks: [] });
  }
  for (const f of failures) {
    const card = cards.get(f.version) ?? { dataset: f.dataset, version: f.version, status: f.version_status, step: f.step, rows: f.rows, checks: [] };
    card.checks.push(f);
    cards.set(f.version, card);
  }
  const order = (c: IVersionCard) => (c.status === 'quarantined' ? 0 : 1);
  return [...cards.values()].sort((a, b) => order(a) - order(b));
}

/** A failing sample with the failing column first (and marked). */
export function sampleTable(sample: Record<string, unknown>[], column: string | null): HTMLTableElement {
  const columns = Object.keys(sample[0] ?? {});
  const ordered = column && columns.includes(column) ? [column, ...columns.filter(c => c !== column)] : columns;
  const cell = (tag: 'th' | 'td', c: string, text: string) =>
    h(tag, c === column ? { class: 'jp-DataOps-failing', 'data-testid': 'dataops-failing-column' } : {}, text);
  return h(
    'table',
    { class: 'jp-DataOps-table' },
    h('thead', {}, h('tr', {}, ...ordered.map(c => cell('th', c, c)))),
    h('tbody', {}, ...sample.map(row => h('tr', {}, ...ordered.map(c => cell('td', c, row[c] === null || row[c] === undefined ? '∅' : String(row[c]))))))
  );
}

const DONE: Record<string, string> = { accept: 'Accepted', waive: 'Waived', quarantine: 'Kept in quarantine', comment: 'Commented on' };

/** Open failures and quarantined versions: one card per version, with only the decisions that apply. */
export class QualitySection implements ISection {
  readonly id = 'quality';
  readonly label = 'Quality';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-quality-panel' });
  private cards = h('div', {});
  private result = h('div', { 'data-testid': 'dataops-decision-result', 'aria-live': 'polite' });
  /** What the cards show now: a refresh that finds the same leaves them (and a reason being typed) alone. */
  private shown = '';
  /** Reasons typed but not yet sent, by version, kept when the cards are redrawn. */
  private drafts = new Map<string, string>();
  environment: string | null = null;
  /** Told the number of open failures each time they are fetched (the tab's badge). */
  onCount: (openFailures: number) => void = () => undefined;

  constructor(private context: IPanelContext) {
    this.node.append(this.result, this.cards);
  }

  async refresh(): Promise<void> {
    const reviews = await this.context.api.reviews();
    this.environment = reviews.environment ?? null;
    this.onCount(reviews.open_failures);
    const cards = versionCards(reviews.quarantined, reviews.failures);
    const shown = JSON.stringify(cards);
    if (shown === this.shown) {
      return;
    }
    this.shown = shown;
    if (!cards.length) {
      clear(this.cards, h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-no-failures' }, 'No open failures and nothing in quarantine.'));
      return;
    }
    clear(this.cards, ...cards.map(card => this.card(card)));
  }

  private async decide(card: IVersionCard, decision: IDecision['decision'], target: string, label: string, reason: HTMLInputElement): Promise<void> {
    if (!reason.value.trim()) {
      reason.focus();
      this.context.report(new Error('A decision needs a reason.'));
      return;
    }
    try {
      const decided = await this.context.api.decide({ target, decision, reason: reason.value.trim() });
      this.drafts.delete(card.version);
      this.context.report(null);
      await this.explain(card, decision, label, decided.effect);
      await this.refresh();
    } catch (error) {
      this.context.report(error);
    }
  }

  /** Say what a decision did, and what it made stale downstream. */
  private async explain(card: IVersionCard, decision: string, label: string, effect: string): Promise<void> {
    let what = `${DONE[decision] ?? decision} ${label}.`;
    if (effect.startsWith('promoted to current')) {
      what = `${card.version} is now current.`;
    } else if (effect !== 'recorded') {
      what = `${card.version}: ${effect}.`;
    }
    const parts: (HTMLElement | string)[] = [h('span', { 'data-testid': 'dataops-decision-effect' }, what)];
    if (card.step && decision === 'accept') {
      const pipeline = await this.context.api.pipeline();
      const below = downstream(pipeline.steps, card.step);
      const stale = pipeline.steps.filter(s => below.includes(s.name) && s.state === 'stale');
      if (stale.length) {
        parts.push(
          ` ${stale.length} downstream step${stale.length > 1 ? 's' : ''} stale (${stale.map(s => s.name).join(', ')}) — `,
          h('button', {
            class: 'jp-mod-styled jp-mod-accept', 'data-testid': 'dataops-decision-run-from',
            onclick: () => this.context.runFrom(card.step!)
          }, 'Run from here')
        );
      }
    }
    clear(this.result, h('div', { class: 'jp-DataOps-notice' }, ...parts));
  }

  private card(card: IVersionCard): HTMLElement {
    const reason = h('input', {
      class: 'jp-DataOps-reason',
      placeholder: 'Reason (required)',
      'data-testid': 'dataops-reason',
      oninput: () => void this.drafts.set(card.version, reason.value)
    });
    reason.value = this.drafts.get(card.version) ?? '';
    const button = (decision: IDecision['decision'], label: string, target: string, what: string, extra = '') =>
      h('button', { class: `jp-mod-styled ${extra}`, 'data-testid': `dataops-${decision}`, onclick: () => void this.decide(card, decision, target, what, reason) }, label);
    const quarantined = card.status === 'quarantined';
    const checks = card.checks.map(check =>
      h(
        'div',
        { class: 'jp-DataOps-check', 'data-testid': 'dataops-review-check', 'data-check': check.check, 'data-target': `#${check.id}` },
        h('div', { class: 'jp-DataOps-row' },
          badge(check.status),
          h('strong', { class: 'jp-DataOps-grow' }, check.check),
          check.failing !== null ? h('span', { class: 'jp-DataOps-muted' }, `${check.failing} of ${check.rows ?? '?'} rows`) : null,
          button('waive', 'Waive', `#${check.id}`, `${check.check} on ${card.version}`)),
        check.message ? h('p', {}, check.message) : null,
        check.sample.length ? h('div', { class: 'jp-DataOps-scroll' }, sampleTable(check.sample, check.column)) : null
      )
    );
    return h(
      'div',
      { class: 'jp-DataOps-card', 'data-testid': 'dataops-review-item', 'data-target': card.version, 'data-status': card.status },
      h('h3', {}, card.dataset, ' ', badge(card.status)),
      h('p', { class: 'jp-DataOps-muted' }, `${card.version}${card.step ? ` · step ${card.step}` : ''}${card.rows !== null ? ` · ${card.rows} rows` : ''}`),
      quarantined
        ? h('p', { class: 'jp-DataOps-muted' }, 'Held back by failing error checks: readers still get the previous version.')
        : h('p', { class: 'jp-DataOps-muted' }, 'Current, published with the warnings below.'),
      ...checks,
      h('div', { class: 'jp-DataOps-toolbar' },
        reason,
        quarantined ? button('accept', 'Accept (make current)', card.version, card.version, 'jp-mod-accept') : null,
        quarantined ? button('quarantine', 'Keep in quarantine', card.version, card.version) : null)
    );
  }
}

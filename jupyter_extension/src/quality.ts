import { post, requestAPI } from './api';
import { IPanelContext, ISection } from './context';
import { badge, clear, h, table } from './dom';

type Item = Record<string, any>;

interface IReviews {
  failures: Item[];
  quarantined: Item[];
}

/** Open failures and quarantined versions; accept / waive / keep in quarantine with a reason. */
export class QualitySection implements ISection {
  readonly id = 'quality';
  readonly label = 'Quality';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-quality-panel' });
  /** What the cards show now: a refresh that finds the same leaves them (and a reason being typed) alone. */
  private shown = '';
  /** Reasons typed but not yet sent, by target, kept when the cards are redrawn. */
  private drafts = new Map<string, string>();

  constructor(private context: IPanelContext) {}

  async refresh(): Promise<void> {
    const reviews = await requestAPI<IReviews>('reviews');
    const items = [
      ...reviews.quarantined.map(q => ({ ...q, kind: 'quarantined' })),
      ...reviews.failures.map(f => ({ ...f, kind: 'failure' }))
    ];
    const shown = JSON.stringify(items);
    if (shown === this.shown) {
      return;
    }
    this.shown = shown;
    if (!items.length) {
      clear(this.node, h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-no-failures' }, 'No open failures and nothing in quarantine.'));
      return;
    }
    clear(this.node, ...items.map(item => this.card(item)));
  }

  private async decide(target: string, decision: string, reason: HTMLInputElement): Promise<void> {
    if (!reason.value.trim()) {
      reason.focus();
      this.context.report(new Error('A decision needs a reason.'));
      return;
    }
    try {
      await post('reviews', { target, decision, reason: reason.value.trim() });
      this.drafts.delete(target);
      await this.refresh();
    } catch (error) {
      this.context.report(error);
    }
  }

  private card(item: Item): HTMLElement {
    const target = item.kind === 'failure' ? `#${item.id}` : item.version ?? item.version_id;
    const reason = h('input', {
      class: 'jp-DataOps-reason',
      placeholder: 'Reason (required)',
      'data-testid': 'dataops-reason',
      oninput: () => void this.drafts.set(target, reason.value)
    });
    reason.value = this.drafts.get(target) ?? '';
    const button = (decision: string, label: string) =>
      h('button', { class: 'jp-mod-styled', 'data-testid': `dataops-${decision}`, onclick: () => void this.decide(target, decision, reason) }, label);
    const sample: Item[] = item.sample ?? [];
    return h(
      'div',
      { class: 'jp-DataOps-card', 'data-testid': 'dataops-review-item', 'data-target': target },
      h('h3', {}, badge(item.status ?? item.kind), ' ', item.check ?? 'quarantined version'),
      h('p', { class: 'jp-DataOps-muted' }, `${item.version ?? item.version_id ?? item.dataset}${item.failing !== undefined ? ` · ${item.failing} failing of ${item.rows}` : ''}`),
      item.message ? h('p', {}, item.message) : null,
      sample.length ? table(Object.keys(sample[0]), sample) : null,
      h('div', { class: 'jp-DataOps-toolbar' }, reason, button('accept', 'Accept'), button('waive', 'Waive'), button('quarantine', 'Keep in quarantine'))
    );
  }
}

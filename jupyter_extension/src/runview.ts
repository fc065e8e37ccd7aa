/**
 * A run in the main area (`dataops:open-run` {run}): its steps with outcome, duration, warnings and
 * errors (first line and cell), its parameters and environment, each executed notebook, the datasets
 * it published, and "diff with another run": the data diff of every dataset both runs published.
 */

import { IRun, IRunDiff } from './api';
import { messageOf } from './context';
import { IViewContext, MainAreaView } from './datasetview';
import { badge, clear, duration, h, table, when } from './dom';
import { runDuration, runOutcome, stepsOf } from './runs';
import { errorParts, outcomeLabel, outcomeOfRun } from './state';
import { diffSummary, parameterRows } from './viewdata';

/** The id of a run view's tab is this and the run's id. */
export const RUN_VIEW = 'dataops-run:';

/** A run's view in the main area. */
export class RunView extends MainAreaView {
  private diff = h('div', { 'data-testid': 'dataops-run-diff-box' });

  constructor(context: IViewContext, readonly runId: string) {
    super(context, RUN_VIEW + runId, `Run ${runId}`, `Run ${runId}`, { testid: 'dataops-run-view', run: runId });
  }

  protected async draw(): Promise<HTMLElement> {
    const [run, others] = await Promise.all([this.context.api.run(this.runId), this.context.api.runs(50)]);
    return this.render(run, others.items.filter(r => r.run_id !== this.runId));
  }

  private render(run: IRun, others: IRun[]): HTMLElement {
    const outcome = runOutcome(run);
    const params = parameterRows(run.params);
    const steps = stepsOf(run).map(([name, step]) => {
      const shown = step ? outcomeOfRun(step) : 'pending';
      const error = errorParts(step?.error ?? null);
      const skipped = step?.status === 'skipped';
      return {
        step: name,
        outcome: shown ? badge(shown, outcomeLabel(shown)) : badge('fresh', 'not re-run'),
        duration: step && !skipped && step.status !== 'fresh' ? duration(step.duration_s) : '',
        warnings: step?.warnings ? h('span', { class: 'jp-DataOps-warncount' }, `${step.warnings} warn`) : '',
        error: error
          ? h('span', { class: skipped ? 'jp-DataOps-skipnote' : 'jp-DataOps-errortext', 'data-testid': skipped ? 'dataops-run-view-skip' : 'dataops-run-view-error' },
              skipped ? `Skipped: ${error.message}` : `${error.cell ? `Cell ${error.cell}${error.line ? `, line ${error.line}` : ''}: ` : ''}${error.message}`)
          : '',
        notebook: step?.output_notebook
          ? h('a', { class: 'jp-DataOps-link', href: '#', 'data-testid': 'dataops-run-view-notebook', title: 'Open the executed notebook (read-only)',
              onclick: (e: Event) => { e.preventDefault(); this.context.openExecuted(run.run_id, name); } }, `${name}.ipynb ↗`)
          : ''
      };
    });
    const published = run.datasets ?? [];
    const select = h('select', { class: 'jp-DataOps-envselect', 'data-testid': 'dataops-diff-select', 'aria-label': 'The run to compare with' },
      ...others.map(o => h('option', { value: o.run_id }, `${o.run_id} · ${outcomeLabel(runOutcome(o))} · ${when(o.started_at)}${o.environment ? ' · ' + o.environment : ''}`)));
    return h('div', { class: 'jp-DataOps-runview' },
      h('h2', {}, `Run ${run.run_id} `, badge(outcome, outcomeLabel(outcome))),
      h('dl', { class: 'jp-DataOps-facts', 'data-testid': 'dataops-run-facts' },
        h('dt', {}, 'Started'), h('dd', {}, `${when(run.started_at)} by ${run.user ?? '—'}`),
        h('dt', {}, 'Duration'), h('dd', {}, runDuration(run)),
        h('dt', {}, 'Environment'), h('dd', { 'data-testid': 'dataops-run-environment' }, run.environment ?? 'the default one'),
        h('dt', {}, 'Warnings'), h('dd', {}, `${run.warnings} warn check${run.warnings === 1 ? '' : 's'}`),
        run.message ? h('dt', {}, 'Message') : null, run.message ? h('dd', {}, run.message) : null,
        run.resumed_from ? h('dt', {}, 'Resumes') : null,
        run.resumed_from ? h('dd', {}, h('a', { class: 'jp-DataOps-link', href: '#', onclick: (e: Event) => { e.preventDefault(); this.context.openRun(run.resumed_from!); } }, run.resumed_from)) : null),
      run.resume ? h('p', { class: 'jp-DataOps-note' }, `Resume it with: ${run.resume}`) : null,
      h('h3', {}, 'Steps'),
      h('div', { class: 'jp-DataOps-scroll', 'data-testid': 'dataops-run-steps' }, table(['step', 'outcome', 'duration', 'warnings', 'error', 'notebook'], steps)),
      h('h3', {}, 'Parameters'),
      params.length
        ? h('div', { 'data-testid': 'dataops-run-params' }, table(['parameter', 'value'], params))
        : h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-run-params' }, 'No parameters given: each step ran with its defaults.'),
      h('h3', {}, 'Datasets published'),
      published.length
        ? h('div', { class: 'jp-DataOps-scroll', 'data-testid': 'dataops-run-datasets' }, table(['dataset', 'version', 'step', 'rows', 'status'], published.map(d => ({
            ...d, dataset: h('a', { class: 'jp-DataOps-link', href: '#', onclick: (e: Event) => { e.preventDefault(); this.context.openDataset(d.dataset); } }, d.dataset),
            status: badge(d.status)
          }))))
        : h('p', { class: 'jp-DataOps-muted' }, 'It published nothing.'),
      h('h3', {}, 'Diff with another run'),
      others.length
        ? h('div', { class: 'jp-DataOps-toolbar' }, select,
            h('button', { class: 'jp-mod-styled jp-mod-accept', 'data-testid': 'dataops-diff-run', onclick: () => void this.compare(select.value) }, 'Diff'))
        : h('p', { class: 'jp-DataOps-muted' }, 'No other run to compare with.'),
      this.diff
    );
  }

  /** The data diff of this run (A) against `other` (B). */
  private async compare(other: string): Promise<void> {
    clear(this.diff, h('p', { class: 'jp-DataOps-muted' }, `Comparing with run ${other}…`));
    try {
      clear(this.diff, this.renderDiff(other, await this.context.api.runDiff(this.runId, other)));
    } catch (error) {
      clear(this.diff);
      this.say(messageOf(error));
    }
  }

  private renderDiff(other: string, diff: IRunDiff): HTMLElement {
    const differ = diff.datasets.filter(d => d.differs).length;
    const open = (name: string) => h('a', { class: 'jp-DataOps-link', href: '#', onclick: (e: Event) => { e.preventDefault(); this.context.openDataset(name); } }, name);
    return h('div', { 'data-testid': 'dataops-run-diff', 'data-a': this.runId, 'data-b': other },
      h('p', { 'data-testid': 'dataops-run-diff-summary' },
        `A = ${diff.a}, B = ${diff.b}: ${diff.datasets.length} dataset${diff.datasets.length === 1 ? '' : 's'} both published, ${differ} differ${differ === 1 ? 's' : ''}.`),
      diff.datasets.length
        ? h('table', { class: 'jp-DataOps-table' },
            h('thead', {}, h('tr', {}, ...['dataset', '', 'A', 'B', 'what changed'].map(c => h('th', {}, c)))),
            h('tbody', {}, ...diff.datasets.map(d => h('tr', { 'data-testid': 'dataops-run-diff-dataset', 'data-dataset': d.dataset, 'data-differs': String(d.differs) },
              h('td', {}, open(d.dataset)), h('td', {}, badge(d.differs ? 'warn' : 'ok', d.differs ? 'differs' : 'same')),
              h('td', {}, d.a ?? '—'), h('td', {}, d.b ?? '—'), h('td', { 'data-testid': 'dataops-run-diff-what' }, diffSummary(d))))))
        : null,
      diff.only_in_a.length ? h('p', { class: 'jp-DataOps-muted' }, `Only run A published: ${diff.only_in_a.join(', ')}.`) : null,
      diff.only_in_b.length ? h('p', { class: 'jp-DataOps-muted' }, `Only run B published: ${diff.only_in_b.join(', ')}.`) : null
    );
  }
}

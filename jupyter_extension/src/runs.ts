import { IListing, IRun, requestAPI } from './api';
import { IPanelContext, ISection } from './context';
import { badge, clear, duration, h, when } from './dom';

function runDuration(run: IRun): string {
  if (!run.ended_at) {
    return 'running';
  }
  return duration((Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000);
}

/** Run history; a run opens to its steps; a step opens its executed notebook. */
export class RunsSection implements ISection {
  readonly id = 'runs';
  readonly label = 'Runs';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-runs' });
  private open = new Set<string>();
  private runs: IRun[] = [];

  constructor(private context: IPanelContext) {}

  async refresh(): Promise<void> {
    this.runs = (await requestAPI<IListing<IRun>>('runs', {}, { limit: '30' })).items;
    this.render();
  }

  private toggle(runId: string): void {
    if (this.open.has(runId)) {
      this.open.delete(runId);
    } else {
      this.open.add(runId);
    }
    this.render();
  }

  private render(): void {
    if (!this.runs.length) {
      clear(this.node, h('p', { class: 'jp-DataOps-muted' }, 'No runs yet. Start one from the Pipeline panel.'));
      return;
    }
    clear(
      this.node,
      h('ul', { class: 'jp-DataOps-list' }, ...this.runs.map(run => this.item(run)))
    );
  }

  private item(run: IRun): HTMLElement {
    const head = h(
      'div',
      { class: 'jp-DataOps-row jp-DataOps-clickable', 'data-testid': 'dataops-run', 'data-run': run.run_id, onclick: () => this.toggle(run.run_id) },
      badge(run.status),
      h('span', { class: 'jp-DataOps-grow' }, when(run.started_at)),
      h('span', { class: 'jp-DataOps-muted' }, `${runDuration(run)} · ${run.user ?? ''}${run.environment ? ' · ' + run.environment : ''}`)
    );
    if (!this.open.has(run.run_id)) {
      return h('li', {}, head);
    }
    const steps = run.steps.map(step =>
      h(
        'li',
        {},
        h(
          'div',
          {
            class: `jp-DataOps-row${step.output_notebook ? ' jp-DataOps-clickable' : ''}`,
            'data-testid': 'dataops-run-step',
            'data-step': step.name,
            title: step.output_notebook ? 'Open the executed notebook (read-only)' : '',
            onclick: () => step.output_notebook && this.context.openExecuted(run.run_id, step.name)
          },
          badge(step.status),
          h('span', { class: 'jp-DataOps-grow' }, step.name),
          h('span', { class: 'jp-DataOps-muted' }, duration(step.duration_s))
        ),
        step.error ? h('pre', { class: 'jp-DataOps-error', 'data-testid': 'dataops-step-error' }, step.error) : null
      )
    );
    return h('li', {}, head, h('div', { class: 'jp-DataOps-muted jp-DataOps-indent' }, run.run_id), h('ul', { class: 'jp-DataOps-list jp-DataOps-indent' }, ...steps));
  }
}

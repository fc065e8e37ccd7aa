import { IRun, IStepRun } from './api';
import { IPanelContext, ISection } from './context';
import { badge, clear, duration, h, when } from './dom';
import { outcomeLabel, outcomeOfRun } from './state';
import { durationChart, slowness } from './charts';
import { LIVE_EVERY_MS, LiveView } from './live';

/** Every step a run selected, in its order (then any other it has a record of), with its record (null: not reached). */
export function stepsOf(run: IRun): [string, IStepRun | null][] {
  const byName = new Map(run.steps.map(s => [s.name, s]));
  const names = [...(run.selection?.length ? run.selection : run.steps.map(s => s.name))];
  run.steps.forEach(s => names.includes(s.name) || names.push(s.name));
  return names.map(name => [name, byName.get(name) ?? null]);
}

export function runDuration(run: IRun): string {
  if (!run.ended_at) {
    return 'running';
  }
  return duration((Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000);
}

/** A run's outcome as shown: `warn` when it succeeded with warn checks. */
export function runOutcome(run: IRun): string {
  return run.status === 'success' && run.warnings > 0 ? 'warn' : run.status;
}

/** Run history; a run opens to every step it selected; a step opens its executed notebook. */
export class RunsSection implements ISection {
  readonly id = 'runs';
  readonly label = 'Runs';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-runs' });
  private open = new Set<string>();
  private runs: IRun[] = [];
  private live = new Map<string, LiveView>();
  /** Runs asked to stop that have not ended yet. */
  private cancelling = new Set<string>();
  /** The step durations chart is open (kept while the list is redrawn). */
  private durationsOpen = false;
  environment: string | null = null;

  constructor(private context: IPanelContext) {}

  async refresh(): Promise<void> {
    const list = await this.context.api.runs(30);
    this.runs = list.items;
    this.environment = list.environment ?? null;
    this.render();
  }

  /** Show the run opened to its steps (a notification's "Show run"). */
  reveal(runId: string): void {
    this.open.add(runId);
    this.render();
    this.node.querySelector(`[data-run="${CSS.escape(runId)}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  /** Ask a running run to stop; the list is asked again until it has ended (a refusal goes to the message line). */
  private async cancel(runId: string): Promise<void> {
    this.cancelling.add(runId);
    this.render();
    try {
      await this.context.api.cancelRun(runId);
      this.context.report(null);
      while ((await this.context.api.run(runId)).status === 'running') {
        await new Promise(resolve => window.setTimeout(resolve, LIVE_EVERY_MS));
      }
    } catch (error) {
      this.context.report(error);
    }
    this.cancelling.delete(runId);
    await this.refresh();
  }

  private cancelButton(run: IRun): HTMLElement | null {
    if (run.status !== 'running') {
      return null;
    }
    const stopping = this.cancelling.has(run.run_id);
    const button = h('button', {
      class: 'jp-mod-styled jp-DataOps-cancel', 'data-testid': 'dataops-cancel-run',
      title: 'Stop this run: its running steps are interrupted and nothing they staged becomes current',
      onclick: (event: Event) => {
        event.stopPropagation(); // not a click on the row (which opens it)
        void this.cancel(run.run_id);
      }
    }, stopping ? 'Cancelling…' : 'Cancel');
    button.disabled = stopping;
    return button;
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
      clear(this.node, h('p', { class: 'jp-DataOps-muted' }, `No runs${this.environment ? ` in ${this.environment}` : ''} yet. Start one from the Pipeline panel.`));
      return;
    }
    clear(
      this.node,
      this.durations(),
      h('ul', { class: 'jp-DataOps-list' }, ...this.runs.map(run => this.item(run)))
    );
  }

  /** Each step's executed durations over the listed runs, oldest first. */
  private timings(): Map<string, { run_id: string; status: string; duration_s: number }[]> {
    const found = new Map<string, { run_id: string; status: string; duration_s: number }[]>();
    for (const run of [...this.runs].reverse()) {
      for (const step of run.steps) {
        if (step.duration_s !== null && ['success', 'failed', 'timed_out'].includes(step.status)) {
          found.set(step.name, [...(found.get(step.name) ?? []), { run_id: run.run_id, status: step.status, duration_s: step.duration_s }]);
        }
      }
    }
    return found;
  }

  private durations(): HTMLElement | null {
    const timings = [...this.timings()].filter(([, runs]) => runs.length > 1);
    if (!timings.length) {
      return null;
    }
    const details = h('details', {
      class: 'jp-DataOps-durations', 'data-testid': 'dataops-run-durations',
      ontoggle: () => void (this.durationsOpen = details.open)
    },
      h('summary', {}, 'Step durations over these runs'),
      h('table', { class: 'jp-DataOps-charttable' }, ...timings.map(([name, runs]) =>
        h('tr', { 'data-step': name }, h('td', {}, name), h('td', {}, durationChart(name, runs))))));
    details.open = this.durationsOpen;
    return details;
  }

  /** The live view of a running run, kept across renders; the list is asked again when the run ends. */
  private liveView(run: IRun): HTMLElement {
    let view = this.live.get(run.run_id);
    if (!view) {
      view = new LiveView(() => this.context.api.live(run.run_id), () => {
        this.live.delete(run.run_id);
        void this.refresh();
      }).start();
      this.live.set(run.run_id, view);
    }
    return view.node;
  }

  private item(run: IRun): HTMLElement {
    const opened = this.open.has(run.run_id);
    const outcome = runOutcome(run);
    const head = h(
      'div',
      {
        class: 'jp-DataOps-row jp-DataOps-clickable jp-DataOps-runhead', 'data-testid': 'dataops-run', 'data-run': run.run_id, 'data-outcome': outcome,
        role: 'button', 'aria-expanded': String(opened), title: opened ? 'Hide its steps' : 'Show its steps',
        onclick: () => this.toggle(run.run_id)
      },
      h('span', { class: 'jp-DataOps-chevron' }, opened ? '▾' : '▸'),
      badge(outcome, outcomeLabel(outcome)),
      run.warnings ? h('span', { class: 'jp-DataOps-warncount', 'data-testid': 'dataops-run-warnings' }, `${run.warnings} warn`) : null,
      h('span', { class: 'jp-DataOps-when', title: run.started_at }, when(run.started_at)),
      h('span', { class: 'jp-DataOps-muted jp-DataOps-grow' }, `${runDuration(run)} · ${run.user ?? ''}${run.environment ? ' · ' + run.environment : ''}`),
      this.cancelButton(run),
      h('button', {
        class: 'jp-DataOps-open', 'data-testid': 'dataops-open-run', title: `Open run ${run.run_id} in the main area: its steps, parameters and a diff with another run`,
        onclick: (e: Event) => { e.stopPropagation(); this.context.openRun(run.run_id); }
      }, 'view ↗')
    );
    if (!opened) {
      return h('li', {}, head);
    }
    const timings = this.timings();
    const steps = stepsOf(run).map(([name, step]) => this.step(run, name, step, timings.get(name) ?? []));
    return h(
      'li',
      {},
      head,
      h('div', { class: 'jp-DataOps-muted jp-DataOps-indent' }, `run ${run.run_id}`, run.message ? ` · ${run.message}` : ''),
      run.status === 'running' ? this.liveView(run) : null,
      h('ul', { class: 'jp-DataOps-list jp-DataOps-indent' }, ...steps)
    );
  }

  private step(run: IRun, name: string, step: IStepRun | null,
               timings: { run_id: string; duration_s: number }[]): HTMLElement {
    const status = step?.status ?? 'pending';
    const index = timings.findIndex(t => t.run_id === run.run_id);
    const judged = index >= 0 ? slowness(timings.map(t => t.duration_s), index) : null;
    const outcome = step ? outcomeOfRun(step) : 'pending';
    const opens = Boolean(step?.output_notebook);
    let detail = '';
    if (status === 'fresh') {
      detail = 'up to date, not re-run';
    } else if (status !== 'skipped' && step?.duration_s !== null && step?.duration_s !== undefined) {
      detail = duration(step.duration_s);
    }
    return h(
      'li',
      {},
      h(
        'div',
        {
          class: `jp-DataOps-row${opens ? ' jp-DataOps-clickable' : ''}`,
          'data-testid': 'dataops-run-step',
          'data-step': name,
          'data-outcome': outcome ?? 'fresh',
          title: opens ? 'Open the executed notebook (read-only)' : '',
          onclick: () => opens && this.context.openExecuted(run.run_id, name)
        },
        outcome ? badge(outcome, outcomeLabel(outcome)) : badge('fresh', 'not re-run'),
        h('span', { class: 'jp-DataOps-grow' }, name),
        step?.warnings ? h('span', { class: 'jp-DataOps-warncount' }, `${step.warnings} warn`) : null,
        judged?.slow && step?.duration_s
          ? h('span', { class: 'jp-DataOps-slow', 'data-testid': 'dataops-slow-step', title: `its median over the earlier runs listed: ${duration(judged.median)}` },
              `${(step.duration_s / judged.median).toFixed(1)}× slower`)
          : null,
        h('span', { class: 'jp-DataOps-muted' }, detail),
        opens ? h('span', { class: 'jp-DataOps-link', 'data-testid': 'dataops-open-executed', 'aria-hidden': 'true' }, 'notebook ↗') : null
      ),
      step?.error && status === 'skipped'
        ? h('div', { class: 'jp-DataOps-note jp-DataOps-indent', 'data-testid': 'dataops-skip-reason' }, `Skipped: ${step.error}`)
        : step?.error
          ? h('pre', { class: 'jp-DataOps-error', 'data-testid': 'dataops-step-error' }, step.error.split('\n')[0])
          : null
    );
  }
}

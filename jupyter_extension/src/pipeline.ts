import { DataOpsClient, IPipeline, IPipelineStep, IRun, IStartRun } from './api';
import { IPanelContext, ISection } from './context';
import { durationChart, slowness } from './charts';
import { badge, clear, duration, h, when } from './dom';
import { drawGraph, IGraphNode } from './graph';
import { errorParts, OUTCOMES, outcomeLabel, stepView } from './state';

/** The DAG (fill: last outcome; outline: freshness), with run all / run step / run from step; live during a run. */
export class PipelineSection implements ISection {
  readonly id = 'pipeline';
  readonly label = 'Pipeline';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-pipeline' });
  private selected: string | null = null;
  environment: string | null = null;
  private pipeline: IPipeline | null = null;
  private live: IRun | null = null;
  private starter: RunStarter;

  constructor(private context: IPanelContext) {
    this.starter = new RunStarter(context.api, {
      changed: () => this.pipeline && this.render(),
      report: error => context.report(error),
      started: async runId => {
        context.runStarted(runId);
        await this.refresh();
      }
    });
  }

  async refresh(): Promise<void> {
    const { pipeline, live } = await loadPipeline(this.context.api);
    this.pipeline = pipeline;
    this.environment = pipeline.environment;
    this.live = live;
    this.render();
  }

  /** Is a run going on (so the sidebar keeps polling)? */
  get busy(): boolean {
    return this.live !== null || this.starter.starting;
  }

  select(name: string): void {
    this.selected = name;
    if (this.pipeline) {
      this.render();
    }
  }

  start(request: IStartRun): Promise<void> {
    return this.starter.start(request);
  }

  private render(): void {
    const pipeline = this.pipeline!;
    const busy = this.busy;
    const starting = this.starter.starting;
    const toolbar = h(
      'div',
      { class: 'jp-DataOps-toolbar' },
      this.runButton('dataops-run-all', busy ? (starting ? 'Starting…' : 'Running…') : `Run all in ${pipeline.environment}`, { mode: 'all' }, 'jp-mod-accept'),
      h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-open-pipeline', title: 'The DAG with its datasets, zoomable, and run options', onclick: () => this.context.openPipelineView() }, 'Open view'),
      h('span', { class: 'jp-DataOps-muted' }, `${pipeline.name} · ${pipeline.steps.length} steps`)
    );
    const graph = drawGraph(graphNodes(pipeline, this.live), this.selected, name => this.select(name));
    clear(this.node, toolbar, liveLine(starting, this.live, runId => this.context.openRun(runId)), h('div', { class: 'jp-DataOps-graphbox' }, graph), legend(pipeline), this.details());
  }

  private runButton(testid: string, label: string, request: IStartRun, extra = ''): HTMLButtonElement {
    const button = h('button', { class: `jp-mod-styled ${extra}`, 'data-testid': testid, onclick: () => void this.start(request) }, label);
    button.disabled = this.busy;
    if (this.busy) {
      button.title = 'A run is going on: wait for it to end.';
    }
    return button;
  }

  private details(): HTMLElement | null {
    const step = this.pipeline?.steps.find(s => s.name === this.selected);
    if (!step) {
      return h('p', { class: 'jp-DataOps-muted' }, 'Click a step for its details.');
    }
    return stepCard(step, stepView(step, this.live), {
      open: () => this.context.openFile(step.notebook),
      openExecuted: (runId: string) => this.context.openExecuted(runId, step.name),
      actions: [
        this.runButton('dataops-run-step', 'Run step', { mode: 'only', step: step.name, force: true }),
        this.runButton('dataops-run-from', 'Run from here', { mode: 'from', step: step.name, force: true })
      ]
    });
  }
}

/** The pipeline and the run going on, if any. */
export async function loadPipeline(api: DataOpsClient): Promise<{ pipeline: IPipeline; live: IRun | null }> {
  const pipeline = await api.pipeline();
  return { pipeline, live: pipeline.running ? await api.run(pipeline.running) : null };
}

/** Each step as the DAG draws it: its last outcome (or its state in the run going on) and freshness. */
export function graphNodes(pipeline: IPipeline, live: IRun | null): IGraphNode[] {
  return pipeline.steps.map(step => {
    const view = stepView(step, live);
    const fresh = view.freshness === 'in_run' ? 'in this run' : view.freshness === 'fresh' ? 'fresh' : `stale: ${view.reason}`;
    const warned = view.run?.warnings ? ` (${view.run.warnings} warn checks)` : '';
    const deferred = step.deferred_to ? ` (deferred: ${pipeline.environment} reads it from ${step.deferred_to})` : '';
    return { name: step.name, needs: step.needs, outcome: view.outcome, freshness: view.freshness, deferred: step.deferred_to ?? null, title: `${step.name}: ${outcomeLabel(view.outcome)}${warned}${deferred}; ${fresh}` };
  });
}

/** What the DAG's colours and outlines mean. */
export function legend(pipeline: IPipeline, ...extra: HTMLElement[]): HTMLElement {
  return h(
    'div',
    { class: 'jp-DataOps-legend', 'data-testid': 'dataops-legend' },
    h('span', { class: 'jp-DataOps-muted' }, 'Last outcome:'),
    ...OUTCOMES.map(o => badge(o, outcomeLabel(o))),
    h('span', { class: 'jp-DataOps-muted' }, 'Freshness:'),
    h('span', { class: 'jp-DataOps-key jp-DataOps-fresh', 'data-status': 'fresh' }, 'fresh'),
    h('span', { class: 'jp-DataOps-key jp-DataOps-stale', 'data-status': 'stale' }, 'stale (dashed)'),
    pipeline.steps.some(s => s.deferred_to)
      ? h('span', { class: 'jp-DataOps-key jp-DataOps-deferredkey', 'data-status': 'deferred' }, '↳ base: not rebuilt here, read from the base')
      : null,
    ...extra
  );
}

/** "Starting…" from the click on, then the run going on and its status; the run opens its view. */
export function liveLine(starting: boolean, live: IRun | null, openRun: (runId: string) => void): HTMLElement {
  const attrs = { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' };
  if (starting && !live) {
    return h('div', attrs, 'Starting…');
  }
  if (!live) {
    return h('div', attrs, 'No run in progress.');
  }
  const runId = live.run_id;
  const link = h('a', { class: 'jp-DataOps-link', href: '#', 'data-testid': 'dataops-live-run', 'data-run': runId, title: `Open run ${runId}: its steps as they go`,
    onclick: (e: Event) => { e.preventDefault(); openRun(runId); } }, `Run ${runId}`);
  return h('div', attrs, link, ': ', badge(live.status));
}

/**
 * Starts runs for a view: one start at a time (only a start already asked for stops another:
 * the run shown may be stale, and a run really going on is the server's to refuse, with a
 * message), the view redrawn at once to say "Starting…", any refusal reported.
 */
export class RunStarter {
  /** A start was asked for and not yet answered. */
  starting = false;

  constructor(
    private api: DataOpsClient,
    private hooks: { changed(): void; report(error: unknown): void; started(runId: string): Promise<void> }
  ) {}

  async start(request: IStartRun): Promise<void> {
    if (this.starting) {
      return;
    }
    this.starting = true;
    this.hooks.report(null);
    this.hooks.changed();
    try {
      const started = await this.api.startRun(request);
      await this.hooks.started(started.run_id);
    } catch (error) {
      this.hooks.report(error);
    } finally {
      this.starting = false;
      this.hooks.changed();
    }
  }
}

/** The step's durations over its recent runs, its latest run marked when much slower than its median. */
function durationsOf(step: IPipelineStep): HTMLElement | null {
  const runs = step.durations ?? [];
  if (runs.length < 2) {
    return null;
  }
  const latest = slowness(runs.map(r => r.duration_s), runs.length - 1);
  return h('div', { class: 'jp-DataOps-chartrow', 'data-testid': 'dataops-step-durations' },
    h('span', { class: 'jp-DataOps-muted' }, `Last ${runs.length} runs:`),
    durationChart(step.name, runs),
    latest.slow
      ? h('span', { class: 'jp-DataOps-slow', 'data-testid': 'dataops-slow-step' },
          `latest ${(runs[runs.length - 1].duration_s / latest.median).toFixed(1)}× its median (${duration(latest.median)})`)
      : null);
}

/** A step's card: outcome, the error's first line and cell, the executed notebook, freshness and why. */
export function stepCard(
  step: IPipelineStep,
  view: ReturnType<typeof stepView>,
  links: { open: () => void; openExecuted: (runId: string) => void; actions: HTMLElement[] }
): HTMLElement {
  const run = view.run;
  const error = run && run.status !== 'skipped' ? errorParts(run.error) : null;
  const executed = run?.output_notebook && view.runId ? view.runId : null;
  let freshness: string;
  if (view.freshness === 'in_run') {
    freshness = `In run ${view.runId}: freshness is known when it ends.`;
  } else if (view.freshness === 'fresh') {
    freshness = 'Fresh: nothing it depends on changed.';
  } else {
    freshness = `Stale: ${view.reason}.`;
  }
  return h(
    'div',
    { class: 'jp-DataOps-card', 'data-testid': 'dataops-step-details', 'data-step': step.name },
    h('h3', {}, step.name, ' ', badge(view.outcome, outcomeLabel(view.outcome))),
    step.description ? h('p', {}, step.description) : null,
    run
      ? h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-step-outcome' },
          `${outcomeLabel(view.outcome)} in run ${view.runId}`,
          run.ended_at ? ` · ${when(run.ended_at)}` : '',
          run.duration_s !== null && run.status !== 'skipped' ? ` · ${duration(run.duration_s)}` : '',
          run.warnings ? ` · ${run.warnings} warn check${run.warnings > 1 ? 's' : ''}` : '')
      : h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-step-outcome' }, 'Never ran.'),
    durationsOf(step),
    error
      ? h('div', { class: 'jp-DataOps-error', 'data-testid': 'dataops-step-error' },
          error.cell ? h('strong', {}, `Cell ${error.cell}${error.line ? `, line ${error.line}` : ''}: `) : null, error.message)
      : null,
    run?.status === 'skipped' && run.error
      ? h('p', { class: 'jp-DataOps-note', 'data-testid': 'dataops-skip-reason' }, `Skipped: ${run.error}.`)
      : null,
    step.deferred_to
      ? h('p', { class: 'jp-DataOps-note', 'data-testid': 'dataops-step-deferred' },
          `Deferred to ${step.deferred_to}: this environment does not rebuild the step and reads its datasets from ${step.deferred_to}; the outcome shown is ${step.deferred_to}'s.`)
      : null,
    h('p', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-step-freshness' }, freshness),
    h('div', { class: 'jp-DataOps-toolbar' },
      ...links.actions,
      h('button', { class: 'jp-mod-styled', onclick: links.open }, 'Open notebook'),
      executed
        ? h('a', { class: 'jp-DataOps-link', href: '#', 'data-testid': 'dataops-step-executed', onclick: (e: Event) => { e.preventDefault(); links.openExecuted(executed); } }, 'Executed notebook ↗')
        : null)
  );
}

import { IPipeline, IPipelineStep, IRun, IStartRun } from './api';
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
  /** A start was asked for and not yet answered. */
  private starting = false;

  constructor(private context: IPanelContext) {}

  async refresh(): Promise<void> {
    const pipeline = await this.context.api.pipeline();
    this.pipeline = pipeline;
    this.environment = pipeline.environment;
    this.live = pipeline.running ? await this.context.api.run(pipeline.running) : null;
    this.render();
  }

  /** Is a run going on (so the sidebar keeps polling)? */
  get busy(): boolean {
    return this.live !== null || this.starting;
  }

  select(name: string): void {
    this.selected = name;
    if (this.pipeline) {
      this.render();
    }
  }

  async start(request: IStartRun): Promise<void> {
    // only a start already asked for stops this one: `live` may be stale (another panel showed
    // while a run ended), and a run really going on is the server's to refuse, with a message
    if (this.starting) {
      return;
    }
    this.starting = true;
    this.context.report(null);
    if (this.pipeline) {
      this.render();
    }
    try {
      const started = await this.context.api.startRun(request);
      this.context.runStarted(started.run_id);
      await this.refresh();
    } catch (error) {
      this.context.report(error);
    } finally {
      this.starting = false;
      if (this.pipeline) {
        this.render();
      }
    }
  }

  private render(): void {
    const pipeline = this.pipeline!;
    const nodes: IGraphNode[] = pipeline.steps.map(step => {
      const view = stepView(step, this.live);
      const fresh = view.freshness === 'in_run' ? 'in this run' : view.freshness === 'fresh' ? 'fresh' : `stale: ${view.reason}`;
      const warned = view.run?.warnings ? ` (${view.run.warnings} warn checks)` : '';
      const deferred = step.deferred_to ? ` (deferred: ${pipeline.environment} reads it from ${step.deferred_to})` : '';
      return { name: step.name, needs: step.needs, outcome: view.outcome, freshness: view.freshness, deferred: step.deferred_to ?? null, title: `${step.name}: ${outcomeLabel(view.outcome)}${warned}${deferred}; ${fresh}` };
    });
    const busy = this.busy;
    const running = this.starting && !this.live
      ? h('div', { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' }, 'Starting…')
      : this.live
        ? h('div', { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' }, `Run ${this.live.run_id}: `, badge(this.live.status))
        : h('div', { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' }, 'No run in progress.');
    const toolbar = h(
      'div',
      { class: 'jp-DataOps-toolbar' },
      this.runButton('dataops-run-all', busy ? (this.starting ? 'Starting…' : 'Running…') : `Run all in ${pipeline.environment}`, { mode: 'all' }, 'jp-mod-accept'),
      h('span', { class: 'jp-DataOps-muted' }, `${pipeline.name} · ${pipeline.steps.length} steps`)
    );
    const legend = h(
      'div',
      { class: 'jp-DataOps-legend', 'data-testid': 'dataops-legend' },
      h('span', { class: 'jp-DataOps-muted' }, 'Last outcome:'),
      ...OUTCOMES.map(o => badge(o, outcomeLabel(o))),
      h('span', { class: 'jp-DataOps-muted' }, 'Freshness:'),
      h('span', { class: 'jp-DataOps-key jp-DataOps-fresh', 'data-status': 'fresh' }, 'fresh'),
      h('span', { class: 'jp-DataOps-key jp-DataOps-stale', 'data-status': 'stale' }, 'stale (dashed)'),
      pipeline.steps.some(s => s.deferred_to)
        ? h('span', { class: 'jp-DataOps-key jp-DataOps-deferredkey', 'data-status': 'deferred' }, '↳ base: not rebuilt here, read from the base')
        : null
    );
    clear(this.node, toolbar, running, h('div', { class: 'jp-DataOps-graphbox' }, drawGraph(nodes, this.selected, name => this.select(name))), legend, this.details());
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

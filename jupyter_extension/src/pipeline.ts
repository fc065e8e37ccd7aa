import { IPipeline, IRun, post, requestAPI } from './api';
import { IPanelContext, ISection } from './context';
import { badge, clear, h } from './dom';
import { drawGraph, IGraphNode } from './graph';

/** The DAG, coloured by state, with run all / run step / run from step; live during a run. */
export class PipelineSection implements ISection {
  readonly id = 'pipeline';
  readonly label = 'Pipeline';
  readonly node = h('div', { class: 'jp-DataOps-section', 'data-testid': 'dataops-pipeline' });
  private selected: string | null = null;
  private pipeline: IPipeline | null = null;
  private live: IRun | null = null;

  constructor(private context: IPanelContext) {}

  async refresh(): Promise<void> {
    const pipeline = await requestAPI<IPipeline>('pipeline');
    this.pipeline = pipeline;
    this.live = pipeline.running ? await requestAPI<IRun>(`runs/${pipeline.running}`) : null;
    this.render();
  }

  /** Is a run going on (so the sidebar keeps polling)? */
  get busy(): boolean {
    return this.live !== null;
  }

  private state(name: string): string {
    const step = this.live?.steps.find(s => s.name === name);
    if (step) {
      return step.status;
    }
    const known = this.pipeline?.steps.find(s => s.name === name);
    if (!known) {
      return 'stale';
    }
    return known.last_status === 'failed' || known.last_status === 'timed_out' ? known.last_status : known.state;
  }

  private async start(mode: 'all' | 'only' | 'from', step: string | null): Promise<void> {
    try {
      const started = await post<{ run_id: string }>('runs', { mode, step, force: mode !== 'all' });
      this.context.runStarted(started.run_id);
      await this.refresh();
    } catch (error) {
      this.context.report(error);
    }
  }

  private render(): void {
    const pipeline = this.pipeline!;
    const nodes: IGraphNode[] = pipeline.steps.map(step => ({
      name: step.name,
      needs: step.needs,
      state: this.state(step.name),
      title: `${step.name}: ${this.state(step.name)}${step.reasons.length ? ' (' + step.reasons.join('; ') + ')' : ''}`
    }));
    const running = this.live
      ? h('div', { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' }, `Run ${this.live.run_id}: `, badge(this.live.status))
      : h('div', { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' }, 'No run in progress.');
    const toolbar = h(
      'div',
      { class: 'jp-DataOps-toolbar' },
      h('button', { class: 'jp-mod-styled jp-mod-accept', 'data-testid': 'dataops-run-all', onclick: () => void this.start('all', null) }, 'Run all'),
      h('span', { class: 'jp-DataOps-muted' }, `${pipeline.name} · ${pipeline.steps.length} steps`)
    );
    const legend = h(
      'div',
      { class: 'jp-DataOps-legend' },
      ...['fresh', 'stale', 'running', 'success', 'failed', 'skipped'].map(s => h('span', { class: `jp-DataOps-key jp-DataOps-state-${s}` }, s))
    );
    clear(this.node, toolbar, running, h('div', { class: 'jp-DataOps-graphbox' }, drawGraph(nodes, this.selected, name => this.select(name))), legend, this.details());
  }

  private select(name: string): void {
    this.selected = name;
    this.render();
  }

  private details(): HTMLElement | null {
    const step = this.pipeline?.steps.find(s => s.name === this.selected);
    if (!step) {
      return h('p', { class: 'jp-DataOps-muted' }, 'Click a step for its details.');
    }
    return h(
      'div',
      { class: 'jp-DataOps-card', 'data-testid': 'dataops-step-details' },
      h('h3', {}, step.name, ' ', badge(this.state(step.name))),
      step.description ? h('p', {}, step.description) : null,
      h('p', { class: 'jp-DataOps-muted' }, step.state === 'fresh' ? 'Fresh: nothing it depends on changed.' : `Stale: ${step.reasons.join('; ') || 'never ran'}.`),
      h('div', { class: 'jp-DataOps-toolbar' },
        h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-run-step', onclick: () => void this.start('only', step.name) }, 'Run step'),
        h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-run-from', onclick: () => void this.start('from', step.name) }, 'Run from here'),
        h('button', { class: 'jp-mod-styled', onclick: () => this.context.openFile(step.notebook) }, 'Open notebook')
      )
    );
  }
}

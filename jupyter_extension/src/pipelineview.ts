/**
 * The pipeline view in the main area: the DAG with dataset nodes between the steps (a toggle),
 * zoom (wheel, buttons), pan (drag) and fit; a selected step's card; run controls with the CLI's
 * options (-p, --only, --from, --env). Polls while it shows, quickly while a run goes on.
 */

import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { DataOpsClient, IPipeline, IRun, IStartRun } from './api';
import { messageOf } from './context';
import { clear, h } from './dom';
import { drawLayout, fit, IFlow, ILayout, ITransform, layout, zoom } from './graph';
import { graphNodes, legend, liveLine, loadPipeline, RunStarter, stepCard } from './pipeline';
import { runRequest } from './runrequest';
import { stepView } from './state';

export const PIPELINE_VIEW_ID = 'dataops-pipeline-view';

export interface IPipelineViewContext {
  api: DataOpsClient;
  openFile(projectPath: string): void;
  openExecuted(runId: string, step: string): void;
  /** Open a dataset's page in the main area. */
  openDataset(name: string): void;
  /** Open a run's view in the main area (`dataops:open-run`). */
  openRun(runId: string): void;
  /** A run was started here: the sidebar follows it too. */
  runStarted(runId: string): void;
  refreshMs(): number;
}

function field(label: string, control: HTMLElement, hint: string): HTMLElement {
  return h('label', { class: 'jp-DataOps-field' }, h('span', {}, label), control, h('span', { class: 'jp-DataOps-muted' }, hint));
}

export class PipelineView extends Widget {
  private pipeline: IPipeline | null = null;
  private live: IRun | null = null;
  private flows: IFlow[] | null = null;
  private showDatasets = true;
  private selected: string | null = null;
  private plan: ILayout | null = null;
  private transform: ITransform = { x: 0, y: 0, scale: 1 };
  /** The transform was set for the current layout (by fit, or by the user). */
  private placed = false;
  private timer = 0;
  private starter: RunStarter;

  private header = h('div', { class: 'jp-DataOps-toolbar jp-DataOps-viewbar' });
  private message = h('div', { class: 'jp-DataOps-message', 'data-testid': 'dataops-view-message', role: 'alert' });
  private canvas = h('div', { class: 'jp-DataOps-canvas' });
  private graph = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  private viewport = document.createElementNS('http://www.w3.org/2000/svg', 'g');
  private side = h('div', { class: 'jp-DataOps-viewside' });
  private card = h('div', { 'data-testid': 'dataops-view-card' });
  private legendBox = h('div', { class: 'jp-DataOps-viewlegend' });
  private live_ = h('div', {});
  private form = {
    params: h('textarea', { 'data-testid': 'dataops-form-params', rows: '3', placeholder: 'key=value, one per line' }),
    only: h('input', { 'data-testid': 'dataops-form-only', type: 'text', placeholder: 'step, step' }),
    from: h('select', { 'data-testid': 'dataops-form-from' }),
    env: h('input', { 'data-testid': 'dataops-form-env', type: 'text' }),
    force: h('input', { 'data-testid': 'dataops-form-force', type: 'checkbox' }),
    run: h('button', { class: 'jp-mod-styled jp-mod-accept', 'data-testid': 'dataops-form-run', type: 'submit' }, 'Run')
  };

  constructor(private context: IPipelineViewContext) {
    super();
    this.id = PIPELINE_VIEW_ID;
    this.addClass('jp-DataOps');
    this.addClass('jp-DataOps-pipeview');
    this.title.label = 'Pipeline';
    this.title.caption = 'The pipeline DAG and run options';
    this.title.closable = true;
    this.starter = new RunStarter(context.api, {
      changed: () => this.render(),
      report: error => this.report(error),
      started: async runId => {
        context.runStarted(runId);
        await this.refresh();
        this.schedule();
      }
    });
    this.graph.setAttribute('class', 'jp-DataOps-graph jp-DataOps-viewgraph');
    this.graph.setAttribute('data-testid', 'dataops-pipelineview-graph');
    this.graph.append(this.viewport);
    this.canvas.append(this.graph, this.legendBox);
    const form = h('form', { class: 'jp-DataOps-runform', 'data-testid': 'dataops-run-form', onsubmit: (e: Event) => { e.preventDefault(); this.submit(); } },
      h('h3', {}, 'Run'),
      field('Parameters (-p)', this.form.params, 'override the steps\' parameters'),
      field('Only (--only)', this.form.only, 'run just these steps'),
      field('From (--from)', this.form.from, 'this step and everything below it'),
      field('Environment (--env)', this.form.env, 'empty: the one the sidebar shows'),
      h('label', { class: 'jp-DataOps-toggle' }, this.form.force, ' Force (--force): run steps even when fresh'),
      h('div', { class: 'jp-DataOps-toolbar' }, this.form.run));
    this.side.append(this.live_, form, this.card);
    const body = h('div', { class: 'jp-DataOps-pipebody' }, this.canvas, this.side);
    this.node.append(this.header, this.message, body);
    this.listen();
  }

  async refresh(): Promise<void> {
    try {
      const wasLive = this.live !== null;
      const { pipeline, live } = await loadPipeline(this.context.api);
      this.pipeline = pipeline;
      this.live = live;
      if (this.showDatasets && (this.flows === null || (wasLive && !live))) {
        this.flows = (await this.context.api.dataflow()).steps;
      }
      this.render();
    } catch (error) {
      this.report(error);
    }
  }

  /** Is a run going on, or being started? */
  get busy(): boolean {
    return this.live !== null || this.starter.starting;
  }

  report(error: unknown): void {
    const text = error ? messageOf(error) : '';
    clear(this.message, text ? h('span', { class: 'jp-DataOps-grow' }, text) : null,
      text ? h('button', { class: 'jp-DataOps-close', title: 'Dismiss', 'aria-label': 'Dismiss', onclick: () => this.report(null) }, '×') : null);
    this.message.classList.toggle('jp-mod-visible', Boolean(text));
  }

  select(name: string | null): void {
    this.selected = name;
    this.render();
  }

  setDatasets(show: boolean): void {
    this.showDatasets = show;
    this.placed = false;
    if (show && this.flows === null) {
      void this.refresh();
    } else {
      this.render();
    }
  }

  /** Show the whole DAG. */
  fit(): void {
    const box = this.graph.getBoundingClientRect();
    if (!this.plan || box.width <= 0 || box.height <= 0) {
      return;
    }
    this.placed = true;
    this.setTransform(fit(this.plan, box));
  }

  zoomBy(factor: number, at?: { x: number; y: number }): void {
    const box = this.graph.getBoundingClientRect();
    this.placed = true;
    this.setTransform(zoom(this.transform, factor, at?.x ?? box.width / 2, at?.y ?? box.height / 2));
  }

  private setTransform(transform: ITransform): void {
    this.transform = transform;
    const { x, y, scale } = transform;
    this.viewport.setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${scale.toFixed(4)})`);
    this.graph.dataset.scale = scale.toFixed(4);
  }

  private render(): void {
    const pipeline = this.pipeline;
    if (!pipeline) {
      return;
    }
    const started = performance.now();
    const busy = this.busy;
    const steps = graphNodes(pipeline, this.live);
    const flows = this.showDatasets ? this.flows : null;
    const plan = layout(steps, flows);
    const shape = plan.nodes.map(n => n.id).join('\n');
    if (this.plan && shape !== this.plan.nodes.map(n => n.id).join('\n')) {
      this.placed = false; // steps or datasets came or went
    }
    this.plan = plan;
    const { defs, group } = drawLayout(plan, steps, {
      selected: this.selected,
      onSelect: name => this.select(name),
      onDataset: name => this.context.openDataset(name),
      marker: 'dataops-view-arrow'
    });
    this.viewport.replaceChildren(group);
    this.graph.querySelector('defs')?.remove();
    this.graph.prepend(defs);
    if (!this.placed) {
      this.fit();
    }
    this.graph.dataset.datasets = String(plan.nodes.filter(n => n.kind === 'dataset').length);

    const toggle = h('input', { type: 'checkbox', 'data-testid': 'dataops-view-datasets', onchange: (e: Event) => this.setDatasets((e.target as HTMLInputElement).checked) });
    toggle.checked = this.showDatasets;
    clear(this.header,
      h('strong', {}, pipeline.name),
      h('span', { class: 'jp-DataOps-muted' }, `${pipeline.steps.length} steps · ${pipeline.environment}`),
      h('label', { class: 'jp-DataOps-toggle' }, toggle, ' Datasets'),
      h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-view-zoomin', title: 'Zoom in', 'aria-label': 'Zoom in', onclick: () => this.zoomBy(1.25) }, '+'),
      h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-view-zoomout', title: 'Zoom out', 'aria-label': 'Zoom out', onclick: () => this.zoomBy(0.8) }, '−'),
      h('button', { class: 'jp-mod-styled', 'data-testid': 'dataops-view-fit', title: 'Show the whole pipeline', onclick: () => this.fit() }, 'Fit'),
      h('span', { class: 'jp-DataOps-muted' }, 'Drag to pan, wheel to zoom.'));
    clear(this.legendBox, legend(pipeline, ...(flows ? [h('span', { class: 'jp-DataOps-key jp-DataOps-datasetkey', 'data-status': 'dataset' }, 'dataset')] : [])));
    clear(this.live_, liveLine(this.starter.starting, this.live, runId => this.context.openRun(runId)));

    const steps_ = pipeline.steps.map(s => s.name);
    if (this.form.from.options.length !== steps_.length + 1) {
      const chosen = this.form.from.value;
      clear(this.form.from, h('option', { value: '' }, '(all steps)'), ...steps_.map(s => h('option', { value: s }, s)));
      this.form.from.value = steps_.includes(chosen) ? chosen : '';
    }
    this.form.env.placeholder = pipeline.environment;
    this.form.run.disabled = busy;
    this.form.run.textContent = this.starter.starting ? 'Starting…' : this.live ? 'Running…' : 'Run';
    this.form.run.title = busy ? 'A run is going on: wait for it to end.' : '';
    this.renderCard();
    this.graph.dataset.drawMs = (performance.now() - started).toFixed(1);
  }

  private renderCard(): void {
    const step = this.pipeline?.steps.find(s => s.name === this.selected);
    if (!step) {
      clear(this.card, h('p', { class: 'jp-DataOps-muted' }, 'Click a step for its details; a dataset for its page.'));
      return;
    }
    const useIn = (testid: string, label: string, apply: () => void) =>
      h('button', { class: 'jp-mod-styled', 'data-testid': testid, type: 'button', onclick: () => apply() }, label);
    clear(this.card, stepCard(step, stepView(step, this.live), {
      open: () => this.context.openFile(step.notebook),
      openExecuted: (runId: string) => this.context.openExecuted(runId, step.name),
      actions: [
        useIn('dataops-card-only', 'Only this step', () => { this.form.only.value = step.name; this.form.from.value = ''; }),
        useIn('dataops-card-from', 'From here', () => { this.form.from.value = step.name; this.form.only.value = ''; })
      ]
    }));
  }

  private submit(): void {
    if (!this.pipeline || this.busy) {
      return;
    }
    const request: IStartRun | string = runRequest({
      params: this.form.params.value, only: this.form.only.value, from: this.form.from.value,
      env: this.form.env.value, force: this.form.force.checked
    }, this.pipeline.steps.map(s => s.name));
    if (typeof request === 'string') {
      this.report(request);
      return;
    }
    void this.starter.start(request);
  }

  /** Pan by dragging the background, zoom with the wheel about the pointer. */
  private listen(): void {
    let drag: { x: number; y: number; from: ITransform } | null = null;
    this.graph.addEventListener('pointerdown', event => {
      if ((event.target as Element).closest('.jp-DataOps-node') || event.button !== 0) {
        return;
      }
      drag = { x: event.clientX, y: event.clientY, from: this.transform };
      this.graph.setPointerCapture(event.pointerId);
      this.graph.classList.add('jp-mod-dragging');
    });
    this.graph.addEventListener('pointermove', event => {
      if (drag) {
        this.placed = true;
        this.setTransform({ ...drag.from, x: drag.from.x + event.clientX - drag.x, y: drag.from.y + event.clientY - drag.y });
      }
    });
    const end = (event: PointerEvent) => {
      if (drag) {
        drag = null;
        this.graph.releasePointerCapture(event.pointerId);
        this.graph.classList.remove('jp-mod-dragging');
      }
    };
    this.graph.addEventListener('pointerup', end);
    this.graph.addEventListener('pointercancel', end);
    this.graph.addEventListener('wheel', event => {
      event.preventDefault();
      const box = this.graph.getBoundingClientRect();
      this.zoomBy(Math.exp(-event.deltaY * 0.0015), { x: event.clientX - box.left, y: event.clientY - box.top });
    }, { passive: false });
  }

  // shown as a tab is chosen, or attached visible (the first tab of an empty main area)
  protected onAfterShow(): void {
    void this.refresh().then(() => this.schedule());
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      void this.refresh().then(() => this.schedule());
    }
  }

  protected onAfterHide(): void {
    window.clearTimeout(this.timer);
  }

  protected onResize(): void {
    if (!this.placed) {
      this.fit();
    }
  }

  /** Poll quickly while a run goes on, slowly otherwise; only while the view shows. */
  private schedule(): void {
    window.clearTimeout(this.timer);
    const delay = this.busy ? this.context.refreshMs() : this.context.refreshMs() * 5;
    this.timer = window.setTimeout(async () => {
      if (this.isVisible) {
        await this.refresh();
        this.schedule();
      }
    }, delay);
  }

  /** Closing the tab ends the view (the command makes a new one). */
  protected onCloseRequest(msg: Message): void {
    super.onCloseRequest(msg);
    this.dispose();
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }
}

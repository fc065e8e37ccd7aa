import { ILiveRun, ILiveStep } from './api';
import { badge, clear, duration, h } from './dom';

/** How often a running run is asked for again. */
export const LIVE_EVERY_MS = 1000;

/** A running run as it goes: each running step's current cell, elapsed time and output tail,
 * refreshed until the run ends (then `ended` is called once). */
export class LiveView {
  readonly node = h('div', { class: 'jp-DataOps-live', 'data-testid': 'dataops-live' });
  private timer = 0;
  private stopped = false;

  constructor(
    private fetch: () => Promise<ILiveRun>,
    private ended: (run: ILiveRun) => void
  ) {}

  start(): this {
    void this.tick();
    return this;
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) {
      return;
    }
    try {
      const run = await this.fetch();
      this.render(run);
      if (run.status !== 'running') {
        this.stop();
        this.ended(run);
        return;
      }
    } catch (error) {
      clear(this.node, h('p', { class: 'jp-DataOps-muted' }, `Live view unavailable: ${error instanceof Error ? error.message : String(error)}`));
    }
    if (!this.stopped) {
      this.timer = window.setTimeout(() => void this.tick(), LIVE_EVERY_MS);
    }
  }

  private render(run: ILiveRun): void {
    const running = run.steps.filter(s => s.status === 'running');
    this.node.setAttribute('data-status', run.status);
    clear(
      this.node,
      running.length
        ? h('div', {}, ...running.map(step => this.step(step)))
        : h('p', { class: 'jp-DataOps-muted' }, run.status === 'running' ? 'Waiting for the next step to start.' : `Run ${run.status}.`)
    );
  }

  private step(step: ILiveStep): HTMLElement {
    const live = step.live;
    const where = live?.cell ? `cell ${live.cell} of ${live.cells}` : 'starting';
    return h(
      'div',
      { class: 'jp-DataOps-livestep', 'data-testid': 'dataops-live-step', 'data-step': step.step },
      h('div', { class: 'jp-DataOps-row' },
        badge('running'),
        h('strong', { class: 'jp-DataOps-grow' }, step.step),
        h('span', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-live-cell' }, where),
        h('span', { class: 'jp-DataOps-muted', 'data-testid': 'dataops-live-elapsed' },
          live?.elapsed_s !== null && live?.elapsed_s !== undefined ? duration(live.elapsed_s) : '')),
      live?.code ? h('pre', { class: 'jp-DataOps-livecode', 'data-testid': 'dataops-live-code' }, live.code) : null,
      live?.cell_elapsed_s !== null && live?.cell_elapsed_s !== undefined
        ? h('div', { class: 'jp-DataOps-muted' }, `this cell: ${duration(live.cell_elapsed_s)}`)
        : null,
      h('pre', { class: 'jp-DataOps-livetail', 'data-testid': 'dataops-live-tail' }, live?.output_tail || '(no output yet)')
    );
  }
}

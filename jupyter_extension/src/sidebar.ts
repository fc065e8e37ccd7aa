import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './api';
import { CatalogSection } from './catalog';
import { IPanelContext, ISection, messageOf } from './context';
import { clear, h } from './dom';
import { EnvironmentBar } from './environments';
import { RunWatcher } from './notify';
import { PipelineSection } from './pipeline';
import { QualitySection } from './quality';
import { RunsSection } from './runs';

/** The "DataOps" sidebar: Pipeline, Runs, Catalog and Quality, refreshed on a timer. */
export class DataOpsSidebar extends Widget {
  readonly pipeline: PipelineSection;
  readonly catalog: CatalogSection;
  readonly quality: QualitySection;
  readonly runs: RunsSection;
  readonly watcher: RunWatcher;
  private readonly api: DataOpsClient;
  readonly environments: EnvironmentBar;
  private environmentsLoaded = false;
  private sections: ISection[];
  private current: ISection;
  private tabs = h('div', { class: 'jp-DataOps-tabs', role: 'tablist' });
  private body = h('div', { class: 'jp-DataOps-body' });
  private message = h('div', { class: 'jp-DataOps-message', 'data-testid': 'dataops-message', role: 'alert' });
  private timer = 0;
  private following: string | null = null;
  private reported = '';
  private refreshError = '';
  /** The Quality tab's count of open failures, and the environment it was counted for. */
  private failures = h('span', { class: 'jp-DataOps-tabcount', 'data-testid': 'dataops-open-failures' });
  private countedFor: string | null | undefined = undefined;

  constructor(
    context: Omit<IPanelContext, 'showDataset' | 'runStarted' | 'report' | 'runFrom' | 'showQuality'>,
    private refreshMs: () => number,
    /** Bring the sidebar into view (a notification's action). */
    private reveal: () => void = () => undefined
  ) {
    super();
    this.api = context.api;
    this.id = 'dataops-sidebar';
    this.addClass('jp-DataOps');
    this.title.caption = 'DataOps';
    const shared: IPanelContext = {
      ...context,
      showDataset: name => this.showDataset(name),
      showQuality: () => this.showSection(this.quality),
      runFrom: step => {
        this.showSection(this.pipeline);
        void this.pipeline.start({ mode: 'from', step, force: false });
      },
      runStarted: runId => this.follow(runId),
      report: error => this.report(error)
    };
    this.pipeline = new PipelineSection(shared);
    this.catalog = new CatalogSection(shared);
    this.quality = new QualitySection(shared);
    this.quality.onCount = count => this.showCount(count);
    this.runs = new RunsSection(shared);
    this.sections = [this.pipeline, this.runs, this.catalog, this.quality];
    this.watcher = new RunWatcher(context.api, refreshMs, {
      showRun: runId => {
        this.reveal();
        this.showSection(this.runs);
        this.runs.reveal(runId);
      },
      openExecuted: context.openExecuted,
      showQuality: () => {
        this.reveal();
        this.showSection(this.quality);
      }
    }, () => {
      void this.countFailures();
      if (this.isVisible) {
        void this.refresh();
      }
    });
    this.current = this.sections[0];
    this.environments = new EnvironmentBar(context.api, () => void this.refresh(), error => this.report(error));
    this.node.append(this.environments.node, this.tabs, this.message, this.body);
    this.renderTabs();
  }

  /** The Catalog panel on this dataset. */
  showDataset(name: string): void {
    this.showSection(this.catalog);
    void this.catalog.show(name);
  }

  /** A run started elsewhere (the pipeline view): follow it until it ends. */
  follow(runId: string): void {
    this.following = runId;
    this.watcher.watch(runId);
    this.schedule(true);
  }

  section(id: string): ISection | undefined {
    return this.sections.find(s => s.id === id);
  }

  showSection(section: ISection): void {
    this.current = section;
    this.renderTabs();
    void this.refresh();
  }

  private renderTabs(): void {
    clear(
      this.tabs,
      ...this.sections.map(section =>
        h('button', {
          class: `jp-DataOps-tab${section === this.current ? ' jp-mod-current' : ''}`,
          role: 'tab',
          'data-testid': `dataops-tab-${section.id}`,
          onclick: () => this.showSection(section)
        }, section.label, section === this.quality ? this.failures : null)
      )
    );
    clear(this.body, this.current.node);
  }

  /** An action's refusal or failure: it stays until the next action or until closed. */
  report(error: unknown): void {
    this.reported = error ? messageOf(error) : '';
    this.showMessage();
  }

  private showMessage(): void {
    const text = this.reported || this.refreshError;
    clear(this.message, text ? h('span', { class: 'jp-DataOps-grow' }, text) : null,
      this.reported ? h('button', { class: 'jp-DataOps-close', title: 'Dismiss', 'aria-label': 'Dismiss', onclick: () => this.report(null) }, '×') : null);
    this.message.classList.toggle('jp-mod-visible', Boolean(text));
  }

  /** Ask the server how many failures are open (after a run, a decision, a change of environment). */
  async countFailures(): Promise<void> {
    try {
      this.showCount((await this.api.reviews()).open_failures);
    } catch {
      // the panels' own refresh says what is wrong with the server
    }
  }

  private showCount(count: number): void {
    this.countedFor = this.api.env;
    this.failures.textContent = count ? String(count) : '';
    this.failures.title = `${count} open failure${count === 1 ? '' : 's'} to review`;
    this.failures.setAttribute('data-count', String(count));
    this.failures.classList.toggle('jp-mod-visible', count > 0);
  }

  async refresh(): Promise<void> {
    const wasBusy = this.pipeline.busy;
    try {
      if (!this.environmentsLoaded) {
        await this.environments.load(); // before any panel asks: they all read the chosen one
        this.environmentsLoaded = true;
      }
      await this.current.refresh();
      if (this.current !== this.quality && (this.countedFor !== this.api.env || (wasBusy && !this.pipeline.busy))) {
        await this.countFailures(); // first shown, another environment, or a run just ended
      }
      this.environments.shows(this.current.label, this.current.environment);
      if (this.current !== this.pipeline && this.following) {
        await this.pipeline.refresh(); // keeps `busy` right while another panel shows
      }
      this.refreshError = '';
    } catch (error) {
      this.refreshError = messageOf(error);
    }
    this.showMessage();
    if (this.following && !this.pipeline.busy) {
      this.following = null;
    }
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.schedule(false);
  }

  protected onAfterHide(): void {
    window.clearTimeout(this.timer);
  }

  /** Poll quickly while a run goes on, slowly otherwise; only while the sidebar shows. */
  private schedule(now: boolean): void {
    window.clearTimeout(this.timer);
    const delay = now ? 0 : this.following || this.pipeline.busy ? this.refreshMs() : this.refreshMs() * 5;
    this.timer = window.setTimeout(async () => {
      if (this.isVisible) {
        await this.refresh();
        this.schedule(false);
      }
    }, delay);
  }
}

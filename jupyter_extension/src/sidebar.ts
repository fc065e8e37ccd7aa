import { Widget } from '@lumino/widgets';

import { CatalogSection } from './catalog';
import { IPanelContext, ISection, messageOf } from './context';
import { clear, h } from './dom';
import { EnvironmentBar } from './environments';
import { PipelineSection } from './pipeline';
import { QualitySection } from './quality';
import { RunsSection } from './runs';

/** The "DataOps" sidebar: Pipeline, Runs, Catalog and Quality, refreshed on a timer. */
export class DataOpsSidebar extends Widget {
  readonly pipeline: PipelineSection;
  readonly catalog: CatalogSection;
  readonly quality: QualitySection;
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

  constructor(
    context: Omit<IPanelContext, 'showDataset' | 'runStarted' | 'report' | 'runFrom' | 'showQuality'>,
    private refreshMs: () => number
  ) {
    super();
    this.id = 'dataops-sidebar';
    this.addClass('jp-DataOps');
    this.title.caption = 'DataOps';
    const shared: IPanelContext = {
      ...context,
      showDataset: name => {
        this.showSection(this.catalog);
        void this.catalog.show(name);
      },
      showQuality: () => this.showSection(this.quality),
      runFrom: step => {
        this.showSection(this.pipeline);
        void this.pipeline.start({ mode: 'from', step, force: false });
      },
      runStarted: runId => {
        this.following = runId;
        this.schedule(true);
      },
      report: error => this.report(error)
    };
    this.pipeline = new PipelineSection(shared);
    this.catalog = new CatalogSection(shared);
    this.quality = new QualitySection(shared);
    this.sections = [this.pipeline, new RunsSection(shared), this.catalog, this.quality];
    this.current = this.sections[0];
    this.environments = new EnvironmentBar(context.api, () => void this.refresh(), error => this.report(error));
    this.node.append(this.environments.node, this.tabs, this.message, this.body);
    this.renderTabs();
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
        }, section.label)
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

  async refresh(): Promise<void> {
    try {
      if (!this.environmentsLoaded) {
        await this.environments.load(); // before any panel asks: they all read the chosen one
        this.environmentsLoaded = true;
      }
      await this.current.refresh();
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

import { Notification } from '@jupyterlab/apputils';

import { DataOpsClient, IRun } from './api';
import { runNotice } from './notice';

/** Where a notice's actions lead. */
export interface INoticeActions {
  showRun(runId: string): void;
  openExecuted(runId: string, step: string): void;
  showQuality(): void;
}

/**
 * Runs started from this Lab, watched until they end, whichever panel shows (or none): each end is
 * a Lab notification. The watched ids outlive a page reload (sessionStorage).
 */
export class RunWatcher {
  private watched = new Set<string>();

  constructor(
    private api: DataOpsClient,
    private everyMs: () => number,
    private actions: INoticeActions,
    private ended: (run: IRun) => void
  ) {
    for (const runId of this.stored()) {
      this.watch(runId);
    }
  }

  watch(runId: string): void {
    if (this.watched.has(runId)) {
      return;
    }
    this.watched.add(runId);
    this.store();
    void this.poll(runId);
  }

  private async poll(runId: string): Promise<void> {
    let run: IRun | null = null;
    try {
      run = await this.api.run(runId);
    } catch {
      run = null; // the server is restarting, or the run is not in the ledger yet: ask again
    }
    if (run && run.status !== 'running') {
      this.watched.delete(runId);
      this.store();
      this.notify(run);
      this.ended(run);
      return;
    }
    window.setTimeout(() => void this.poll(runId), Math.max(500, this.everyMs()));
  }

  private notify(run: IRun): void {
    const notice = runNotice(run);
    const actions: Notification.IAction[] = [];
    if (notice.notebook) {
      const step = notice.notebook;
      actions.push({ label: 'Open notebook', caption: `The executed notebook of step ${step}`, displayType: 'accent',
        callback: () => this.actions.openExecuted(run.run_id, step) });
    }
    if (notice.review) {
      actions.push({ label: 'Review', caption: 'The Quality panel', callback: () => this.actions.showQuality() });
    }
    actions.push({ label: 'Show run', caption: 'The run in the Runs panel', callback: () => this.actions.showRun(run.run_id) });
    // a failure stays until dismissed; the rest close by themselves
    Notification.emit(notice.message, notice.type, { autoClose: notice.type === 'error' ? false : 8000, actions });
  }

  private key(): string {
    return `dataops-nb:watched:${this.api.project}`;
  }

  private stored(): string[] {
    try {
      return JSON.parse(window.sessionStorage.getItem(this.key()) ?? '[]');
    } catch {
      return [];
    }
  }

  private store(): void {
    window.sessionStorage.setItem(this.key(), JSON.stringify([...this.watched]));
  }
}

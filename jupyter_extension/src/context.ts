import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';

import { DataOpsClient } from './api';

/** What the panels share: opening documents, the active notebook, cross-panel links. */
export interface IPanelContext {
  api: DataOpsClient;
  docManager: IDocumentManager;
  notebooks: INotebookTracker;
  /** Directory of the project relative to the server root ('' when it is the root). */
  projectDir(): string;
  /** Open a project file (a step notebook) in the main area. */
  openFile(projectPath: string): void;
  /** Open a step's executed notebook of a run, read-only, in the main area. */
  openExecuted(runId: string, step: string): void;
  /** Open the dataset's page in the main area. */
  openDataset(name: string): void;
  /** Open the run's view in the main area. */
  openRun(runId: string): void;
  /** Open the pipeline view in the main area. */
  openPipelineView(): void;
  /** Switch to the Catalog panel on this dataset. */
  showDataset(name: string): void;
  /** A run was started: panels poll until it ends. */
  runStarted(runId: string): void;
  /** Show what an action did, or why it was refused, in the message line (it stays until the next). */
  report(error: unknown): void;
  /** Switch to the Quality panel. */
  showQuality(): void;
  /** Show the Pipeline panel and run a step and what is stale below it. */
  runFrom(step: string): void;
}

/** A panel of the sidebar. */
export interface ISection {
  readonly id: string;
  readonly label: string;
  readonly node: HTMLElement;
  /** The environment its last answer was for (the sidebar says it), when it reads one. */
  readonly environment?: string | null;
  refresh(): Promise<void>;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { Contents, ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './api';

/** The drive of executed notebooks: `DataOpsRuns:<run id>/<step>.ipynb`. */
export const RUNS_DRIVE = 'DataOpsRuns';

export function executedPath(runId: string, step: string): string {
  return `${RUNS_DRIVE}:${runId}/${step}.ipynb`;
}

export function isExecuted(path: string): boolean {
  return path.startsWith(`${RUNS_DRIVE}:`);
}

function readOnly(): Promise<never> {
  return Promise.reject(new Error('Executed notebooks are read-only.'));
}

/**
 * Executed notebooks of past runs, read through GET /dataops/runs/{id}/notebooks/{step};
 * every write is refused, and the server's contents API keeps hiding `.dataops/`.
 */
export class RunsDrive implements Contents.IDrive {
  readonly name = RUNS_DRIVE;
  readonly serverSettings = ServerConnection.makeSettings();
  // an executed notebook never changes, so there is no change to signal
  readonly fileChanged: Contents.IDrive['fileChanged'] = { connect: () => true, disconnect: () => true };
  isDisposed = false;

  get(localPath: string): Promise<Contents.IModel> {
    const [runId, file, ...rest] = localPath.split('/');
    if (!runId || !file?.endsWith('.ipynb') || rest.length) {
      return Promise.reject(new Error(`'${localPath}' is not RUN_ID/STEP.ipynb.`));
    }
    const step = file.slice(0, -'.ipynb'.length);
    return requestAPI<Contents.IModel>(`runs/${encodeURIComponent(runId)}/notebooks/${encodeURIComponent(step)}`);
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    throw new Error(`'${localPath}' is served by the DataOps API and has no download URL.`);
  }

  newUntitled = readOnly;
  delete = readOnly;
  rename = readOnly;
  save = readOnly;
  copy = readOnly;
  createCheckpoint = readOnly;
  restoreCheckpoint = readOnly;
  deleteCheckpoint = readOnly;

  dispose(): void {
    this.isDisposed = true;
  }
}

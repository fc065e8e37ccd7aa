import { Contents, ServerConnection } from '@jupyterlab/services';

import { DataOpsClient } from './api';

/** The drive of executed notebooks: `DataOpsRuns:<run id>/<step>.ipynb`. */
export const RUNS_DRIVE = 'DataOpsRuns';

export function executedPath(runId: string, step: string): string {
  return `${RUNS_DRIVE}:${runId}/${step}.ipynb`;
}

export function isExecuted(path: string): boolean {
  return path.startsWith(`${RUNS_DRIVE}:`);
}

function readOnly(what: string): () => Promise<never> {
  return () => Promise.reject(new Error(`Executed notebooks are read-only (${what}).`));
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

  constructor(private api: DataOpsClient) {}

  get(localPath: string): Promise<Contents.IModel> {
    const [runId, file, ...rest] = localPath.split('/');
    if (!runId || !file?.endsWith('.ipynb') || rest.length) {
      return Promise.reject(new Error(`'${localPath}' is not RUN_ID/STEP.ipynb.`));
    }
    const step = file.slice(0, -'.ipynb'.length);
    return this.api.executedNotebook(runId, step);
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    throw new Error(`'${localPath}' is served by the DataOps API and has no download URL.`);
  }

  newUntitled = readOnly('newUntitled');
  delete = readOnly('delete');
  rename = readOnly('rename');
  save = readOnly('save');
  copy = readOnly('copy');
  createCheckpoint = readOnly('createCheckpoint');
  restoreCheckpoint = readOnly('restoreCheckpoint');
  deleteCheckpoint = readOnly('deleteCheckpoint');

  dispose(): void {
    this.isDisposed = true;
  }
}

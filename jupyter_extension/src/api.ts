import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answered by the /dataops/ API, with its one-sentence message. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** The project directory (relative to the server root) every request names. */
let projectPath = '';

export function setProject(path: string): void {
  projectPath = path;
}

/** Call the /dataops/ API; JSON in, JSON out; errors become APIError. */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  query: Record<string, string> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const params = new URLSearchParams({ ...query, project: projectPath });
  const url = URLExt.join(settings.baseUrl, 'dataops', endPoint) + '?' + params.toString();
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    throw new APIError(response.status, data.message || response.statusText);
  }
  return data as T;
}

export function post<T>(endPoint: string, body: unknown): Promise<T> {
  return requestAPI<T>(endPoint, { method: 'POST', body: JSON.stringify(body) });
}

export interface ISettings {
  kit_version: string;
  extension_version: string;
  project: string | null;
  project_name: string | null;
}

export interface IPipelineStep {
  name: string;
  notebook: string;
  needs: string[];
  description: string;
  state: 'fresh' | 'stale';
  reasons: string[];
  last_status: string | null;
  last_run: string | null;
}

export interface IPipeline {
  name: string;
  steps: IPipelineStep[];
  edges: [string, string][];
  running: string | null;
}

export interface IStepRun {
  name: string;
  status: string;
  attempt: number | null;
  started_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  output_notebook: string | null;
  error: string | null;
}

export interface IRun {
  run_id: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  user: string | null;
  environment: string | null;
  steps: IStepRun[];
}

export interface IListing<T> {
  items: T[];
}

import { URLExt } from '@jupyterlab/coreutils';
import { Contents, ServerConnection } from '@jupyterlab/services';

/** An error answered by the /dataops/ API, with its one-sentence message. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export interface ISettings {
  kit_version: string;
  extension_version: string;
  project: string | null;
  project_name: string | null;
}

/** One step in one run (`error` reads `cell N: Error: message` when a cell raised). */
export interface IStepRun {
  name: string;
  status: string;
  attempt: number | null;
  started_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  output_notebook: string | null;
  error: string | null;
  /** Checks of the versions it published that ended `warn`. */
  warnings: number;
}

export interface IStepOutcome extends IStepRun {
  run_id: string;
}

export interface IPipelineStep {
  name: string;
  notebook: string;
  needs: string[];
  description: string;
  /** Freshness: would a run re-execute it? */
  state: 'fresh' | 'stale';
  reasons: string[];
  last_status: string | null;
  last_run: string | null;
  /** The step's latest run or skip. */
  outcome: IStepOutcome | null;
}

export interface IPipeline {
  name: string;
  steps: IPipelineStep[];
  edges: [string, string][];
  running: string | null;
}

export interface IRun {
  run_id: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  user: string | null;
  environment: string | null;
  message: string | null;
  selection: string[];
  warnings: number;
  steps: IStepRun[];
}

export interface IListing<T> {
  items: T[];
}

export interface IHit {
  name: string;
  description: string;
  owner: string | null;
  tags: string[];
}

export interface ITemplate {
  name: string;
  description: string;
}

export interface IStartRun {
  mode: 'all' | 'only' | 'from';
  step?: string | null;
  force?: boolean;
  env?: string | null;
}

export interface INewStep {
  name: string;
  template: string;
  needs: string[];
}

export interface IFailure {
  id: number;
  dataset: string;
  version: string;
  version_status: string;
  run_id: string | null;
  step: string | null;
  check: string;
  column: string | null;
  status: string;
  failing: number | null;
  fraction: number | null;
  rows: number | null;
  message: string | null;
  sample: Record<string, unknown>[];
}

export interface IQuarantined {
  dataset: string;
  version: string;
  run_id: string | null;
  step: string | null;
  rows: number | null;
  created_at: string;
}

export interface IReviews {
  failures: IFailure[];
  quarantined: IQuarantined[];
}

export interface IDecision {
  target: string;
  decision: 'accept' | 'waive' | 'quarantine' | 'comment';
  reason: string;
}

export interface IDecided {
  id: number;
  target: string;
  dataset: string;
  version: string;
  decision: string;
  effect: string;
}

/** A dataset page (see dataops_nb/metadata/pages.py). */
export type DatasetPage = Record<string, any>;

/**
 * The /dataops/ API: one method per route. Every request names the project directory
 * (relative to the server root) the client was told about.
 */
export class DataOpsClient {
  project = '';

  constructor(private makeSettings: () => ServerConnection.ISettings = () => ServerConnection.makeSettings()) {}

  async request<T>(endPoint: string, init: RequestInit = {}, query: Record<string, string> = {}): Promise<T> {
    const settings = this.makeSettings();
    const params = new URLSearchParams({ ...query, project: this.project });
    const url = URLExt.join(settings.baseUrl, 'dataops', endPoint) + '?' + params.toString();
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, settings);
    } catch (error) {
      throw new ServerConnection.NetworkError(error as TypeError);
    }
    const text = await response.text();
    let data: any = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { message: text.slice(0, 200) };
    }
    if (!response.ok) {
      throw new APIError(response.status, data.message || response.statusText);
    }
    return data as T;
  }

  private post<T>(endPoint: string, body: unknown): Promise<T> {
    return this.request<T>(endPoint, { method: 'POST', body: JSON.stringify(body) });
  }

  settings(): Promise<ISettings> {
    return this.request('settings');
  }

  pipeline(): Promise<IPipeline> {
    return this.request('pipeline');
  }

  runs(limit = 30): Promise<IListing<IRun>> {
    return this.request('runs', {}, { limit: String(limit) });
  }

  run(runId: string): Promise<IRun> {
    return this.request(`runs/${encodeURIComponent(runId)}`);
  }

  startRun(request: IStartRun): Promise<{ run_id: string }> {
    return this.post('runs', request);
  }

  executedNotebook(runId: string, step: string): Promise<Contents.IModel> {
    return this.request(`runs/${encodeURIComponent(runId)}/notebooks/${encodeURIComponent(step)}`);
  }

  search(q: string): Promise<IListing<IHit>> {
    return this.request('catalog', {}, { q });
  }

  dataset(name: string): Promise<DatasetPage> {
    return this.request(`catalog/${encodeURIComponent(name)}`);
  }

  reviews(): Promise<IReviews> {
    return this.request('reviews');
  }

  decide(decision: IDecision): Promise<IDecided> {
    return this.post('reviews', decision);
  }

  templates(): Promise<IListing<ITemplate>> {
    return this.request('templates');
  }

  newStep(step: INewStep): Promise<{ step: string; notebook: string }> {
    return this.post('steps', step);
  }
}

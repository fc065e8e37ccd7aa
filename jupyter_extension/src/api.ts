import { URLExt } from '@jupyterlab/coreutils';
import { Contents, ServerConnection } from '@jupyterlab/services';

// the API's request and response types, generated from the server's pydantic models
import {
  ICancelRequested, IColumnTag, IDataflow, IDatasetDiff, IDatasetPage, IDecided, IDecision, IEnvironmentDetail, IEnvironmentList, IFailure, IHitList, ILineage,
  ILineageRef, ILiveRun, ILiveStep, INewStep, IPageCheck, IPageColumn, IPageVersion, IPipeline, IPipelineStep, IPromote, IPromotion, IQuarantined,
  IReviews, IRun, IRunDatasetDiff, IRunDiff, IRunList, IRunStarted, ISettings, IStartRun, IStepCreated, IStepOutcome, IStepRun, ITemplate, ITemplateList
} from './models';

export type {
  ICancelRequested, IColumnTag, IDataflow, IDatasetDiff, IDatasetPage, IDecided, IDecision, IEnvironmentDetail, IEnvironmentList, IFailure, IHitList, ILineage,
  ILineageRef, ILiveRun, ILiveStep, INewStep, IPageCheck, IPageColumn, IPageVersion, IPipeline, IPipelineStep, IPromote, IPromotion, IQuarantined,
  IReviews, IRun, IRunDatasetDiff, IRunDiff, IRunList, IRunStarted, ISettings, IStartRun, IStepCreated, IStepOutcome, IStepRun, ITemplate, ITemplateList
};

/** An error answered by the /dataops/ API, with its one-sentence message (and a conflict's data). */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: Record<string, any> = {}
  ) {
    super(message);
  }
}

/**
 * The /dataops/ API: one method per route. Every request names the project directory
 * (relative to the server root) the client was told about.
 */
export class DataOpsClient {
  project = '';
  /** The environment every request reads (`?env=`) and runs start in; null: the default one. */
  env: string | null = null;

  constructor(private makeSettings: () => ServerConnection.ISettings = () => ServerConnection.makeSettings()) {}

  async request<T>(endPoint: string, init: RequestInit = {}, query: Record<string, string> = {}): Promise<T> {
    const settings = this.makeSettings();
    const params = new URLSearchParams({ ...(this.env ? { env: this.env } : {}), ...query, project: this.project });
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
      throw new APIError(response.status, data.message || response.statusText, data.fields ?? {});
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

  runs(limit = 30): Promise<IRunList> {
    return this.request('runs', {}, { limit: String(limit) });
  }

  run(runId: string): Promise<IRun> {
    return this.request(`runs/${encodeURIComponent(runId)}`);
  }

  live(runId: string): Promise<ILiveRun> {
    return this.request(`runs/${encodeURIComponent(runId)}/live`);
  }

  /** Ask a running run to stop; it ends `cancelled` within its grace period (409: it is not running). */
  cancelRun(runId: string): Promise<ICancelRequested> {
    return this.post(`runs/${encodeURIComponent(runId)}/cancel`, {});
  }

  startRun(request: IStartRun): Promise<IRunStarted> {
    return this.post('runs', { ...(this.env ? { env: this.env } : {}), ...request });
  }

  /** The data diff of every dataset both runs published (a = `a`, b = `b`), PII masked for the reader. */
  runDiff(a: string, b: string): Promise<IRunDiff> {
    return this.request(`runs/${encodeURIComponent(a)}/diff/${encodeURIComponent(b)}`);
  }

  /** Each step's datasets: what it reads and publishes (read from the notebooks, nothing run). */
  dataflow(): Promise<IDataflow> {
    return this.request('dataflow');
  }

  executedNotebook(runId: string, step: string): Promise<Contents.IModel> {
    return this.request(`runs/${encodeURIComponent(runId)}/notebooks/${encodeURIComponent(step)}`);
  }

  search(q: string): Promise<IHitList> {
    return this.request('catalog', {}, { q });
  }

  /** The dataset page, its preview with `rows` rows (default: the server's, 10). */
  dataset(name: string, rows?: number): Promise<IDatasetPage> {
    return this.request(`catalog/${encodeURIComponent(name)}`, {}, rows === undefined ? {} : { rows: String(rows) });
  }

  /** The datasets and steps upstream and downstream of a dataset, `depth` levels each way (default: the server's, 3). */
  lineage(name: string, depth?: number): Promise<ILineage> {
    return this.request(`lineage/${encodeURIComponent(name)}`, {}, depth === undefined ? {} : { depth: String(depth) });
  }

  reviews(): Promise<IReviews> {
    return this.request('reviews');
  }

  decide(decision: IDecision): Promise<IDecided> {
    return this.post('reviews', decision);
  }

  environments(): Promise<IEnvironmentList> {
    return this.request('environments');
  }

  /** Each dataset an environment reads: its own version or its base's, and whether it differs. */
  environment(name: string): Promise<IEnvironmentDetail> {
    return this.request(`environments/${encodeURIComponent(name)}`);
  }

  /** The dataset as `env` (default: the client's) reads it, against `against` (default: its base). */
  datasetDiff(name: string, against?: string): Promise<IDatasetDiff> {
    return this.request(`catalog/${encodeURIComponent(name)}/diff`, {}, against ? { against } : {});
  }

  promotion(env: string, to?: string): Promise<IPromotion> {
    return this.request(`environments/${encodeURIComponent(env)}/promotion`, {}, to ? { to } : {});
  }

  promote(env: string, request: IPromote): Promise<IPromotion> {
    return this.post(`environments/${encodeURIComponent(env)}/promote`, request);
  }

  templates(): Promise<ITemplateList> {
    return this.request('templates');
  }

  newStep(step: INewStep): Promise<IStepCreated> {
    return this.post('steps', step);
  }
}

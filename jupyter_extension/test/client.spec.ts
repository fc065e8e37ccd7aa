import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

import { ServerConnection } from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { APIError, DataOpsClient } from '../src/api';

/** A real local HTTP server answering like the /dataops/ API; it keeps what it was asked. */
let server: Server;
let base = '';
const asked: { method: string; url: string; body: string; auth: string }[] = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', chunk => (body += chunk));
    request.on('end', () => {
      asked.push({ method: request.method!, url: request.url!, body, auth: String(request.headers.authorization ?? '') });
      const path = new URL(request.url!, 'http://x').pathname;
      const answer = (code: number, data: string) => {
        response.writeHead(code, { 'Content-Type': 'application/json' });
        response.end(data);
      };
      if (path === '/dataops/pipeline') {
        answer(200, JSON.stringify({ name: 'flights', steps: [], edges: [], running: null }));
      } else if (path === '/dataops/runs' && request.method === 'POST') {
        answer(409, JSON.stringify({ error: 'ConflictError', message: 'A run is already going on (run r1).' }));
      } else if (path === '/dataops/runs/r1/cancel' && request.method === 'POST') {
        answer(202, JSON.stringify({ run_id: 'r1', requested_by: 'alice', grace_s: 10, status: 'running' }));
      } else if (path === '/dataops/runs/r2/cancel' && request.method === 'POST') {
        answer(409, JSON.stringify({ error: 'NotRunningError', message: 'Run r2 is not running (it is success): there is nothing to cancel.',
          fields: { run_id: 'r2', status: 'success' } }));
      } else if (path === '/dataops/lineage/staging.flights') {
        answer(200, JSON.stringify({ dataset: 'staging.flights', environment: 'prod', direction: 'both', depth: 1, nodes: [], edges: [] }));
      } else if (path === '/dataops/environments/dev%20alice') {
        answer(200, JSON.stringify({ environment: 'dev alice', base: 'prod', chain: ['dev alice', 'prod'], default: false, datasets: [] }));
      } else if (path === '/dataops/catalog/staging.flights') {
        answer(502, '<html>bad gateway</html>');
      } else {
        answer(404, JSON.stringify({ message: `no route ${path}` }));
      }
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise<void>(resolve => server.close(() => resolve())));

function client(): DataOpsClient {
  const api = new DataOpsClient(() => ServerConnection.makeSettings({ baseUrl: base, token: 'secret', appendToken: false }));
  api.project = 'projects/flights';
  return api;
}

describe('the typed client', () => {
  it('names the project and sends the token on every request', async () => {
    const pipeline = await client().pipeline();
    expect(pipeline.name).toBe('flights');
    const last = asked[asked.length - 1];
    expect(last.method).toBe('GET');
    expect(new URL(last.url, 'http://x').searchParams.get('project')).toBe('projects/flights');
    expect(last.auth).toBe('token secret');
  });

  it('posts a run request as JSON and turns a refusal into an APIError with its sentence', async () => {
    const refused = await client().startRun({ mode: 'from', step: 'clean' }).catch(e => e);
    expect(refused).toBeInstanceOf(APIError);
    expect(refused.status).toBe(409);
    expect(refused.message).toBe('A run is already going on (run r1).');
    expect(JSON.parse(asked[asked.length - 1].body)).toEqual({ mode: 'from', step: 'clean' });
  });

  it('reads and runs in the environment chosen in the sidebar', async () => {
    const api = client();
    api.env = 'dev-alice';
    await api.pipeline();
    expect(new URL(asked[asked.length - 1].url, 'http://x').searchParams.get('env')).toBe('dev-alice');
    await api.startRun({ mode: 'all' }).catch(() => undefined);
    expect(JSON.parse(asked[asked.length - 1].body)).toEqual({ env: 'dev-alice', mode: 'all' });
  });

  it('asks a run to stop, and says why a run that is not running cannot be', async () => {
    const request = await client().cancelRun('r1');
    expect(request).toEqual({ run_id: 'r1', requested_by: 'alice', grace_s: 10, status: 'running' });
    expect(asked[asked.length - 1].method).toBe('POST');
    const refused = await client().cancelRun('r2').catch(e => e);
    expect(refused).toBeInstanceOf(APIError);
    expect(refused.status).toBe(409);
    expect(refused.message).toBe('Run r2 is not running (it is success): there is nothing to cancel.');
    expect(refused.fields).toEqual({ run_id: 'r2', status: 'success' });
  });

  it('asks for a lineage to a depth, and for one environment by its quoted name', async () => {
    const lineage = await client().lineage('staging.flights', 1);
    expect(lineage.depth).toBe(1);
    expect(new URL(asked[asked.length - 1].url, 'http://x').searchParams.get('depth')).toBe('1');
    const environment = await client().environment('dev alice');
    expect(environment.chain).toEqual(['dev alice', 'prod']);
  });

  it('quotes route parameters, and reports an answer that is not JSON', async () => {
    const failed = await client().dataset('staging.flights').catch(e => e);
    expect(failed).toBeInstanceOf(APIError);
    expect(failed.status).toBe(502);
    expect(failed.message).toBe('<html>bad gateway</html>');
    await client().run('r 1/x').catch(() => undefined);
    expect(asked[asked.length - 1].url.startsWith('/dataops/runs/r%201%2Fx?')).toBe(true);
  });
});

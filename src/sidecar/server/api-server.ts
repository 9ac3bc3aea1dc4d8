import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { WebSocketServer } from 'ws';
import type { Engine } from './engine';
import { ClusterStartError, InputError, NotFoundError } from '../errors';
import { checkBodyHeaders, HttpError, readJson } from './request-body';

/** The status and body that tell the client what went wrong. */
function errorAnswer(error: Error): [number, unknown] {
  if (error instanceof InputError) return [400, { message: error.message, field: error.field }];
  if (error instanceof NotFoundError) return [404, { message: error.message }];
  if (error instanceof HttpError) return [error.status, { message: error.message }];
  if (error instanceof ClusterStartError) return [500, { message: error.message }];
  return [500, { message: `internal error: ${error.message}` }];
}

/**
 * Answers once the request's body has all been read (a GET or an unknown route with one, a
 * body refused before it was read):
 * answering before the client has sent it all breaks its pipe, and the relay turns that
 * into a 500. The usual request is complete already and is answered at once: an owner that
 * exits right after its last answer must have written it.
 */
function answer(request: IncomingMessage, response: ServerResponse, status: number, body: unknown): void {
  if (request.complete) return send(response, status, body);
  request.resume();
  request.once('end', () => send(response, status, body));
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** The REST routes of DESIGN.md, under /api/, answered by the engine. */
async function route(engine: Engine, request: IncomingMessage): Promise<[number, unknown]> {
  const url = new URL(request.url ?? '/', 'http://sidecar');
  const path = url.pathname.replace(/\/+$/, '');
  const method = request.method ?? 'GET';
  checkBodyHeaders(request);
  if (path === '/api/resources' && method === 'GET') return [200, engine.resourcesWithJobfsUse()];
  if (path === '/api/plan' && method === 'POST') return [200, engine.plan(await readJson(request))];
  if (path === '/api/job-script' && method === 'POST') return [200, engine.jobScript(await readJson(request))];
  if (path === '/api/clusters' && method === 'GET') return [200, engine.list()];
  if (path === '/api/clusters' && method === 'POST') {
    const wait = url.searchParams.get('wait');
    if (wait !== null && wait !== 'ready') {
      throw new InputError('wait', `wait must be "ready" (answer once every worker has registered), not ${JSON.stringify(wait)}`);
    }
    const checked = engine.checkClusterRequest(await readJson(request));
    const { cluster, ready } = engine.create(checked);
    ready.catch(() => undefined); // a failed start shows in the cluster's events
    if (wait === 'ready') {
      return [201, await ready];
    }
    return [201, cluster];
  }
  const metricsMatch = /^\/api\/clusters\/([^/]+)\/metrics$/.exec(path);
  if (metricsMatch && method === 'GET') return [200, await engine.get(decodeURIComponent(metricsMatch[1])).metrics()];
  const clusterMatch = /^\/api\/clusters\/([^/]+)$/.exec(path);
  if (clusterMatch) {
    const id = decodeURIComponent(clusterMatch[1]);
    if (method === 'GET') return [200, engine.get(id).state];
    if (method === 'PATCH') return [200, await engine.scale(id, await readJson(request))];
    if (method === 'DELETE') {
      const wait = url.searchParams.get('wait');
      if (wait !== null && wait !== 'stopping' && wait !== 'stopped') {
        throw new InputError(
          'wait',
          `wait must be "stopping" (answer once the stop is committed) or "stopped" (once it is over, the default), not ${JSON.stringify(wait)}`
        );
      }
      return [200, wait === 'stopping' ? engine.beginStop(id) : await engine.stop(id)];
    }
  }
  throw new HttpError(404, `no route ${method} ${path}`);
}

/**
 * The sidecar's HTTP API and `events` WebSocket on a unix socket that only this user can
 * open (mode 0600 in a 0700 directory). The Jupyter server relays to it; dask-hpc down and
 * scale from other processes use it too.
 */
export function serveApi(engine: Engine, socketPath: string): Promise<Server> {
  const server = createServer((request, response) => {
    route(engine, request).then(
      ([status, body]) => answer(request, response, status, body),
      (error: Error) => answer(request, response, ...errorAnswer(error))
    );
  });
  // ws is loaded by the first subscriber: a detached owner that nobody watches starts without it.
  let sockets: Promise<WebSocketServer> | null = null;
  server.on('upgrade', async (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://sidecar').pathname !== '/api/events') {
      socket.destroy();
      return;
    }
    // Node has taken its own error listener off the socket; ws adds one in handleUpgrade.
    const whileLoading = () => socket.destroy();
    socket.on('error', whileLoading);
    let websockets: WebSocketServer;
    try {
      websockets = await (sockets ??= import('ws').then(ws => new ws.WebSocketServer({ noServer: true })));
    } catch {
      socket.destroy(); // no events for this subscriber; the owner and its clusters go on
      return;
    } finally {
      socket.off('error', whileLoading);
    }
    websockets.handleUpgrade(request, socket, head, client => {
      // A new subscriber first gets every cluster as it is now, then changes as they happen.
      for (const cluster of engine.list()) client.send(JSON.stringify({ type: 'cluster', cluster }));
      const forward = (event: unknown) => client.send(JSON.stringify(event));
      engine.on('event', forward);
      client.on('close', () => engine.off('event', forward));
    });
  });
  rmSync(socketPath, { force: true }); // a socket left by a killed process
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

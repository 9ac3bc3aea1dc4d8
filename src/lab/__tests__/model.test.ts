import type { ClusterMetrics, ClusterState, Resources } from '../../common/protocol';
import { DaskHpcModel, type Transport } from '../model';

/** An events socket the test drives: it opens, sends events and closes when told. */
class FakeSocket {
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  send(event: unknown) {
    this.onmessage?.({ data: JSON.stringify(event) });
  }
  close() {
    this.closed = true;
  }
}

const resources = { hostname: 'node1', cores: 2, jobfs_free_bytes: 100 } as Resources;
const cluster = (id: string, status = 'running', created = '2026-01-01T00:00:00Z') =>
  ({ id, name: `c-${id}`, status, created_at: created, workers: [], plan: { n_workers: 2 } }) as unknown as ClusterState;
const figures = (cpu: number): ClusterMetrics => ({
  n_workers: 2,
  memory_bytes: 1,
  memory_limit_bytes: 10,
  spilled_bytes: 0,
  cpu_percent: cpu
});

/** A server of canned answers that records every call. */
function fakeServer(answers: Record<string, (init?: RequestInit) => unknown>) {
  const calls: { path: string; method: string; body?: unknown }[] = [];
  const sockets: FakeSocket[] = [];
  const transport: Transport = {
    async request<T>(path: string, init: RequestInit = {}) {
      calls.push({ path, method: init.method ?? 'GET', body: init.body ? JSON.parse(String(init.body)) : undefined });
      const answer = answers[`${init.method ?? 'GET'} ${path}`];
      if (!answer) throw Object.assign(new Error(`no ${path}`), { status: 404 });
      return answer(init) as T;
    },
    openEvents() {
      sockets.push(new FakeSocket());
      return sockets[sockets.length - 1] as unknown as WebSocket;
    }
  };
  return { transport, calls, sockets };
}

let model: DaskHpcModel;
afterEach(() => model?.dispose());

test('clusters come from the events socket, oldest first, and each change emits stateChanged', () => {
  const server = fakeServer({ 'GET resources': () => resources });
  model = new DaskHpcModel(server.transport, 60000);
  let changes = 0;
  model.stateChanged.connect(() => changes++);
  model.start();
  const socket = server.sockets[0];
  socket.onopen!();
  socket.send({ type: 'cluster', cluster: cluster('b', 'running', '2026-01-02T00:00:00Z') });
  socket.send({ type: 'cluster', cluster: cluster('a', 'starting', '2026-01-01T00:00:00Z') });
  expect(model.list.map(c => c.id)).toEqual(['a', 'b']);
  expect(model.newestRunning?.id).toBe('b');
  socket.send({ type: 'cluster-removed', id: 'b' });
  expect(model.list.map(c => c.id)).toEqual(['a']);
  expect(model.newestRunning).toBeUndefined();
  expect(changes).toBeGreaterThanOrEqual(4);
});

test('a refresh reads the node and the figures of running clusters only, and keeps the last figures when a read fails', async () => {
  let cpu = 10;
  let failMetrics = false;
  const server = fakeServer({
    'GET resources': () => ({ ...resources, jobfs_free_bytes: 100 - cpu }),
    'GET clusters/a/metrics': () => {
      if (failMetrics) throw new Error('HTTP 500');
      return figures(cpu);
    }
  });
  model = new DaskHpcModel(server.transport, 60000);
  model.start();
  server.sockets[0].onopen!();
  server.sockets[0].send({ type: 'cluster', cluster: cluster('a') });
  server.sockets[0].send({ type: 'cluster', cluster: cluster('s', 'starting') });
  await model.refresh();
  expect(model.metrics('a')?.cpu_percent).toBe(10);
  expect(model.metrics('s')).toBeNull();
  expect(server.calls.some(call => call.path === 'clusters/s/metrics')).toBe(false);
  cpu = 180;
  await model.refresh();
  expect(model.metrics('a')?.cpu_percent).toBe(180);
  // The node's free jobfs is read again with the figures (it was read once, at start, before).
  expect(model.resources?.jobfs_free_bytes).toBe(-80);
  failMetrics = true;
  await model.refresh();
  expect(model.metrics('a')?.cpu_percent).toBe(180);
});

test('launch, scale, adapt and shut down are calls of the model, and their answers update the list at once', async () => {
  const server = fakeServer({
    'GET resources': () => resources,
    'POST clusters': () => cluster('n', 'starting'),
    'PATCH clusters/n': init => ({ ...cluster('n', 'scaling'), adaptive: JSON.parse(String(init!.body)).adaptive ?? null }),
    'DELETE clusters/n': () => cluster('n', 'stopped'),
    'POST plan': () => ({ n_workers: 2 }),
    'POST job-script': () => ({ script: '#!/bin/sh', plan: { n_workers: 1 } })
  });
  model = new DaskHpcModel(server.transport, 60000);
  const events: string[] = [];
  model.clusterEvent.connect((_, event) =>
    events.push(event.type === 'cluster' ? `${event.cluster.id}:${event.cluster.status}` : event.type)
  );
  expect((await model.plan({ workload: 'cpu' })).n_workers).toBe(2);
  expect((await model.jobScript({ worker_jobs: {} })).script).toBe('#!/bin/sh');
  await model.launch({ workload: 'io', name: 'n' });
  expect(model.get('n')?.status).toBe('starting');
  await model.scale('n', 3);
  await model.adapt('n', 1, 4);
  expect(model.get('n')?.adaptive).toEqual({ minimum: 1, maximum: 4 });
  await model.shutDown('n');
  expect(model.get('n')).toBeUndefined();
  expect(server.calls.filter(call => call.method !== 'GET')).toEqual([
    { path: 'plan', method: 'POST', body: { workload: 'cpu' } },
    { path: 'job-script', method: 'POST', body: { worker_jobs: {} } },
    { path: 'clusters', method: 'POST', body: { workload: 'io', name: 'n' } },
    { path: 'clusters/n', method: 'PATCH', body: { n_workers: 3 } },
    { path: 'clusters/n', method: 'PATCH', body: { adaptive: { minimum: 1, maximum: 4 } } },
    { path: 'clusters/n', method: 'DELETE', body: undefined }
  ]);
  expect(events).toEqual(['n:starting', 'n:scaling', 'n:scaling', 'n:stopped']);
});

test('a refused call changes nothing and its error reaches the caller', async () => {
  const server = fakeServer({
    'GET resources': () => resources,
    'PATCH clusters/a': () => {
      throw Object.assign(new Error('Workers must be at least 0'), { status: 400, field: 'n_workers' });
    }
  });
  model = new DaskHpcModel(server.transport, 60000);
  model.start();
  server.sockets[0].onopen!();
  server.sockets[0].send({ type: 'cluster', cluster: cluster('a') });
  await expect(model.scale('a', -1)).rejects.toThrow('Workers must be at least 0');
  expect(model.get('a')?.status).toBe('running');
});

test('a stopped cluster is asked for as null; other failures are thrown', async () => {
  const server = fakeServer({
    'GET clusters/up': () => cluster('up'),
    'GET clusters/busy': () => {
      throw Object.assign(new Error('Bad Gateway'), { status: 502 });
    }
  });
  model = new DaskHpcModel(server.transport, 60000);
  expect((await model.fetchCluster('up'))?.id).toBe('up');
  expect(await model.fetchCluster('gone')).toBeNull();
  await expect(model.fetchCluster('busy')).rejects.toThrow('Bad Gateway');
});

test('a dropped events socket is reported and reopened; dispose closes it and stops reconnecting', async () => {
  jest.useFakeTimers();
  try {
    const server = fakeServer({ 'GET resources': () => resources });
    model = new DaskHpcModel(server.transport, 60000);
    const connection: boolean[] = [];
    model.connectionChanged.connect((_, up) => connection.push(up));
    model.start();
    server.sockets[0].onopen!();
    server.sockets[0].onclose!();
    expect(model.connected).toBe(false);
    jest.advanceTimersByTime(600);
    expect(server.sockets).toHaveLength(2);
    server.sockets[1].onopen!();
    expect(connection).toEqual([true, false, true]);
    model.dispose();
    expect(server.sockets[1].closed).toBe(true);
    jest.advanceTimersByTime(20000);
    expect(server.sockets).toHaveLength(2);
  } finally {
    jest.useRealTimers();
  }
});

test('a cluster whose answer and events were lost is listed at the next refresh, one the server no longer has goes, and an event during the read wins', async () => {
  let listed = [cluster('a'), cluster('lost', 'running', '2026-01-02T00:00:00Z')];
  let duringRead: (() => void) | null = null;
  const server = fakeServer({
    'GET resources': () => resources,
    'GET clusters': () => {
      const answer = listed;
      duringRead?.();
      return answer;
    }
  });
  model = new DaskHpcModel(server.transport, 60000);
  model.start();
  server.sockets[0].onopen!();
  server.sockets[0].send({ type: 'cluster', cluster: cluster('a') });
  server.sockets[0].send({ type: 'cluster', cluster: cluster('gone') });
  const events: string[] = [];
  model.clusterEvent.connect((_, event) => events.push(event.type === 'cluster' ? event.cluster.id : `removed ${event.id}`));
  await model.refresh();
  expect(model.list.map(c => c.id)).toEqual(['a', 'lost']);
  expect(events).toEqual(['removed gone', 'lost']); // 'a' is as the events said: no event for it
  // A read answered before an event that came meanwhile is older than that event.
  listed = [cluster('a'), cluster('lost')];
  duringRead = () => server.sockets[0].send({ type: 'cluster', cluster: cluster('new', 'starting', '2026-01-03T00:00:00Z') });
  await model.refresh();
  expect(model.list.map(c => c.id)).toEqual(['a', 'lost', 'new']);
});

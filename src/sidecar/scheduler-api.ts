import type { ClusterMetrics } from '../common/protocol';

/**
 * The scheduler's own HTTP API (distributed.http.scheduler.api, enabled for our schedulers),
 * reached on its dashboard address: the sidecar scales and adapts without a Python client.
 */
export class SchedulerApi {
  constructor(readonly httpAddress: string) {}

  async adaptiveTarget(): Promise<number> {
    const body = (await this.request('GET', '/api/v1/adaptive_target')) as { workers: number };
    return body.workers;
  }

  /** The workers' memory, spill and CPU now, summed; the scheduler hears them every heartbeat. */
  async metrics(): Promise<ClusterMetrics> {
    const identity = (await this.request('GET', '/json/identity.json')) as {
      workers: Record<string, { memory_limit: number | null; metrics: { memory: number; cpu: number; spilled_bytes?: { disk: number } } }>;
    };
    const workers = Object.values(identity.workers);
    const sum = (pick: (w: (typeof workers)[number]) => number) => workers.reduce((total, w) => total + pick(w), 0);
    return {
      n_workers: workers.length,
      memory_bytes: sum(w => w.metrics.memory),
      memory_limit_bytes: sum(w => w.memory_limit ?? 0),
      spilled_bytes: sum(w => w.metrics.spilled_bytes?.disk ?? 0),
      cpu_percent: sum(w => w.metrics.cpu)
    };
  }

  async workers(): Promise<{ name: string; address: string }[]> {
    const body = (await this.request('GET', '/api/v1/get_workers')) as { workers: { name: string; address: string }[] };
    return body.workers;
  }

  /** Moves the workers' data to the others, then removes them from the scheduler. */
  async retireWorkers(addresses: string[], timeoutMs: number): Promise<void> {
    await this.request('POST', '/api/v1/retire_workers', { workers: addresses }, timeoutMs);
  }

  private async request(method: string, path: string, body?: unknown, timeoutMs = 10000): Promise<unknown> {
    const response = await fetch(this.httpAddress + path, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? undefined : { 'Content-Type': 'application/json' },
      signal: AbortSignal.timeout(timeoutMs)
    });
    if (!response.ok) {
      throw new Error(`scheduler ${method} ${path}: HTTP ${response.status}`);
    }
    return response.json();
  }
}

/** The variable that turns on the API routes beside Dask's default ones. */
export const SCHEDULER_HTTP_ROUTES = [
  'distributed.http.scheduler.prometheus',
  'distributed.http.scheduler.info',
  'distributed.http.scheduler.json',
  'distributed.http.health',
  'distributed.http.proxy',
  'distributed.http.statics',
  'distributed.http.scheduler.api'
];

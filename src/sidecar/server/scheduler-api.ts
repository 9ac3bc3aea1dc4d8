import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { ClusterMetrics } from '../../common/protocol';

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * What the owner asks its scheduler, over the scheduler's lifeline socket (lifeline.py,
 * scheduler_queries.py): a unix socket only this user can open, where an HTTP route on the
 * dashboard's port would be open to every user of the node. One connection per cluster, held
 * for the cluster's life (it also holds the lifeline: see lifeline.py); JSON lines, answered by id.
 */
export class SchedulerApi {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closedReason: string | null = null;
  /** Resolves when the connection has closed: the scheduler is gone (or was never there). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise(resolve => socket.once('close', () => resolve()));
    void this.closed.then(() => this.failAll('the scheduler closed its lifeline socket'));
    createInterface({ input: socket, crlfDelay: Infinity }).on('line', line => this.onAnswer(line));
    socket.on('error', error => this.failAll(`the scheduler's lifeline socket failed: ${error.message}`));
  }

  /** Connects to a scheduler's lifeline socket; rejects if nothing listens there. */
  static connect(path: string): Promise<SchedulerApi> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new SchedulerApi(socket));
      });
      socket.once('error', reject);
    });
  }

  async adaptiveTarget(): Promise<number> {
    return (await this.request('adaptive_target')) as number;
  }

  /** The workers' memory, spill and CPU now, summed; the scheduler hears them every heartbeat. */
  async metrics(): Promise<ClusterMetrics> {
    return (await this.request('metrics')) as ClusterMetrics;
  }

  async workers(): Promise<{ name: string; address: string }[]> {
    return (await this.request('workers')) as { name: string; address: string }[];
  }

  /** Moves the workers' data to the others, then removes them from the scheduler. */
  async retireWorkers(addresses: string[], timeoutMs: number): Promise<void> {
    await this.request('retire_workers', { workers: addresses }, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private request(op: string, params: Record<string, unknown> = {}, timeoutMs = 10000): Promise<unknown> {
    if (this.closedReason) return Promise.reject(new Error(this.closedReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the scheduler did not answer ${op} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(JSON.stringify({ id, op, ...params }) + '\n');
    });
  }

  private onAnswer(line: string): void {
    let answer: { id: number | null; result?: unknown; error?: string };
    try {
      answer = JSON.parse(line);
    } catch {
      return; // not ours to read: the scheduler only sends JSON lines
    }
    const waiting = answer.id === null ? undefined : this.pending.get(answer.id);
    if (!waiting) return; // timed out already
    this.pending.delete(answer.id as number);
    clearTimeout(waiting.timer);
    if (answer.error !== undefined) waiting.reject(new Error(`the scheduler: ${answer.error}`));
    else waiting.resolve(answer.result);
  }

  private failAll(reason: string): void {
    this.closedReason ??= reason;
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      this.pending.delete(id);
      waiting.reject(new Error(reason));
    }
  }
}

/**
 * The scheduler's HTTP routes: Dask's defaults, named so that a user's Dask config cannot add
 * distributed.http.scheduler.api, whose POST /api/v1/retire_workers every user of the node
 * could call on the dashboard's loopback port. These are read-only. Not distributed.http.proxy
 * either: with jupyter-server-proxy installed it relays a WebSocket, unauthenticated, to any
 * host:port as this user's process; the dashboard needs none of it.
 */
export const SCHEDULER_HTTP_ROUTES = [
  'distributed.http.scheduler.prometheus',
  'distributed.http.scheduler.info',
  'distributed.http.scheduler.json',
  'distributed.http.health',
  'distributed.http.statics'
];

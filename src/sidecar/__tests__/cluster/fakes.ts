import type { ClusterMetrics, Plan } from '../../../common/protocol';
import type { ClusterDependencies, ClusterSpec, SchedulerConnection } from '../../cluster/cluster-spec';
import type { DaskProcessOptions } from '../../process/dask-process';
import type { Exit, StartedProcess } from '../../process/owned-process';
import { ProcessLines } from '../../process/process-lines';

let nextPid = 100000;

/** A Dask process that prints what the test tells it to and exits when told or terminated. */
export class FakeProcess implements StartedProcess {
  readonly pid = nextPid++;
  readonly exited: Promise<Exit>;
  readonly sent: string[] = [];
  terminated = false;
  private exit: Exit | null = null;
  private resolveExit: (exit: Exit) => void = () => undefined;
  private readonly lines: ProcessLines;

  constructor(readonly options: DaskProcessOptions) {
    this.exited = new Promise(resolve => (this.resolveExit = resolve));
    this.lines = new ProcessLines(this.exited);
  }

  get hasExited(): boolean {
    return this.exit !== null;
  }

  /** The value of a `dask` flag this process was started with. */
  flag(name: string): string | undefined {
    const at = this.options.args.indexOf(name);
    return at === -1 ? undefined : this.options.args[at + 1];
  }

  print(line: string): void {
    this.lines.emit(line);
  }

  /** Ends as a crash would (the OOM killer): not asked to. */
  die(signal = 'SIGKILL'): void {
    this.finish({ code: null, signal });
  }

  tail(): string {
    return `(fake ${this.options.kind})`;
  }

  onLine(watcher: (line: string) => void): () => void {
    return this.lines.onLine(watcher);
  }

  waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    return this.lines.waitFor(pattern);
  }

  send(line: string): void {
    this.sent.push(line);
  }

  terminate(): Promise<Exit> {
    this.terminated = true;
    this.finish({ code: null, signal: 'SIGTERM' });
    return this.exited;
  }

  private finish(exit: Exit): void {
    if (this.exit) return;
    this.exit = exit;
    this.resolveExit(exit);
  }
}

/**
 * A scheduler as the cluster sees it: its process (prints its addresses once told to go, and
 * a line for each worker that registers) and its lifeline connection (workers, retirement).
 */
export class FakeDask implements ClusterDependencies {
  readonly processes: FakeProcess[] = [];
  readonly retired: string[] = [];
  /** Workers the scheduler has: name → address. */
  readonly registered = new Map<string, string>();
  adaptiveTarget = 0;
  /** False: workers start but never register (a scale that times out). */
  workersRegister = true;
  private nextPort = 40000;
  private closeConnection: () => void = () => undefined;

  get scheduler(): FakeProcess {
    return this.processes.find(p => p.options.kind === 'scheduler') as FakeProcess;
  }

  get workers(): FakeProcess[] {
    return this.processes.filter(p => p.options.kind === 'worker');
  }

  startProcess(options: DaskProcessOptions): FakeProcess {
    const process = new FakeProcess(options);
    this.processes.push(process);
    if (options.kind === 'scheduler') this.startScheduler(process);
    else this.startWorkers(process);
    return process;
  }

  async connectScheduler(): Promise<SchedulerConnection> {
    const closed = new Promise<void>(resolve => (this.closeConnection = resolve));
    return {
      closed,
      adaptiveTarget: async () => this.adaptiveTarget,
      metrics: async () => ({ n_workers: this.registered.size }) as ClusterMetrics,
      workers: async () => [...this.registered].map(([name, address]) => ({ name, address })),
      retireWorkers: async addresses => {
        this.retired.push(...addresses);
        for (const [name, address] of this.registered) if (addresses.includes(address)) this.removeWorker(name);
      },
      close: () => this.closeConnection()
    };
  }

  private startScheduler(process: FakeProcess): void {
    const send = process.send.bind(process);
    process.send = line => {
      send(line);
      if (line !== 'go') return;
      setImmediate(() => {
        process.print('distributed.scheduler - INFO -   Scheduler at: tls://127.0.0.1:8786');
        process.print('distributed.scheduler - INFO -   dashboard at: http://127.0.0.1:8787/status');
      });
    };
  }

  /** `--nworkers N` workers, named as Dask names them, register once the scheduler is up. */
  private startWorkers(process: FakeProcess): void {
    const name = process.flag('--name') as string;
    const count = Number(process.flag('--nworkers'));
    const names = count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i}`);
    const register = () => {
      if (!this.workersRegister || process.hasExited) return;
      for (const worker of names) {
        const address = `tls://127.0.0.1:${this.nextPort++}`;
        this.registered.set(worker, address);
        this.scheduler.print(`distributed.scheduler - INFO - Register worker addr: ${address} name: ${worker}`);
        process.print(`distributed.worker - INFO -         Registered to: tls://127.0.0.1:8786`);
      }
    };
    const schedulerUp = () => (this.scheduler?.sent.includes('go') ? setTimeout(register, 5) : setTimeout(schedulerUp, 5));
    schedulerUp();
    void process.exited.then(() => {
      for (const worker of names) this.removeWorker(worker);
    });
  }

  private removeWorker(name: string): void {
    const address = this.registered.get(name);
    if (address === undefined) return;
    this.registered.delete(name);
    this.scheduler.print(`distributed.scheduler - INFO - Remove worker addr: ${address} name: ${name}`);
  }
}

/** A local cluster's spec, its directories under `root` (a private directory of the test's). */
export function localSpec(root: string, overrides: Partial<ClusterSpec> = {}): ClusterSpec {
  const plan = {
    n_workers: 2,
    threads_per_worker: 1,
    memory_limit_bytes: 2 ** 30,
    local_directory: `${root}/jobfs`,
    thresholds: { target: 0.6, spill: 0.7, pause: 0.8, terminate: 0.95 }
  } as Plan;
  return {
    id: 'c0ffee00',
    name: 'test',
    plan,
    python: 'python3',
    lifelinePreload: 'lifeline.py',
    dashboardPreload: 'deferred_dashboard.py',
    lifelineSocket: `${root}/lifeline.sock`,
    adoptionGraceSeconds: 10,
    controlSocket: null,
    readyTimeoutMs: 5000,
    dashboardLinks: address => ({ dashboard_url: `${address}/status`, tunnel_command: 'ssh' }),
    workerJobs: null,
    runner: null,
    securityDirectory: `${root}/tls`,
    certificatesAhead: null,
    ...overrides
  };
}

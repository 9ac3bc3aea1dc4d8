import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import type { JobSystem, WorkerJobSpec } from '../common/protocol';
import { nodeLauncher, type AllocationNode } from './batch/node-launcher';
import type { BatchCommands } from './batch/batch-commands';
import { renderJobScript } from './batch/job-script';
import { JobTracker, WorkerJob } from './batch/worker-job';
import { join } from 'node:path';
import type { AdaptiveRange, ClusterMetrics, ClusterSecurity, ClusterState, ClusterWorker, Plan } from '../common/protocol';
import { clusterSecurityFiles, tlsFlags, writeClusterCertificates } from './cluster-tls';
import { connect as connectSocket, type Socket } from 'node:net';
import { AdoptedProcess, type OwnedProcess } from './adopted-process';
import { DaskProcess, describeExit } from './dask-process';
import { clusterEnvironment } from './cluster-environment';
import { ClusterStartError } from './errors';
import { SchedulerApi } from './scheduler-api';
import { formatBytes } from '../common/format';
import { removeTree } from './state';

export interface ClusterSpec {
  id: string;
  name: string;
  plan: Plan;
  python: string;
  /** The scheduler preload that ends the cluster when its owner is gone. */
  lifelinePreload: string;
  lifelineSocket: string;
  /** Seconds an orphaned scheduler waits to be adopted before it closes. */
  adoptionGraceSeconds: number;
  controlSocket: string | null;
  readyTimeoutMs: number;
  /** How users reach the dashboard at this address: a URL (direct, or through Jupyter's proxy) and an ssh tunnel. */
  dashboardLinks: (httpAddress: string) => { dashboard_url: string; tunnel_command: string };
  /** Workers as batch jobs on other nodes instead of processes here. */
  workerJobs: WorkerJobsSpec | null;
  /** Workers on the nodes of the current allocation instead of processes here. */
  runner: RunnerSpec | null;
  /** The directory (0700, in the state directory: other nodes see it) of the cluster's TLS files. */
  securityDirectory: string;
}

/** Runner mode: the plan's workers on each node of the allocation we run in. */
export interface RunnerSpec {
  system: JobSystem;
  nodes: AllocationNode[];
  /** The address on the chosen interface where the scheduler listens for the nodes' workers. */
  listenHost: string;
}

export interface WorkerJobsSpec {
  spec: WorkerJobSpec;
  commands: BatchCommands;
  /** Job scripts and job output: on a filesystem the compute nodes share (the state directory). */
  jobDirectory: string;
  /** Where the scheduler's own directory is made on this node (the plan's is the jobs' nodes'). */
  schedulerRoot: string;
  /** The address on the chosen interface where the scheduler listens for the jobs' workers. */
  listenHost: string;
  initialJobs: number;
  pollMs: number;
}

/** Workers started in place of dead ones, at most, in a cluster's life. */
const MAX_REPLACEMENTS = 10;
/** Below this, a worker's first spill would fail: refuse at start, not in the middle of a computation. */
const MIN_FREE_SPILL_BYTES = 64 * 2 ** 20;

// Lines Dask prints, which is how readiness is seen as it happens, without polling.
const SCHEDULER_ADDRESS_LINE = /Scheduler at:\s+(\S+)/;
const DASHBOARD_LINE = /dashboard at:\s+(\S+)/;
const WORKER_REGISTERED_LINE = /Registered to:\s+(\S+)/;
const WORKER_ADDRESS_LINE = /Start worker at:\s+(\S+)/;
// The scheduler's own lines: how workers of batch jobs on other nodes are seen arriving and leaving.
const SCHEDULER_REGISTER_LINE = /Register worker addr: (\S+) name: (\S+)/;
const SCHEDULER_REMOVE_LINE = /Remove worker addr: (\S+) name: (\S+)/;

/** Consecutive lower adaptive targets before workers are retired, as dask's Adaptive waits. */
const ADAPTIVE_DOWNSCALE_PATIENCE = 3;
const ADAPTIVE_INTERVAL_MS = 1000;
/** How long a worker may take to hand its data on before it is terminated anyway. */
const RETIRE_TIMEOUT_MS = 10000;

/** A local worker with its nanny, or a batch job of workers. */
interface RunningWorker {
  info: ClusterWorker;
  process: OwnedProcess;
  /** The addresses of its worker processes that the scheduler has now. */
  addresses: Set<string>;
}

/**
 * One cluster's life on this node: a `dask scheduler` and `dask worker`s with nannies,
 * started in parallel, supervised, scaled, and stopped with nothing left behind.
 */
export class Cluster {
  readonly state: ClusterState;
  private scheduler: OwnedProcess | null = null;
  /** An adopted cluster's hold on its scheduler (lifeline.py): closes when the scheduler ends. */
  private lifeline: Socket | null = null;
  private api: SchedulerApi | null = null;
  private readonly workers = new Map<string, RunningWorker>();
  private nextWorkerIndex = 0;
  private readonly security: ClusterSecurity;
  /** Workers started in place of ones that died while the cluster ran (see startWorker). */
  private replacements = 0;
  private adaptiveTimer: NodeJS.Timeout | null = null;
  private adaptiveLowerCount = 0;
  private scaling: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  private readonly jobs: JobTracker | null;

  constructor(
    readonly spec: ClusterSpec,
    /** Called on every change of state, for the state file and the events stream. */
    private readonly onChange: (state: ClusterState) => void
  ) {
    const localDirectory = join(spec.workerJobs?.schedulerRoot ?? spec.plan.local_directory, spec.id);
    this.security = clusterSecurityFiles(spec.securityDirectory);
    this.state = {
      id: spec.id,
      name: spec.name,
      status: 'starting',
      scheduler_address: null,
      scheduler_file: join(localDirectory, 'scheduler.json'),
      dashboard_url: null,
      dashboard_address: null,
      tunnel_command: null,
      local_directory: localDirectory,
      workers: [],
      plan: spec.plan,
      adaptive: null,
      python: spec.python,
      owner_pid: process.pid,
      scheduler_pid: null,
      control_socket: spec.controlSocket,
      created_at: new Date().toISOString(),
      worker_jobs: spec.workerJobs?.spec ?? null,
      runner: spec.runner ? { system: spec.runner.system, nodes: spec.runner.nodes.map(n => n.host) } : null,
      security: this.security
    };
    const { workerJobs } = spec;
    this.jobs = workerJobs ? new JobTracker(workerJobs.commands, workerJobs.pollMs, job => this.onJobState(job)) : null;
  }

  /** The batch system's name of every worker job of this cluster. */
  private get jobName(): string {
    return `dask-${this.state.id}`;
  }

  /** Workers per unit of scaling: a batch job runs the job plan's workers, a local unit one. */
  private get workersPerUnit(): number {
    return this.spec.workerJobs || this.spec.runner ? this.spec.plan.n_workers : 1;
  }

  /** The units (local workers or jobs) that give at least `workers` workers. */
  unitsFor(workers: number): number {
    return Math.ceil(workers / this.workersPerUnit);
  }

  /**
   * Takes over a running cluster whose owner died (the sidecar after SIGKILL): holds its
   * scheduler's lifeline socket so it stays up, and manages its workers by pid and through
   * the scheduler's API. Rejects if the scheduler is gone or does not answer.
   */
  static async adopt(spec: ClusterSpec, record: ClusterState, onChange: (state: ClusterState) => void): Promise<Cluster> {
    const cluster = new Cluster(spec, onChange);
    Object.assign(cluster.state, record, { owner_pid: process.pid, control_socket: spec.controlSocket, status: 'running' });
    cluster.scheduler = new AdoptedProcess(record.scheduler_pid);
    cluster.api = new SchedulerApi(record.dashboard_address as string);
    const addresses = new Map((await cluster.api.workers()).map(w => [w.name, w.address]));
    for (const worker of record.workers) {
      if (worker.status === 'exited') continue;
      const process = worker.job_id ? cluster.trackJob(worker.name, worker.job_id) : new AdoptedProcess(worker.pid);
      const own = [...addresses].filter(([name]) => cluster.workerBelongsTo(name, worker.name)).map(([, address]) => address);
      cluster.workers.set(worker.name, { info: { ...worker }, process, addresses: new Set(own) });
      const index = Number(/-(\d+)$/.exec(worker.name)?.[1] ?? -1);
      cluster.nextWorkerIndex = Math.max(cluster.nextWorkerIndex, index + 1);
    }
    await cluster.holdLifeline();
    cluster.changed();
    return cluster;
  }

  private holdLifeline(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connectSocket(this.spec.lifelineSocket);
      socket.once('connect', () => {
        this.lifeline = socket;
        socket.on('close', () => this.onSchedulerExit('its lifeline closed'));
        resolve();
      });
      socket.once('error', reject);
    });
  }

  private get env(): Record<string, string> {
    return {
      ...clusterEnvironment(this.spec.plan, this.state.local_directory),
      DASK_HPC_LIFELINE_SOCKET: this.spec.lifelineSocket,
      DASK_HPC_ADOPTION_GRACE: String(this.spec.adoptionGraceSeconds),
      // The lifeline cancels these by name if the owner dies: queued jobs must not start later.
      ...(this.spec.workerJobs ? { DASK_HPC_WORKER_JOBS: JSON.stringify({ system: this.spec.workerJobs.spec.system, name: this.jobName }) } : {})
    };
  }

  private changed(): void {
    this.state.workers = [...this.workers.values()].map(worker => ({ ...worker.info }));
    this.onChange(this.state);
  }

  /** Starts the scheduler, then all workers at once; resolves when the scheduler has them all. */
  async start(): Promise<void> {
    try {
      this.makeLocalDirectory();
      await writeClusterCertificates(this.spec.securityDirectory);
      await this.startScheduler();
      // Worker jobs wait in the batch system's queue for as long as it takes: the cluster runs
      // once they are submitted, and the card shows them queued, then running.
      const units = this.spec.workerJobs?.initialJobs ?? this.spec.runner?.nodes.length ?? this.spec.plan.n_workers;
      await this.withTimeout(this.addWorkers(units), 'workers');
      this.state.status = 'running';
      this.changed();
    } catch (error) {
      await this.teardown();
      this.state.status = 'failed';
      this.state.error = (error as Error).message;
      this.changed();
      throw new ClusterStartError((error as Error).message);
    }
  }

  private makeLocalDirectory(): void {
    const directory = this.state.local_directory;
    let free: number;
    try {
      mkdirSync(directory, { recursive: true, mode: 0o700 });
      writeFileSync(join(directory, '.writable'), ''); // a read-only jobfs fails here, before any spawn
      const { bavail, bsize } = statfsSync(directory);
      free = bavail * bsize;
    } catch (error) {
      removeTree(directory);
      throw new Error(`cannot use ${directory} for temp and spill: ${(error as Error).message}`);
    }
    if (free < MIN_FREE_SPILL_BYTES) {
      removeTree(directory);
      throw new Error(
        `the job filesystem under ${directory} has ${formatBytes(free)} free: workers need room to spill (at least ${formatBytes(MIN_FREE_SPILL_BYTES)}); free some, or ask for more (-l jobfs, --tmp)`
      );
    }
  }

  private async startScheduler(): Promise<void> {
    const scheduler = new DaskProcess({
      python: this.spec.python,
      kind: 'scheduler',
      args: [
        // Workers on other nodes reach it on the chosen interface; local ones on loopback only.
        '--host', this.spec.workerJobs?.listenHost ?? this.spec.runner?.listenHost ?? '127.0.0.1',
        '--port', '0',
        '--protocol', 'tls',
        ...tlsFlags(this.security),
        '--dashboard-address', '127.0.0.1:0',
        '--scheduler-file', this.state.scheduler_file,
        '--preload', this.spec.lifelinePreload
      ],
      env: this.env,
      logFile: join(this.state.local_directory, 'scheduler.log')
    });
    this.scheduler = scheduler;
    this.state.scheduler_pid = scheduler.pid;
    const dashboard = scheduler.waitFor(DASHBOARD_LINE);
    dashboard.catch(() => undefined); // the address wait below reports an early exit
    try {
      const [address, dashboardMatch] = await this.withTimeout(
        Promise.all([scheduler.waitFor(SCHEDULER_ADDRESS_LINE), dashboard]),
        'the scheduler'
      );
      this.state.scheduler_address = address[1];
      // Dask prints the link with the scheduler's host; the dashboard itself listens on loopback only.
      const httpAddress = `http://127.0.0.1:${new URL(dashboardMatch[1]).port}`;
      this.state.dashboard_address = httpAddress;
      Object.assign(this.state, this.spec.dashboardLinks(httpAddress));
      this.api = new SchedulerApi(httpAddress);
    } catch (error) {
      throw new Error(`the scheduler did not start: ${(error as Error).message}\n${scheduler.tail()}`);
    }
    void scheduler.exited.then(exit => this.onSchedulerExit(describeExit(exit)));
    if (this.jobs) this.followJobWorkers(scheduler);
    this.changed();
  }

  /** Whether the Dask worker `workerName` runs in the unit `unitName` (dask names them NAME or NAME-i). */
  private workerBelongsTo(workerName: string, unitName: string): boolean {
    return workerName === unitName || new RegExp(`^${unitName.replace(/[.]/g, '\\.')}-\\d+$`).test(workerName);
  }

  private unitOf(workerName: string): RunningWorker | undefined {
    return [...this.workers.values()].find(unit => this.workerBelongsTo(workerName, unit.info.name));
  }

  /** The scheduler says when a job's workers arrive and leave, as it happens. */
  private followJobWorkers(scheduler: DaskProcess): void {
    scheduler.onLine(line => {
      const registered = SCHEDULER_REGISTER_LINE.exec(line);
      const removed = SCHEDULER_REMOVE_LINE.exec(line);
      const [address, name] = (registered ?? removed)?.slice(1) ?? [];
      const unit = name ? this.unitOf(name) : undefined;
      if (!unit) return;
      if (registered) unit.addresses.add(address);
      else unit.addresses.delete(address);
      this.updateJobWorker(unit);
    });
  }

  private updateJobWorker(unit: RunningWorker): void {
    const job = unit.process as WorkerJob;
    unit.info.registered = unit.addresses.size;
    unit.info.job_state = job.state;
    if (unit.info.status === 'starting' && unit.addresses.size >= this.workersPerUnit) unit.info.status = 'running';
    this.changed();
  }

  /** What the batch system says of a job: queued, running, or gone (walltime, cancelled, failed). */
  private onJobState(job: WorkerJob): void {
    const unit = [...this.workers.values()].find(u => u.process === job);
    if (!unit) return;
    if (job.state === 'finished' && unit.info.status !== 'retiring' && !this.stopping) {
      unit.info.status = 'exited';
      if (unit.addresses.size === 0) {
        this.state.error = `worker job ${unit.info.name} (${job.jobId}) ended before its workers joined:\n${job.tail()}`;
      }
    }
    this.updateJobWorker(unit);
  }

  private trackJob(name: string, jobId: string): WorkerJob {
    const job = new WorkerJob(jobId, join((this.spec.workerJobs as WorkerJobsSpec).jobDirectory, `${name}.log`), this.jobs as JobTracker);
    (this.jobs as JobTracker).track(job);
    return job;
  }

  /** Writes a worker job's script and submits it; resolves once the batch system has it. */
  private async submitJob(): Promise<void> {
    const { spec, commands, jobDirectory } = this.spec.workerJobs as WorkerJobsSpec;
    const index = this.nextWorkerIndex++;
    const name = `${this.state.name}-job-${index}`;
    mkdirSync(jobDirectory, { recursive: true, mode: 0o700 });
    const script = renderJobScript(spec, {
      clusterId: this.state.id,
      jobName: this.jobName,
      workerName: name,
      schedulerAddress: this.state.scheduler_address as string,
      python: this.spec.python,
      logFile: join(jobDirectory, `${name}.log`),
      security: this.security
    });
    const scriptPath = join(jobDirectory, `${name}.sh`);
    writeFileSync(scriptPath, script, { mode: 0o600 });
    let jobId: string;
    try {
      jobId = await commands.submit(scriptPath, jobDirectory);
    } catch (error) {
      throw new Error(`worker job ${name} was not submitted: ${(error as Error).message}`);
    }
    const unit: RunningWorker = {
      info: { name, status: 'starting', pid: null, restarts: 0, job_id: jobId, job_state: 'queued', registered: 0 },
      process: this.trackJob(name, jobId),
      addresses: new Set()
    };
    this.workers.set(name, unit);
    this.changed();
  }

  private onSchedulerExit(how: string): void {
    if (this.stopping || this.state.status === 'starting') {
      return;
    }
    this.state.error = `the scheduler exited (${how}):\n${this.scheduler?.tail() ?? ''}`;
    void this.stop().then(() => {
      this.state.status = 'failed';
      this.changed();
    });
  }

  /** Starts `count` workers in parallel and waits until each has registered with the scheduler. */
  private async addWorkers(count: number): Promise<void> {
    const started: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      started.push(this.startWorker());
    }
    const results = await Promise.allSettled(started);
    const failure = results.find(result => result.status === 'rejected');
    if (failure) {
      throw (failure as PromiseRejectedResult).reason;
    }
  }

  /** A node of the allocation without workers of ours yet (runner mode). */
  private freeNode(): AllocationNode {
    const used = new Set(this.activeWorkers().map(w => w.info.host));
    const nodes = (this.spec.runner as RunnerSpec).nodes;
    const node = nodes.find(n => !used.has(n.host));
    if (!node) throw new Error(`every one of the allocation's ${nodes.length} node(s) has workers already`);
    return node;
  }

  /**
   * Starts one unit of local workers: a worker with its nanny here, or, in runner mode, the
   * plan's workers on a node of the allocation through srun or pbsdsh. Resolves once all of
   * the unit's workers have registered with the scheduler.
   */
  private async startWorker(restartsSoFar = 0): Promise<void> {
    if (this.spec.workerJobs) return this.submitJob();
    const name = `${this.state.name}-${this.nextWorkerIndex++}`;
    const { plan, runner } = this.spec;
    const node = runner ? this.freeNode() : null;
    const localDirectory = node ? join(this.state.local_directory, name) : this.state.local_directory;
    const env = node ? { ...this.env, ...clusterEnvironment(plan, localDirectory) } : this.env;
    const perUnit = this.workersPerUnit;
    const process = new DaskProcess({
      python: this.spec.python,
      kind: 'worker',
      launcher: node ? nodeLauncher((runner as RunnerSpec).system, node, plan.n_workers * plan.threads_per_worker, env) : undefined,
      args: [
        this.state.scheduler_address as string,
        '--name', name,
        ...(perUnit > 1 ? ['--nworkers', String(perUnit)] : []),
        '--nthreads', String(plan.threads_per_worker),
        '--memory-limit', String(plan.memory_limit_bytes),
        '--local-directory', localDirectory,
        ...tlsFlags(this.security),
        // Local workers listen on loopback only; a node's workers on the interface that reaches the scheduler.
        ...(node ? [] : ['--host', '127.0.0.1']),
        '--nanny',
        // If the scheduler vanishes without closing us, leave on our own.
        '--death-timeout', '30'
      ],
      env,
      logFile: join(this.state.local_directory, `${name}.log`)
    });
    const worker: RunningWorker = {
      info: { name, status: 'starting', pid: process.pid, restarts: restartsSoFar, ...(node ? { host: node.host, registered: 0 } : {}) },
      process,
      addresses: new Set()
    };
    this.workers.set(name, worker);
    this.changed();
    let registrations = 0;
    let allRegistered: () => void = () => undefined;
    const registered = new Promise<void>(resolve => (allRegistered = resolve));
    process.onLine(line => {
      const address = WORKER_ADDRESS_LINE.exec(line);
      if (address) {
        if (perUnit === 1) worker.addresses.clear(); // a nanny's restarted worker has a new address
        worker.addresses.add(address[1]);
      }
      if (!WORKER_REGISTERED_LINE.test(line)) return;
      registrations++;
      if (node) worker.info.registered = Math.min(registrations, perUnit);
      if (registrations === perUnit) allRegistered();
      if (registrations > perUnit) worker.info.restarts = restartsSoFar + registrations - perUnit; // the nanny started a new worker process
      this.changed();
    });
    void process.exited.then(exit => {
      if (worker.info.status === 'retiring' || this.stopping) return;
      const wasRunning = worker.info.status === 'running';
      worker.info.status = 'exited';
      const reason = `worker ${name} exited (${describeExit(exit)}):\n${process.tail()}`;
      if (wasRunning && this.replacements < MAX_REPLACEMENTS) this.replaceWorker(name, worker.info.restarts + 1, reason);
      else {
        this.state.error = reason;
        this.changed();
      }
    });
    try {
      await Promise.race([
        registered,
        process.exited.then(exit => {
          throw new Error(`exited (${describeExit(exit)}) before its workers registered`);
        })
      ]);
    } catch (error) {
      throw new Error(`worker ${name} did not start: ${(error as Error).message}\n${process.tail()}`);
    }
    worker.info.status = 'running';
    this.changed();
  }

  /**
   * A worker unit that died while the cluster ran (its nanny killed, the node's OOM killer) is
   * started again, so the cluster keeps its size; the card counts it as a restart. A cluster
   * whose workers keep dying stops being repaired after MAX_REPLACEMENTS and shows why.
   */
  private replaceWorker(name: string, restarts: number, reason: string): void {
    this.replacements++;
    this.workers.delete(name);
    this.changed();
    this.startWorker(restarts).catch(error => {
      if (this.stopping) return;
      this.state.error = `${reason}\nits replacement did not start either: ${(error as Error).message}`;
      this.changed();
    });
  }

  private withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = [...this.workers.values()].filter(w => w.info.status === 'starting');
        const detail = waiting.map(w => `worker ${w.info.name} is not registered yet:\n${w.process.tail()}`).join('\n');
        reject(new Error(`${what} not ready after ${this.spec.readyTimeoutMs / 1000} s\n${detail}`));
      }, this.spec.readyTimeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  /** The units that count toward the size: starting or running; queued jobs last, so they are the first to go. */
  private activeWorkers(): RunningWorker[] {
    const active = [...this.workers.values()].filter(w => w.info.status === 'starting' || w.info.status === 'running');
    const queued = (w: RunningWorker) => Number(w.info.job_state === 'queued');
    return active.sort((a, b) => queued(a) - queued(b));
  }

  metrics(): Promise<ClusterMetrics> {
    if (!this.api || this.state.status === 'starting') {
      return Promise.resolve({ n_workers: 0, memory_bytes: 0, memory_limit_bytes: 0, spilled_bytes: 0, cpu_percent: 0 });
    }
    return this.api.metrics();
  }

  /** Scales to a fixed number of workers; turns adaptive off. */
  scale(nWorkers: number): Promise<void> {
    this.stopAdaptive();
    return this.scaleTo(nWorkers);
  }

  private scaleTo(nWorkers: number): Promise<void> {
    // One scaling at a time, in the order asked.
    this.scaling = this.scaling.then(() => this.resize(nWorkers));
    return this.scaling;
  }

  private async resize(nWorkers: number): Promise<void> {
    if (this.stopping) return;
    const active = this.activeWorkers();
    if (active.length === nWorkers) return;
    this.state.status = 'scaling';
    this.changed();
    try {
      if (nWorkers > active.length) {
        await this.withTimeout(this.addWorkers(nWorkers - active.length), 'new workers');
      } else {
        await this.retire(active.slice(nWorkers));
      }
    } finally {
      if (!this.stopping) {
        this.state.status = 'running';
        this.changed();
      }
    }
  }

  /** Retires workers through the scheduler (their data moves to the others), then ends their processes. */
  private async retire(workers: RunningWorker[]): Promise<void> {
    for (const worker of workers) worker.info.status = 'retiring';
    this.changed();
    const addresses = workers.flatMap(w => [...w.addresses]);
    if (this.api && addresses.length > 0) {
      await this.api.retireWorkers(addresses, RETIRE_TIMEOUT_MS).catch(() => undefined);
    }
    await Promise.all(workers.map(w => w.process.terminate()));
    for (const worker of workers) this.workers.delete(worker.info.name);
    this.changed();
  }

  /** Lets the scheduler's adaptive target choose the size, within the range. */
  adapt(range: AdaptiveRange): Promise<void> {
    this.stopAdaptive();
    this.state.adaptive = { ...range };
    this.changed();
    const tick = async () => {
      try {
        const wanted = this.unitsFor(await (this.api as SchedulerApi).adaptiveTarget());
        const target = Math.min(range.maximum, Math.max(range.minimum, wanted));
        const current = this.activeWorkers().length;
        this.adaptiveLowerCount = target < current ? this.adaptiveLowerCount + 1 : 0;
        if (target > current || this.adaptiveLowerCount >= ADAPTIVE_DOWNSCALE_PATIENCE) {
          this.adaptiveLowerCount = 0;
          await this.scaleTo(target);
        }
      } catch {
        // A scheduler busy or gone: the next tick or the exit handler deals with it.
      }
      if (this.state.adaptive) this.adaptiveTimer = setTimeout(tick, ADAPTIVE_INTERVAL_MS);
    };
    // Start inside the range at once; the scheduler's target refines it.
    const current = this.activeWorkers().length;
    const start = this.scaleTo(Math.min(range.maximum, Math.max(range.minimum, current)));
    this.adaptiveTimer = setTimeout(tick, ADAPTIVE_INTERVAL_MS);
    return start;
  }

  private stopAdaptive(): void {
    if (this.adaptiveTimer) clearTimeout(this.adaptiveTimer);
    this.adaptiveTimer = null;
    if (this.state.adaptive) {
      this.state.adaptive = null;
      this.changed();
    }
  }

  /** Retires the workers, then SIGTERM to all, SIGKILL after the grace period; removes the cluster's directory. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopAdaptive();
      const wasFailed = this.state.status === 'failed';
      this.state.status = 'stopping';
      this.changed();
      await this.teardown();
      this.state.status = wasFailed ? 'failed' : 'stopped';
      this.changed();
    })();
    return this.stopping;
  }

  /**
   * The whole cluster goes: the workers first, while their scheduler still answers (a worker
   * whose scheduler is gone waits on it for seconds before it leaves; measured here: 0.5 s
   * this way, 5 s with both at once), then the scheduler; SIGKILL after the grace period.
   * Retiring would move data to workers that are leaving too.
   */
  private async teardown(): Promise<void> {
    const workers = [...this.workers.values()];
    await Promise.all(workers.map(w => w.process.terminate()));
    await this.scheduler?.terminate();
    this.jobs?.stop();
    this.lifeline?.destroy();
    if (this.spec.workerJobs) removeTree(this.spec.workerJobs.jobDirectory);
    this.workers.clear();
    removeTree(this.state.local_directory);
    removeTree(this.spec.securityDirectory); // no key outlives its cluster
  }

}


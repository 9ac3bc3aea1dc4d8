import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import type { JobSystem, WorkerJobSpec } from '../common/protocol';
import { nodeLauncher, type AllocationNode } from './batch/node-launcher';
import type { BatchCommands } from './batch/batch-commands';
import { renderJobScript } from './batch/job-script';
import { JobTracker, WorkerJob } from './batch/worker-job';
import { dirname, join } from 'node:path';
import type { AdaptiveRange, ClusterMetrics, ClusterSecurity, ClusterState, ClusterWorker, Plan } from '../common/protocol';
import { takeOrWriteCertificates } from './certificates-ahead';
import { clusterSecurityFiles, tlsEnvironment, tlsFlags } from './cluster-tls';
import { AdoptedProcess, type OwnedProcess } from './adopted-process';
import { DaskProcess, describeExit } from './dask-process';
import { clusterEnvironment } from './cluster-environment';
import { ClusterStartError } from './errors';
import { checkPrivateRoot } from './private-directory';
import { SchedulerApi } from './scheduler-api';
import { formatBytes } from '../common/format';
import { processAlive, removeTree } from './state';
import { removeClusterFiles } from './cluster-files';
import { thisHost } from './host';
import { belongsTo, isActive, listedWorkers, localUnitName, memberNames, type WorkerUnit } from './worker-units';

export interface ClusterSpec {
  id: string;
  name: string;
  plan: Plan;
  python: string;
  /** The scheduler preload that ends the cluster when its owner is gone. */
  lifelinePreload: string;
  /** The scheduler preload that loads the dashboard once the scheduler is up (deferred_dashboard.py). */
  dashboardPreload: string;
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
  /** Where TLS files made ahead wait (certificates-ahead.ts); null: always make them at the start. */
  certificatesAhead: string | null;
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
// The scheduler's own lines: which worker, by name, arrived or left (jobs' workers, nanny restarts).
const SCHEDULER_REGISTER_LINE = /Register worker addr: (\S+) name: (\S+)/;
const SCHEDULER_REMOVE_LINE = /Remove worker addr: (\S+) name: (\S+)/;

/** Consecutive lower adaptive targets before workers are retired, as dask's Adaptive waits. */
const ADAPTIVE_DOWNSCALE_PATIENCE = 3;
const ADAPTIVE_INTERVAL_MS = 1000;
/** How long a worker may take to hand its data on before it is terminated anyway. */
const RETIRE_TIMEOUT_MS = 10000;

/**
 * One cluster's life on this node: a `dask scheduler` and `dask worker`s with nannies,
 * started in parallel, supervised, scaled, and stopped with nothing left behind.
 */
export class Cluster {
  readonly state: ClusterState;
  private scheduler: OwnedProcess | null = null;
  /** The scheduler's lifeline socket (lifeline.py): our questions to it, and an adopted cluster's hold on it. */
  private api: SchedulerApi | null = null;
  private readonly units = new Map<string, WorkerUnit>();
  /** Workers the scheduler has registered at least once: a name registering again is a restart. */
  private readonly registeredNames = new Set<string>();
  private nextWorkerIndex = 0;
  private readonly security: ClusterSecurity;
  /** Units started in place of ones that died while the cluster ran (see replaceUnit). */
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
      ...thisHost(),
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

  /** Local workers are started in units of any size and retired one by one. */
  private get isLocal(): boolean {
    return !this.spec.workerJobs && !this.spec.runner;
  }

  /** Workers per step of scaling: a batch job or a runner node runs the plan's workers; locally, one. */
  private get workersPerStep(): number {
    return this.isLocal ? 1 : this.spec.plan.n_workers;
  }

  /** The steps (local workers, jobs or nodes) that give at least `workers` workers. */
  unitsFor(workers: number): number {
    return Math.ceil(workers / this.workersPerStep);
  }

  /**
   * Takes over a running cluster whose owner died (the sidecar after SIGKILL): holds its
   * scheduler's lifeline socket so it stays up, and manages its workers by pid and through
   * that socket. Rejects if the scheduler is gone or does not answer.
   */
  static async adopt(spec: ClusterSpec, record: ClusterState, onChange: (state: ClusterState) => void): Promise<Cluster> {
    const cluster = new Cluster(spec, onChange);
    Object.assign(cluster.state, record, { owner_pid: process.pid, control_socket: spec.controlSocket, status: 'running' });
    cluster.scheduler = new AdoptedProcess(record.scheduler_pid);
    const api = await SchedulerApi.connect(spec.lifelineSocket);
    cluster.api = api;
    let addresses: { name: string; address: string }[];
    try {
      addresses = await api.workers();
    } catch (error) {
      api.close();
      throw error;
    }
    for (const worker of record.workers) {
      if (worker.status === 'exited') continue;
      const local = !worker.job_id && !worker.host;
      const name = local ? localUnitName(record.name, worker.name) : worker.name;
      let unit = cluster.units.get(name);
      if (!unit) {
        const process = worker.job_id ? cluster.trackJob(name, worker.job_id) : new AdoptedProcess(worker.pid);
        unit = { info: { ...worker, name }, process, addresses: new Set(), members: local ? new Map() : null };
        cluster.units.set(name, unit);
      }
      unit.members?.set(worker.name, { ...worker });
      for (const known of addresses.filter(w => belongsTo(w.name, name))) unit.addresses.add(known.address);
      const index = Number(/-(\d+)$/.exec(name)?.[1] ?? -1);
      cluster.nextWorkerIndex = Math.max(cluster.nextWorkerIndex, index + 1);
    }
    void api.closed.then(() => cluster.onSchedulerExit('its lifeline closed'));
    cluster.changed();
    return cluster;
  }

  /**
   * A cluster of an earlier owner that cannot be adopted: it died before the cluster was ready,
   * or the cluster's processes are gone. What is left of it is ended; it shows as failed, with
   * the reason, until it is deleted.
   */
  static async failOrphan(spec: ClusterSpec, record: ClusterState, reason: string, onChange: (state: ClusterState) => void): Promise<Cluster> {
    const cluster = new Cluster(spec, onChange);
    Object.assign(cluster.state, record, { owner_pid: process.pid, control_socket: spec.controlSocket, status: 'failed', error: reason, workers: [] });
    // Its workers first, while their scheduler may still answer (see teardown).
    const workerPids = new Set(record.workers.map(worker => worker.pid).filter(processAlive));
    await Promise.all([...workerPids].map(pid => new AdoptedProcess(pid).terminate()));
    if (processAlive(record.scheduler_pid)) await new AdoptedProcess(record.scheduler_pid).terminate();
    await cluster.teardown();
    return cluster;
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
    this.state.workers = [...this.units.values()].flatMap(listedWorkers).map(worker => ({ ...worker }));
    this.onChange(this.state);
  }

  /**
   * Starts the scheduler and the workers; resolves when the scheduler has them all. Local
   * workers start together with the scheduler, not after it: they find it through its
   * scheduler file (Dask's own rendezvous), so their start-up overlaps the scheduler's. The
   * TLS files are taken (made ahead) or written meanwhile: the scheduler waits for our word
   * before it reads them (lifeline.py), and local workers read them only once the scheduler is up.
   */
  async start(): Promise<void> {
    try {
      this.makeLocalDirectory();
      const certificates = takeOrWriteCertificates(this.spec.certificatesAhead, this.spec.securityDirectory);
      certificates.catch(() => undefined); // awaited in startScheduler
      const localWorkers = this.isLocal ? this.startLocalUnit(this.spec.plan.n_workers) : null;
      localWorkers?.catch(() => undefined); // a scheduler that fails first is the error to report
      await this.startScheduler(certificates);
      // Worker jobs wait in the batch system's queue for as long as it takes: the cluster runs
      // once they are submitted, and the card shows them queued, then running.
      const units = this.spec.workerJobs?.initialJobs ?? this.spec.runner?.nodes.length ?? 0;
      await this.withTimeout(localWorkers ?? this.addUnits(units), 'workers');
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
    checkPrivateRoot(dirname(directory), true); // before anything is made in it
    try {
      mkdirSync(directory, { mode: 0o700 }); // a fresh id: a directory already there was not made by us
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

  private async startScheduler(certificates: Promise<unknown>): Promise<void> {
    const scheduler = new DaskProcess({
      python: this.spec.python,
      kind: 'scheduler',
      args: [
        // Workers on other nodes reach it on the chosen interface; local ones on loopback only.
        '--host', this.spec.workerJobs?.listenHost ?? this.spec.runner?.listenHost ?? '127.0.0.1',
        '--port', '0',
        '--protocol', 'tls',
        '--dashboard-address', '127.0.0.1:0',
        // The dashboard comes after the scheduler is up, from a preload: importing it first
        // would hold the workers back by half a second (measured; deferred_dashboard.py).
        '--no-dashboard',
        '--scheduler-file', this.state.scheduler_file,
        '--preload', this.spec.lifelinePreload,
        '--preload', this.spec.dashboardPreload
      ],
      env: { ...this.env, ...tlsEnvironment(this.security, 'scheduler') },
      logFile: join(this.state.local_directory, 'scheduler.log')
    });
    this.scheduler = scheduler;
    this.state.scheduler_pid = scheduler.pid;
    this.changed(); // recorded at once: a restarted owner ends what a killed one left starting
    this.followWorkers(scheduler);
    await certificates;
    scheduler.send('go'); // its TLS files are there (lifeline.py waits for this)
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
      this.api = await this.withTimeout(this.connectToScheduler(scheduler), 'the scheduler');
    } catch (error) {
      throw new Error(`the scheduler did not start: ${(error as Error).message}\n${scheduler.tail()}`);
    }
    void scheduler.exited.then(exit => this.onSchedulerExit(describeExit(exit)));
    this.changed();
  }

  /**
   * The lifeline socket is bound as the scheduler loads its preloads, just after it prints its
   * addresses: tried again until it is there (milliseconds), or the scheduler has exited.
   */
  private async connectToScheduler(scheduler: DaskProcess): Promise<SchedulerApi> {
    for (;;) {
      try {
        return await SchedulerApi.connect(this.spec.lifelineSocket);
      } catch (error) {
        const { code } = error as NodeJS.ErrnoException;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || scheduler.hasExited) throw error;
      }
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  }

  private unitOf(workerName: string): WorkerUnit | undefined {
    return [...this.units.values()].find(unit => belongsTo(workerName, unit.info.name));
  }

  /**
   * The scheduler says when workers arrive and leave, by name, as it happens: how a job's
   * workers are counted, and which local worker its nanny restarted.
   */
  private followWorkers(scheduler: DaskProcess): void {
    scheduler.onLine(line => {
      const registered = SCHEDULER_REGISTER_LINE.exec(line);
      const removed = SCHEDULER_REMOVE_LINE.exec(line);
      const [address, name] = (registered ?? removed)?.slice(1) ?? [];
      const unit = name ? this.unitOf(name) : undefined;
      if (!unit) return;
      if (removed) unit.addresses.delete(address);
      else {
        unit.addresses.add(address);
        const member = unit.members?.get(name);
        if (member && this.registeredNames.has(name)) member.restarts++;
        this.registeredNames.add(name);
      }
      if (this.jobs) this.updateJobWorker(unit);
      else this.changed();
    });
  }

  private updateJobWorker(unit: WorkerUnit): void {
    const job = unit.process as WorkerJob;
    unit.info.registered = unit.addresses.size;
    unit.info.job_state = job.state;
    if (unit.info.status === 'starting' && unit.addresses.size >= this.spec.plan.n_workers) unit.info.status = 'running';
    this.changed();
  }

  /** What the batch system says of a job: queued, running, or gone (walltime, cancelled, failed). */
  private onJobState(job: WorkerJob): void {
    const unit = [...this.units.values()].find(u => u.process === job);
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
    const unit: WorkerUnit = {
      info: { name, status: 'starting', pid: null, restarts: 0, job_id: jobId, job_state: 'queued', registered: 0 },
      process: this.trackJob(name, jobId),
      addresses: new Set(),
      members: null
    };
    this.units.set(name, unit);
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

  /** Starts `count` units (batch jobs, runner nodes) in parallel; resolves once each is in. */
  private async addUnits(count: number): Promise<void> {
    const started: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      started.push(this.spec.workerJobs ? this.submitJob() : this.startRunnerUnit());
    }
    const results = await Promise.allSettled(started);
    const failure = results.find(result => result.status === 'rejected');
    if (failure) {
      throw (failure as PromiseRejectedResult).reason;
    }
  }

  /** A node of the allocation without workers of ours yet (runner mode). */
  private freeNode(): AllocationNode {
    const used = new Set(this.activeUnits().map(unit => unit.info.host));
    const nodes = (this.spec.runner as RunnerSpec).nodes;
    const node = nodes.find(n => !used.has(n.host));
    if (!node) throw new Error(`every one of the allocation's ${nodes.length} node(s) has workers already`);
    return node;
  }

  /** A new local or runner unit's name, CLUSTER-U (localUnitName reads it back on adoption). */
  private nextUnitName(): string {
    return `${this.state.name}-${this.nextWorkerIndex++}`;
  }

  /** The `dask worker` arguments every unit shares: threads, memory, directory. */
  private workerArgs(localDirectory: string): string[] {
    const { plan } = this.spec;
    return [
      '--nthreads', String(plan.threads_per_worker),
      '--memory-limit', String(plan.memory_limit_bytes),
      '--local-directory', localDirectory,
      '--nanny',
      // Nobody reaches a worker's own dashboard (the scheduler's is the one proxied), and
      // importing it costs each worker process half a second and tens of megabytes.
      '--no-dashboard',
      // If the scheduler vanishes without closing us, leave on our own.
      '--death-timeout', '30'
    ];
  }

  /**
   * Starts `count` local workers as one `dask worker --nworkers count`: one Python start-up
   * and one import of distributed for all of them, where N processes would pay N (measured
   * in bench/: 0.68 of the time for 2 workers). Each worker keeps its own nanny and process.
   * Resolves once all of them have registered with the scheduler.
   */
  private async startLocalUnit(count: number, restarts: number[] = []): Promise<void> {
    const name = this.nextUnitName();
    const process = new DaskProcess({
      python: this.spec.python,
      kind: 'worker',
      args: [
        '--scheduler-file', this.state.scheduler_file,
        '--name', name,
        '--nworkers', String(count),
        '--host', '127.0.0.1', // local workers listen on loopback only
        ...this.workerArgs(this.state.local_directory)
      ],
      // TLS through the environment: this process may start before the files are written.
      env: { ...this.env, ...tlsEnvironment(this.security, 'worker') },
      logFile: join(this.state.local_directory, `${name}.log`)
    });
    const members = memberNames(name, count).map((member, i): [string, ClusterWorker] => [
      member,
      { name: member, status: 'starting', pid: process.pid, restarts: restarts[i] ?? 0 }
    ]);
    const unit: WorkerUnit = {
      info: { name, status: 'starting', pid: process.pid, restarts: 0 },
      process,
      addresses: new Set(),
      members: new Map(members)
    };
    await this.superviseUnit(unit, process, count);
  }

  /** Runner mode: the plan's workers on a free node of the allocation, through srun or pbsdsh. */
  private async startRunnerUnit(restarts = 0): Promise<void> {
    const name = this.nextUnitName();
    const { plan } = this.spec;
    const runner = this.spec.runner as RunnerSpec;
    const node = this.freeNode();
    const localDirectory = join(this.state.local_directory, name);
    const env = { ...this.env, ...clusterEnvironment(plan, localDirectory) };
    const process = new DaskProcess({
      python: this.spec.python,
      kind: 'worker',
      launcher: nodeLauncher(runner.system, node, plan.n_workers * plan.threads_per_worker, env),
      // The node's workers listen on the interface that reaches the scheduler.
      args: [this.state.scheduler_address as string, '--name', name, '--nworkers', String(plan.n_workers), ...this.workerArgs(localDirectory), ...tlsFlags(this.security)],
      env,
      logFile: join(this.state.local_directory, `${name}.log`)
    });
    const unit: WorkerUnit = {
      info: { name, status: 'starting', pid: process.pid, restarts, host: node.host, registered: 0 },
      process,
      addresses: new Set(),
      members: null
    };
    await this.superviseUnit(unit, process, plan.n_workers);
  }

  /**
   * Watches a unit's process: counts its workers' "Registered to" lines (a runner node's count
   * shows on its card; more than it runs are nanny restarts), replaces it if it dies while the
   * cluster runs, and resolves once its `count` workers have registered.
   */
  private async superviseUnit(unit: WorkerUnit, process: DaskProcess, count: number): Promise<void> {
    const { info } = unit;
    this.units.set(info.name, unit);
    this.changed();
    const restartsBefore = info.restarts;
    let registrations = 0;
    let allRegistered: () => void = () => undefined;
    const registered = new Promise<void>(resolve => (allRegistered = resolve));
    process.onLine(line => {
      if (!WORKER_REGISTERED_LINE.test(line)) return;
      registrations++;
      if (registrations === count) allRegistered();
      if (unit.members) return; // a local worker's restarts are counted by name (followWorkers)
      info.registered = Math.min(registrations, count);
      if (registrations > count) info.restarts = restartsBefore + registrations - count;
      this.changed();
    });
    void process.exited.then(exit => this.onUnitExit(unit, `worker ${info.name} exited (${describeExit(exit)}):\n${process.tail()}`));
    try {
      await Promise.race([
        registered,
        process.exited.then(exit => {
          throw new Error(`exited (${describeExit(exit)}) before its workers registered`);
        })
      ]);
    } catch (error) {
      throw new Error(`worker ${info.name} did not start: ${(error as Error).message}\n${process.tail()}`);
    }
    for (const worker of listedWorkers(unit)) if (worker.status === 'starting') worker.status = 'running';
    info.status = 'running';
    this.changed();
  }

  /**
   * A unit that died while the cluster ran (its nanny killed, the node's OOM killer) is
   * started again, so the cluster keeps its size; the card counts it as a restart of each of
   * its workers. A cluster whose workers keep dying stops being repaired after
   * MAX_REPLACEMENTS and shows why.
   */
  private onUnitExit(unit: WorkerUnit, reason: string): void {
    if (unit.info.status === 'retiring' || this.stopping) return;
    const wasRunning = unit.info.status === 'running';
    for (const worker of [unit.info, ...listedWorkers(unit)]) worker.status = 'exited';
    if (!wasRunning || this.replacements >= MAX_REPLACEMENTS) {
      this.state.error = reason;
      this.changed();
      return;
    }
    this.replacements++;
    this.units.delete(unit.info.name);
    this.changed();
    const restarts = listedWorkers(unit).map(worker => worker.restarts + 1);
    const replacement = unit.members ? this.startLocalUnit(restarts.length, restarts) : this.startRunnerUnit(restarts[0]);
    replacement.catch(error => {
      if (this.stopping) return;
      this.state.error = `${reason}\nits replacement did not start either: ${(error as Error).message}`;
      this.changed();
    });
  }

  private withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = [...this.units.values()].filter(unit => unit.info.status === 'starting');
        const detail = waiting.map(unit => `worker ${unit.info.name} is not registered yet:\n${unit.process.tail()}`).join('\n');
        reject(new Error(`${what} not ready after ${this.spec.readyTimeoutMs / 1000} s\n${detail}`));
      }, this.spec.readyTimeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  /** The units that count toward the size: starting or running; queued jobs last, so they are the first to go. */
  private activeUnits(): WorkerUnit[] {
    const active = [...this.units.values()].filter(unit => isActive(unit.info));
    const queued = (unit: WorkerUnit) => Number(unit.info.job_state === 'queued');
    return active.sort((a, b) => queued(a) - queued(b));
  }

  /** The size that scaling counts: local workers, or jobs, or runner nodes. */
  private size(): number {
    return this.isLocal ? this.activeUnits().flatMap(listedWorkers).filter(isActive).length : this.activeUnits().length;
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
    // One scaling at a time, in the order asked. A failed one was answered to its own caller:
    // the next is tried afresh, not answered with that failure again.
    const resized = this.scaling.catch(() => undefined).then(() => this.resize(nWorkers));
    this.scaling = resized;
    return resized;
  }

  private async resize(target: number): Promise<void> {
    if (this.stopping) return;
    const current = this.size();
    if (current === target) return;
    this.state.status = 'scaling';
    this.changed();
    try {
      if (target > current) {
        await this.grow(target - current);
      } else if (this.isLocal) {
        await this.retireLocalWorkers(current - target);
      } else {
        await this.retireUnits(this.activeUnits().slice(target));
      }
    } finally {
      if (!this.stopping) {
        this.state.status = 'running';
        this.changed();
      }
    }
  }

  /**
   * Adds workers; if they are not all in within the timeout, those of this step that are still
   * starting are ended, so the size counts only workers there are and the next scale starts afresh.
   */
  private async grow(count: number): Promise<void> {
    const before = new Set(this.units.keys());
    const growing = this.isLocal ? this.startLocalUnit(count) : this.addUnits(count);
    try {
      await this.withTimeout(growing, 'new workers');
    } catch (error) {
      growing.catch(() => undefined); // its end is this error's
      const started = [...this.units.values()].filter(unit => !before.has(unit.info.name) && unit.info.status === 'starting');
      for (const unit of started) unit.info.status = 'retiring'; // ended on purpose: no replacement
      await Promise.all(started.map(unit => unit.process.terminate()));
      for (const unit of started) this.units.delete(unit.info.name);
      // Not an internal error: workers did not start, and what this step began is ended.
      throw new ClusterStartError((error as Error).message);
    }
  }

  /** Retires batch jobs or runner nodes through the scheduler (their data moves to the others), then ends them. */
  private async retireUnits(units: WorkerUnit[]): Promise<void> {
    for (const unit of units) unit.info.status = 'retiring';
    this.changed();
    await this.retireThroughScheduler(units.flatMap(unit => [...unit.addresses]));
    await Promise.all(units.map(unit => unit.process.terminate()));
    for (const unit of units) this.units.delete(unit.info.name);
    this.changed();
  }

  /**
   * Retires `count` local workers, the newest first, through the scheduler: their data moves
   * to the others and their nannies close them. A unit left without workers is ended; the
   * others run on with the rest of theirs.
   */
  private async retireLocalWorkers(count: number): Promise<void> {
    const leaving = this.activeUnits()
      .flatMap(unit => listedWorkers(unit).filter(isActive).map(worker => ({ unit, worker })))
      .slice(-count);
    for (const { worker } of leaving) worker.status = 'retiring';
    this.changed();
    const names = new Set(leaving.map(({ worker }) => worker.name));
    // Addresses from the scheduler itself: an adopted cluster's log is not ours to read.
    const known = this.api ? await this.api.workers().catch(() => []) : [];
    await this.retireThroughScheduler(known.filter(worker => names.has(worker.name)).map(worker => worker.address));
    const emptied = new Set<WorkerUnit>();
    for (const { unit, worker } of leaving) {
      unit.members?.delete(worker.name);
      if (unit.members?.size === 0) emptied.add(unit);
    }
    await this.retireUnits([...emptied]);
  }

  private async retireThroughScheduler(addresses: string[]): Promise<void> {
    if (this.api && addresses.length > 0) {
      await this.api.retireWorkers(addresses, RETIRE_TIMEOUT_MS).catch(() => undefined);
    }
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
        const current = this.size();
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
    const current = this.size();
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
    const units = [...this.units.values()];
    await Promise.all(units.map(unit => unit.process.terminate()));
    await this.scheduler?.terminate();
    this.jobs?.stop();
    this.api?.close();
    if (this.spec.workerJobs) removeTree(this.spec.workerJobs.jobDirectory);
    this.units.clear();
    removeClusterFiles(this.state.local_directory, this.state.name);
    removeTree(this.spec.securityDirectory); // no key outlives its cluster
  }
}


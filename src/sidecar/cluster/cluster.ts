import { join } from 'node:path';
import type { AdaptiveRange, ClusterMetrics, ClusterSecurity, ClusterState } from '../../common/protocol';
import { ClusterStartError } from '../errors';
import { DaskProcess } from '../process/dask-process';
import { describeExit, type OwnedProcess } from '../process/owned-process';
import { startTimeOf } from '../process/process-identity';
import { SchedulerApi } from '../server/scheduler-api';
import { takeOrWriteCertificates } from '../startup/certificates-ahead';
import { thisHost } from '../state/host';
import { removeTree } from '../state/state-store';
import { clusterSecurityFiles, tlsEnvironment } from '../tls/cluster-tls';
import { AdaptiveScaling } from './adaptive';
import { choosePlacement } from './choose-placement';
import { removeClusterFiles, setClusterFilesAside } from './cluster-files';
import { clusterEnvironment } from './cluster-environment';
import type { ClusterDependencies, ClusterSpec, SchedulerConnection } from './cluster-spec';
import { makeLocalDirectory } from './local-directory';
import type { PlacementContext, WorkerPlacement } from './placement';
import { awaitScheduler, followWorkers, startScheduler } from './scheduler';
import { UnitSupervisor, type SupervisedCluster } from './supervision';
import type { WorkerUnit } from './worker-unit';

export type { ClusterSpec, RunnerSpec, WorkerJobsSpec } from './cluster-spec';

/** Real Dask processes and a real lifeline socket. */
export const daskDependencies: ClusterDependencies = {
  startProcess: options => new DaskProcess(options),
  connectScheduler: socket => SchedulerApi.connect(socket)
};

/**
 * One cluster's life: a `dask scheduler` and its workers, placed by a `WorkerPlacement`,
 * started in parallel, supervised, scaled, and stopped with nothing left behind.
 */
export class Cluster implements PlacementContext, SupervisedCluster {
  readonly state: ClusterState;
  readonly security: ClusterSecurity;
  readonly supervisor: UnitSupervisor;
  readonly placement: WorkerPlacement;
  private schedulerProcess: OwnedProcess | null = null;
  /** The scheduler's lifeline socket (lifeline.py): our questions to it, and an adopted cluster's hold on it. */
  private api: SchedulerConnection | null = null;
  private nextIndex = 0;
  private readonly adaptive = new AdaptiveScaling(this);
  private scaling: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  private lastReported: string | null = null;

  constructor(
    readonly spec: ClusterSpec,
    /** Called on every change of state, for the state file and the events stream. */
    private readonly onChange: (state: ClusterState) => void,
    readonly dependencies: ClusterDependencies = daskDependencies
  ) {
    this.placement = choosePlacement(spec, this);
    this.supervisor = new UnitSupervisor(this);
    const localDirectory = join(this.placement.localRoot, spec.id);
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
      owner_start_time: startTimeOf(process.pid),
      scheduler_pid: null,
      scheduler_start_time: null,
      control_socket: spec.controlSocket,
      created_at: new Date().toISOString(),
      ...this.placement.recordFields(),
      security: this.security
    };
  }

  get isStopping(): boolean {
    return this.stopping !== null;
  }

  scheduler(): SchedulerConnection | null {
    return this.api;
  }

  nextUnitIndex(): number {
    return this.nextIndex++;
  }

  reportError(message: string): void {
    this.state.error = message;
  }

  get readyTimeoutMs(): number {
    return this.spec.readyTimeoutMs;
  }

  replace(unit: WorkerUnit, restarts: number[]): Promise<void> | null {
    return this.placement.replace(unit, restarts);
  }

  /** The steps (local workers, jobs or nodes) that give at least `workers` workers. */
  unitsFor(workers: number): number {
    return Math.ceil(workers / this.placement.workersPerUnit);
  }

  environment(): Record<string, string> {
    return {
      ...clusterEnvironment(this.spec.plan, this.state.local_directory),
      DASK_HPC_LIFELINE_SOCKET: this.spec.lifelineSocket,
      DASK_HPC_ADOPTION_GRACE: String(this.spec.adoptionGraceSeconds),
      ...this.placement.environment()
    };
  }

  changed(): void {
    this.state.workers = this.supervisor.listedWorkers().map(worker => ({ ...worker }));
    // Reported only when it differs: each report is a record written (on a shared filesystem,
    // on the start's critical path) and an event to every sidebar, and a worker's registration
    // often changes nothing the state shows (48 workers: 48 identical records otherwise).
    const reported = JSON.stringify(this.state);
    if (reported === this.lastReported) return;
    this.lastReported = reported;
    this.onChange(this.state);
  }

  /**
   * Starts the scheduler and the workers; resolves when the scheduler has them all. The TLS
   * files are taken (made ahead) or written meanwhile: the scheduler waits for our word before
   * it reads them (lifeline.py), and local workers read them only once the scheduler is up.
   */
  async start(): Promise<void> {
    let schedulerStarted: (up: boolean) => void = () => undefined;
    const schedulerUp = new Promise<void>(
      (resolve, reject) => (schedulerStarted = up => (up ? resolve() : reject(new Error('no scheduler'))))
    );
    schedulerUp.catch(() => undefined);
    try {
      makeLocalDirectory(this.state.local_directory);
      const certificates = takeOrWriteCertificates(this.spec.certificatesAhead, this.spec.securityDirectory);
      certificates.catch(() => undefined); // awaited with the scheduler
      const workers = this.placement.startInitial(schedulerUp);
      workers.catch(() => undefined); // a scheduler that fails first is the error to report
      try {
        await this.startScheduler(certificates);
      } finally {
        schedulerStarted(this.api !== null);
      }
      await this.supervisor.withTimeout(workers, 'workers');
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

  private async startScheduler(certificates: Promise<unknown>): Promise<void> {
    const env = { ...this.environment(), ...tlsEnvironment(this.security, 'scheduler') };
    const scheduler = startScheduler(this.spec, this.state, this.placement.schedulerHost, env, this.dependencies);
    this.schedulerProcess = scheduler;
    this.state.scheduler_pid = scheduler.pid;
    this.state.scheduler_start_time = startTimeOf(scheduler.pid);
    this.changed(); // recorded at once: a restarted owner ends what a killed one left starting
    followWorkers(scheduler, (change, address, name) => {
      const unit = this.supervisor.schedulerSaw(change, address, name);
      if (unit) this.placement.workersChanged(unit);
    });
    const withTimeout = <T>(work: Promise<T>, what: string) => this.supervisor.withTimeout(work, what);
    this.api = await awaitScheduler(scheduler, certificates, this.spec, this.state, withTimeout, this.dependencies);
    void scheduler.exited.then(exit => this.onSchedulerExit(describeExit(exit)));
    this.changed();
  }

  /** An adopted cluster's scheduler (adopt.ts): its process by pid, and its lifeline, which we now hold. */
  attachScheduler(scheduler: OwnedProcess, api: SchedulerConnection): void {
    this.schedulerProcess = scheduler;
    this.api = api;
    void api.closed.then(() => this.onSchedulerExit('its lifeline closed'));
  }

  /** New units are numbered after `index` (an adopted cluster's units keep theirs). */
  skipUnitIndex(index: number): void {
    this.nextIndex = Math.max(this.nextIndex, index + 1);
  }

  private onSchedulerExit(how: string): void {
    if (this.stopping || this.state.status === 'starting') return;
    this.state.error = `the scheduler exited (${how}):\n${this.schedulerProcess?.tail() ?? ''}`;
    void this.stop().then(() => {
      this.state.status = 'failed';
      this.changed();
    });
  }

  size(): number {
    return this.placement.size();
  }

  metrics(): Promise<ClusterMetrics> {
    if (!this.api || this.state.status === 'starting') {
      return Promise.resolve({ n_workers: 0, memory_bytes: 0, memory_limit_bytes: 0, spilled_bytes: 0, cpu_percent: 0 });
    }
    return this.api.metrics();
  }

  /** Scales to a fixed number of units; turns adaptive off. */
  scale(units: number): Promise<void> {
    this.adaptive.stop();
    return this.scaleTo(units);
  }

  /** Lets the scheduler's adaptive target choose the size, within the range. */
  adapt(range: AdaptiveRange): Promise<void> {
    return this.adaptive.start(range);
  }

  scaleTo(units: number): Promise<void> {
    // One scaling at a time, in the order asked. A failed one was answered to its own caller:
    // the next is tried afresh, not answered with that failure again.
    const resized = this.scaling.catch(() => undefined).then(() => this.resize(units));
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
      if (target > current) await this.grow(target - current);
      else await this.placement.shrink(current, target);
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
    const before = new Set(this.supervisor.units.keys());
    const growing = this.placement.grow(count);
    try {
      await this.supervisor.withTimeout(growing, 'new workers');
    } catch (error) {
      growing.catch(() => undefined); // its end is this error's
      await this.supervisor.endStartedSince(before);
      // Not an internal error: workers did not start, and what this step began is ended.
      throw new ClusterStartError((error as Error).message);
    }
  }

  /** Stops the workers and the scheduler: SIGTERM to all, SIGKILL after the grace period; removes the cluster's files. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.adaptive.stop();
      const wasFailed = this.state.status === 'failed';
      this.state.status = 'stopping';
      // Committed: from here the stop goes on whatever happens to who asked for it.
      setClusterFilesAside(this.state.local_directory, this.state.name);
      this.changed();
      await this.teardown();
      this.state.status = wasFailed ? 'failed' : 'stopped';
      this.changed();
    })();
    return this.stopping;
  }

  /**
   * The whole cluster goes: the workers first, while their scheduler still answers (a worker
   * whose scheduler is gone waits on it for seconds before it leaves: worker jobs closing with
   * their scheduler stopped alongside stayed 8 s on the test PBS, until PBS killed them), then
   * the scheduler, as soon as its workers have left it: a worker job is over for the batch
   * system only later, and waiting for that first made the teardown 0.3 s longer.
   * Retiring would move data to workers that are leaving too.
   */
  async teardown(): Promise<void> {
    const unitsEnded = this.supervisor.terminateAll();
    await Promise.race([unitsEnded, this.supervisor.workersLeft()]);
    await Promise.all([unitsEnded, this.schedulerProcess?.terminate()]);
    this.placement.teardown();
    this.api?.close();
    removeClusterFiles(this.state.local_directory, this.state.name); // the user's files there stay
    removeTree(this.spec.securityDirectory); // no key outlives its cluster
  }
}

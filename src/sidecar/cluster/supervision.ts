import type { ClusterWorker } from '../../common/protocol';
import { describeExit, type StartedProcess } from '../process/owned-process';
import type { SchedulerConnection } from './cluster-spec';
import { belongsTo, isActive, listedWorkers, type WorkerUnit } from './worker-unit';

/** Workers started in place of dead ones, at most, in a cluster's life. */
const MAX_REPLACEMENTS = 10;
/** How long a worker may take to hand its data on before it is terminated anyway. */
const RETIRE_TIMEOUT_MS = 10000;
/** A worker's own line once its scheduler has it. */
const WORKER_REGISTERED_LINE = /Registered to:\s+(\S+)/;

/** What supervision needs of its cluster. */
export interface SupervisedCluster {
  changed(): void;
  readonly isStopping: boolean;
  /** Shown on the card: why the cluster is not whole. */
  reportError(message: string): void;
  scheduler(): SchedulerConnection | null;
  /** Starts a unit in place of a dead one; null if its placement leaves that to someone else. */
  replace(unit: WorkerUnit, restarts: number[]): Promise<void> | null;
  readonly readyTimeoutMs: number;
}

/**
 * A cluster's worker units: watches each until its workers register, replaces one that dies
 * while the cluster runs, and retires units through the scheduler.
 */
export class UnitSupervisor {
  readonly units = new Map<string, WorkerUnit>();
  private replacements = 0;
  /** Workers the scheduler has registered at least once: a name registering again is a restart. */
  private readonly registeredNames = new Set<string>();
  /** Runner units waiting for their workers, told by the scheduler (see supervise). */
  private readonly registrationWaiters = new Map<WorkerUnit, () => void>();
  /** Told once the scheduler has no worker of ours left (see workersLeft). */
  private leftWaiters: (() => void)[] = [];

  constructor(private readonly cluster: SupervisedCluster) {}

  /** The units that count toward the size: starting or running; queued jobs last, so they are the first to go. */
  activeUnits(): WorkerUnit[] {
    const active = [...this.units.values()].filter(unit => isActive(unit.info));
    const queued = (unit: WorkerUnit) => Number(unit.info.job_state === 'queued');
    return active.sort((a, b) => queued(a) - queued(b));
  }

  /** The unit that runs the Dask worker `workerName`. */
  unitOf(workerName: string): WorkerUnit | undefined {
    return [...this.units.values()].find(unit => belongsTo(workerName, unit.info.name));
  }

  /**
   * The scheduler saw a worker arrive or leave: the addresses of its unit, and a local
   * worker's restart (its name registering again). Returns the unit, if it is ours.
   */
  schedulerSaw(change: 'added' | 'removed', address: string, name: string): WorkerUnit | undefined {
    const unit = this.unitOf(name);
    if (!unit) return undefined;
    if (change === 'removed') unit.addresses.delete(address);
    else {
      unit.addresses.add(address);
      const member = unit.members?.get(name);
      if (member && this.registeredNames.has(name)) member.restarts++;
      else if (!unit.members && this.registeredNames.has(name)) unit.info.restarts++;
      this.registeredNames.add(name);
    }
    this.registrationWaiters.get(unit)?.();
    if (change === 'removed') this.tellIfWorkersLeft();
    return unit;
  }

  /**
   * Resolves once the scheduler has seen every worker of every unit leave, though their
   * processes (or jobs) may not have ended yet: from then the scheduler can go.
   */
  workersLeft(): Promise<void> {
    const left = new Promise<void>(resolve => this.leftWaiters.push(resolve));
    this.tellIfWorkersLeft();
    return left;
  }

  private tellIfWorkersLeft(): void {
    if ([...this.units.values()].some(unit => unit.addresses.size > 0)) return;
    for (const resolve of this.leftWaiters.splice(0)) resolve();
  }

  /** Every worker the state lists. */
  listedWorkers(): ClusterWorker[] {
    return [...this.units.values()].flatMap(listedWorkers);
  }

  /**
   * Watches a unit's process: resolves once its `count` workers have registered (local ones by
   * their "Registered to" lines, a runner node's by the scheduler's word), and replaces it if it
   * dies while the cluster runs.
   */
  async supervise(unit: WorkerUnit, process: StartedProcess, count: number): Promise<void> {
    const { info } = unit;
    this.units.set(info.name, unit);
    this.cluster.changed();
    let registrations = 0;
    let allRegistered: () => void = () => undefined;
    const registered = new Promise<void>(resolve => (allRegistered = resolve));
    if (unit.members) {
      // Local workers print to us; their restarts are counted by name (schedulerSaw).
      process.onLine(line => {
        if (WORKER_REGISTERED_LINE.test(line) && ++registrations === count) allRegistered();
      });
    } else {
      // A node's workers: the scheduler says who registered. A launcher's output is no witness
      // (a real pbsdsh relays none of its tasks' output: it goes to the job's output file).
      this.registrationWaiters.set(unit, () => {
        info.registered = Math.min(unit.addresses.size, count);
        if (unit.addresses.size >= count) allRegistered();
      });
      const stopWaiting = () => this.registrationWaiters.delete(unit);
      void registered.then(stopWaiting);
      void process.exited.then(stopWaiting);
    }
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
    this.cluster.changed();
  }

  /**
   * A unit that died while the cluster ran (its nanny killed, the node's OOM killer) is
   * started again, so the cluster keeps its size; the card counts it as a restart of each of
   * its workers. A cluster whose workers keep dying stops being repaired after
   * MAX_REPLACEMENTS and shows why.
   */
  private onUnitExit(unit: WorkerUnit, reason: string): void {
    if (unit.info.status === 'retiring' || this.cluster.isStopping) return;
    const wasRunning = unit.info.status === 'running';
    for (const worker of [unit.info, ...listedWorkers(unit)]) worker.status = 'exited';
    if (!wasRunning || this.replacements >= MAX_REPLACEMENTS) {
      this.cluster.reportError(reason);
      this.cluster.changed();
      return;
    }
    this.replacements++;
    this.units.delete(unit.info.name);
    this.cluster.changed();
    const restarts = listedWorkers(unit).map(worker => worker.restarts + 1);
    this.cluster.replace(unit, restarts)?.catch(error => {
      if (this.cluster.isStopping) return;
      this.cluster.reportError(`${reason}\nits replacement did not start either: ${(error as Error).message}`);
      this.cluster.changed();
    });
  }

  /** `work`, or an error naming what is not ready and the units still starting, after the cluster's timeout. */
  withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.cluster.readyTimeoutMs;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = [...this.units.values()].filter(unit => unit.info.status === 'starting');
        const detail = waiting.map(unit => `worker ${unit.info.name} is not registered yet:\n${unit.process.tail()}`).join('\n');
        reject(new Error(`${what} not ready after ${timeoutMs / 1000} s\n${detail}`));
      }, timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  /** Ends the units started since `before` that are still starting: a step of scaling that timed out. */
  async endStartedSince(before: Set<string>): Promise<void> {
    const started = [...this.units.values()].filter(unit => !before.has(unit.info.name) && unit.info.status === 'starting');
    for (const unit of started) unit.info.status = 'retiring'; // ended on purpose: no replacement
    await Promise.all(started.map(unit => unit.process.terminate()));
    for (const unit of started) this.units.delete(unit.info.name);
  }

  /** Retires whole units through the scheduler (their data moves to the others), then ends them. */
  async retireUnits(units: WorkerUnit[]): Promise<void> {
    for (const unit of units) unit.info.status = 'retiring';
    this.cluster.changed();
    await this.retireThroughScheduler(units.flatMap(unit => [...unit.addresses]));
    await Promise.all(units.map(unit => unit.process.terminate()));
    for (const unit of units) this.units.delete(unit.info.name);
    this.cluster.changed();
  }

  async retireThroughScheduler(addresses: string[]): Promise<void> {
    const scheduler = this.cluster.scheduler();
    if (scheduler && addresses.length > 0) {
      await scheduler.retireWorkers(addresses, RETIRE_TIMEOUT_MS).catch(() => undefined);
    }
  }

  /** Ends every unit at once (teardown: retiring would move data to workers that are leaving too). */
  async terminateAll(): Promise<void> {
    await Promise.all([...this.units.values()].map(unit => unit.process.terminate()));
    this.units.clear();
  }
}

import { join } from 'node:path';
import type { ClusterWorker } from '../../common/protocol';
import { AdoptedProcess } from '../process/adopted-process';
import { startTimeOf } from '../process/process-identity';
import { tlsEnvironment } from '../tls/cluster-tls';
import type { PlacementContext, WorkerPlacement } from './placement';
import { workerArgs } from './worker-args';
import { isActive, listedWorkers, localUnitName, memberNames, type WorkerUnit } from './worker-unit';

/** Workers as processes on this node, started in units of any size and retired one by one. */
export class LocalWorkers implements WorkerPlacement {
  readonly workersPerUnit = 1;
  readonly maxUnits = null;
  readonly schedulerHost = '127.0.0.1'; // local workers reach it on loopback only

  constructor(private readonly cluster: PlacementContext) {}

  get localRoot(): string {
    return this.cluster.spec.plan.local_directory;
  }

  describe(): string {
    return `local workers on this node (${this.cluster.spec.plan.n_workers} planned)`;
  }

  environment(): Record<string, string> {
    return {};
  }

  recordFields() {
    return { worker_jobs: null, runner: null };
  }

  /** At once, not after the scheduler: they find it through its scheduler file (Dask's own rendezvous). */
  startInitial(): Promise<void> {
    return this.startUnit(this.cluster.spec.plan.n_workers);
  }

  size(): number {
    return this.cluster.supervisor.activeUnits().flatMap(listedWorkers).filter(isActive).length;
  }

  grow(count: number): Promise<void> {
    return this.startUnit(count);
  }

  /**
   * Retires local workers, the newest first, through the scheduler: their data moves to the
   * others and their nannies close them. A unit left without workers is ended; the others
   * run on with the rest of theirs.
   */
  async shrink(current: number, target: number): Promise<void> {
    const { supervisor } = this.cluster;
    const leaving = supervisor
      .activeUnits()
      .flatMap(unit =>
        listedWorkers(unit)
          .filter(isActive)
          .map(worker => ({ unit, worker }))
      )
      .slice(-(current - target));
    for (const { worker } of leaving) worker.status = 'retiring';
    this.cluster.changed();
    const names = new Set(leaving.map(({ worker }) => worker.name));
    // Addresses from the scheduler itself: an adopted cluster's log is not ours to read.
    const scheduler = this.cluster.scheduler();
    const known = scheduler ? await scheduler.workers().catch(() => []) : [];
    await supervisor.retireThroughScheduler(known.filter(worker => names.has(worker.name)).map(worker => worker.address));
    const emptied = new Set<WorkerUnit>();
    for (const { unit, worker } of leaving) {
      unit.members?.delete(worker.name);
      if (unit.members?.size === 0) emptied.add(unit);
    }
    await supervisor.retireUnits([...emptied]);
  }

  replace(_unit: WorkerUnit, restarts: number[]): Promise<void> {
    return this.startUnit(restarts.length, restarts);
  }

  adoptedUnitName(worker: ClusterWorker): string {
    return localUnitName(this.cluster.state.name, worker.name);
  }

  adoptUnit(name: string, worker: ClusterWorker): WorkerUnit {
    return {
      info: { ...worker, name },
      process: new AdoptedProcess(worker.pid, worker.start_time ?? null),
      addresses: new Set(),
      members: new Map()
    };
  }

  workersChanged(): void {
    this.cluster.changed();
  }

  teardown(): void {}

  /**
   * Starts `count` local workers as one `dask worker --nworkers count`: one Python start-up
   * and one import of distributed for all of them. Each worker keeps its own nanny
   * and process. Resolves once all of them have registered with the scheduler.
   */
  private async startUnit(count: number, restarts: number[] = []): Promise<void> {
    const { spec, state, security } = this.cluster;
    const name = `${state.name}-${this.cluster.nextUnitIndex()}`;
    const process = this.cluster.dependencies.startProcess({
      python: spec.python,
      kind: 'worker',
      args: [
        '--scheduler-file',
        state.scheduler_file,
        '--name',
        name,
        '--nworkers',
        String(count),
        '--host',
        '127.0.0.1',
        ...workerArgs(spec.plan, state.local_directory)
      ],
      // TLS through the environment: this process may start before the files are written.
      env: { ...this.cluster.environment(), ...tlsEnvironment(security, 'worker') },
      logFile: join(state.local_directory, `${name}.log`)
    });
    const startTime = startTimeOf(process.pid); // with the pid, so that a pid reused later is not taken for it
    const members = memberNames(name, count).map((member, i): [string, ClusterWorker] => [
      member,
      { name: member, status: 'starting', pid: process.pid, start_time: startTime, restarts: restarts[i] ?? 0 }
    ]);
    const unit: WorkerUnit = {
      info: { name, status: 'starting', pid: process.pid, start_time: startTime, restarts: 0 },
      process,
      addresses: new Set(),
      members: new Map(members)
    };
    await this.cluster.supervisor.supervise(unit, process, count);
  }
}

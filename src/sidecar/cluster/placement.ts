import type { ClusterSecurity, ClusterState, ClusterWorker } from '../../common/protocol';
import type { ClusterDependencies, ClusterSpec, SchedulerConnection } from './cluster-spec';
import type { UnitSupervisor } from './supervision';
import type { WorkerUnit } from './worker-unit';

/**
 * Where a cluster's workers run, as one strategy each (as dask-jobqueue has one class per
 * batch system): local processes (local-workers.ts), the nodes of the current job
 * (runner-nodes.ts), or batch jobs (worker-jobs.ts). The Cluster asks; the placement does.
 */
export interface WorkerPlacement {
  /** Where the workers run, in words. */
  describe(): string;
  /** The address the scheduler listens on: loopback when every worker runs here. */
  readonly schedulerHost: string;
  /** Where the cluster's own directory (temp, spill, logs) is made on this node. */
  readonly localRoot: string;
  /** Workers per step of scaling: a job or node runs the plan's workers; locally, one. */
  readonly workersPerUnit: number;
  /** The most units there can be (the allocation's nodes), or null for no limit. */
  readonly maxUnits: number | null;
  /** Variables every Dask process of the cluster gets. */
  environment(): Record<string, string>;
  /** What the cluster's record says of its placement. */
  recordFields(): Pick<ClusterState, 'worker_jobs' | 'runner'>;
  /** Starts the first workers: local ones at once, the others once the scheduler is up. */
  startInitial(schedulerUp: Promise<void>): Promise<void>;
  /** The size scaling counts: local workers, or jobs, or nodes. */
  size(): number;
  /** Adds `count` steps; resolves once they are in. */
  grow(count: number): Promise<void>;
  /** Retires down from `current` to `target` steps, through the scheduler. */
  shrink(current: number, target: number): Promise<void>;
  /** Starts a unit in place of a dead one; null if the batch system has the say. */
  replace(unit: WorkerUnit, restarts: number[]): Promise<void> | null;
  /** The unit an earlier owner's recorded worker belongs to. */
  adoptedUnitName(worker: ClusterWorker): string;
  /** A unit for an earlier owner's recorded worker, to be managed from now on. */
  adoptUnit(name: string, worker: ClusterWorker): WorkerUnit;
  /** The scheduler saw workers of `unit` arrive or leave. */
  workersChanged(unit: WorkerUnit): void;
  /** Ends what the placement holds besides the units (job polling, job scripts). */
  teardown(): void;
}

/** What a placement may use of its cluster. */
export interface PlacementContext {
  readonly spec: ClusterSpec;
  readonly state: ClusterState;
  readonly security: ClusterSecurity;
  readonly supervisor: UnitSupervisor;
  readonly dependencies: ClusterDependencies;
  readonly isStopping: boolean;
  /** The environment of every Dask process of the cluster. */
  environment(): Record<string, string>;
  changed(): void;
  reportError(message: string): void;
  scheduler(): SchedulerConnection | null;
  /** A fresh number for a unit's name. */
  nextUnitIndex(): number;
}

/** Starts `count` units in parallel; resolves once each is in, rejects with the first failure. */
export async function startInParallel(count: number, startOne: () => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(Array.from({ length: count }, () => startOne()));
  const failure = results.find(result => result.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
}

import type { ClusterWorker } from '../../common/protocol';
import type { OwnedProcess } from '../process/owned-process';

/**
 * A process (or batch job) of a cluster that runs Dask workers: a local
 * `dask worker --nworkers K`, a node's workers in runner mode, or a worker job. Dask names
 * its workers NAME when it runs one, NAME-0 … NAME-(K-1) when it runs several.
 */
export interface WorkerUnit {
  /** The unit as a whole; the state lists it as such for a job or a runner node. */
  info: ClusterWorker;
  process: OwnedProcess;
  /** The addresses of its workers that the scheduler has now. */
  addresses: Set<string>;
  /** Local units only: each of its workers, which is how the state lists them. */
  members: Map<string, ClusterWorker> | null;
}

/** The names Dask gives the workers of `dask worker --name NAME --nworkers count`. */
export function memberNames(unitName: string, count: number): string[] {
  return count === 1 ? [unitName] : Array.from({ length: count }, (_, i) => `${unitName}-${i}`);
}

/** Whether the Dask worker `workerName` runs in the unit `unitName`. */
export function belongsTo(workerName: string, unitName: string): boolean {
  return workerName === unitName || (workerName.startsWith(`${unitName}-`) && /^\d+$/.test(workerName.slice(unitName.length + 1)));
}

/**
 * The unit of a local worker named in a cluster's state: units are CLUSTER-U, their workers
 * CLUSTER-U (alone) or CLUSTER-U-I. How an adopted cluster's workers are grouped again.
 */
export function localUnitName(clusterName: string, workerName: string): string {
  const rest = workerName.startsWith(`${clusterName}-`) ? workerName.slice(clusterName.length + 1) : '';
  const match = /^(\d+)(?:-\d+)?$/.exec(rest);
  return match ? `${clusterName}-${match[1]}` : workerName;
}

/** The workers a unit counts for: a local unit's members, or the unit itself. */
export function listedWorkers(unit: WorkerUnit): ClusterWorker[] {
  return unit.members ? [...unit.members.values()] : [unit.info];
}

export function isActive(worker: ClusterWorker): boolean {
  return worker.status === 'starting' || worker.status === 'running';
}

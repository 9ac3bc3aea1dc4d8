import { formatBytes } from '../../common/format';
import type { ClusterState, Resources } from '../../common/protocol';
import { InputError } from '../errors';

/** What running clusters hold of this node: the cores and memory given to their workers here. */
export interface HeldByClusters {
  clusters: number;
  cores: number;
  memoryBytes: number;
}

/** Worker jobs run on other nodes; every other placement (local, runner) has workers on this one. */
export function heldByClusters(clusters: ClusterState[]): HeldByClusters {
  const holding = clusters.filter(c => c.status !== 'stopped' && c.status !== 'failed' && !c.worker_jobs);
  return {
    clusters: holding.length,
    cores: holding.reduce((sum, c) => sum + workersOf(c) * c.plan.threads_per_worker, 0),
    memoryBytes: holding.reduce((sum, c) => sum + workersOf(c) * c.plan.memory_limit_bytes, 0)
  };
}

/** The workers a cluster holds room for now: a cluster still starting holds those it plans. */
function workersOf(c: ClusterState): number {
  return Math.max(c.workers.length, c.status === 'starting' ? c.plan.n_workers : 0);
}

function describe(held: HeldByClusters): string {
  const clusters = held.clusters === 1 ? '1 cluster already holds' : `${held.clusters} clusters already hold`;
  return `${clusters} ${held.cores} core${held.cores === 1 ? '' : 's'} and ${formatBytes(held.memoryBytes)}`;
}

/**
 * The node as a new cluster may plan on it: what the running clusters hold is taken out, so
 * workers of all clusters plus a reserve still fit in the job. Nothing left is an InputError
 * at `overcommit`, the request's way to share the node anyway.
 */
export function whatIsLeft(resources: Resources, held: HeldByClusters): { resources: Resources; warning: string } {
  const cores = resources.cores - held.cores;
  const memoryBytes = resources.memory_bytes - held.memoryBytes;
  if (cores < 1 || memoryBytes < 2 ** 30) {
    throw new InputError(
      'overcommit',
      `${describe(held)} of this node's ${resources.cores} cores and ${formatBytes(resources.memory_bytes)}: nothing is left for another cluster. ` +
        'Shut one down, or share the node anyway (overcommit: its workers then compete with the others).'
    );
  }
  return { resources: { ...resources, cores, memory_bytes: memoryBytes }, warning: `${describe(held)}: this plan uses what is left.` };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Scale and adapt as launch: `workers` workers of this cluster, with what the other clusters
 * (`others`) hold and the plan's reserve, must fit the job's cores and memory, or the request
 * is an InputError at `overcommit`. Keeping or shrinking what the cluster holds always fits.
 * Only for workers on this node: worker jobs bring their own resources.
 */
export function checkWorkersFit(resources: Resources, others: HeldByClusters, cluster: ClusterState, workers: number, field: string): void {
  if (workers <= workersOf(cluster)) return;
  const { threads_per_worker: threads, memory_limit_bytes: perWorker, reserve_bytes: reserve } = cluster.plan;
  const coresLeft = resources.cores - others.cores;
  const memoryLeft = resources.memory_bytes - others.memoryBytes - reserve;
  const tooManyCores = workers * threads > coresLeft;
  const tooMuchMemory = workers * perWorker > memoryLeft;
  if (!tooManyCores && !tooMuchMemory) return;
  const short = [
    tooManyCores ? `${workers * threads} cores (${threads} per worker) of the ${Math.max(0, coresLeft)} left` : '',
    tooMuchMemory
      ? `${formatBytes(workers * perWorker)} of memory (${formatBytes(perWorker)} per worker) of the ${formatBytes(Math.max(0, memoryLeft))} left`
      : ''
  ].filter(Boolean);
  const held = others.clusters > 0 ? `; ${describe(others)}` : '';
  const fitting = Math.max(0, Math.min(Math.floor(coresLeft / threads), Math.floor(memoryLeft / perWorker)));
  throw new InputError(
    'overcommit',
    `${field}=${workers} needs ${short.join(', and ')}: this job has ${plural(resources.cores, 'core')} and ` +
      `${formatBytes(resources.memory_bytes)}, ${formatBytes(reserve)} of it kept in reserve${held}. ` +
      `Ask for at most ${plural(fitting, 'worker')}, or share the node anyway (overcommit: its workers then compete for cores and memory).`
  );
}

/**
 * How a scale of `state` is held to the job: against what the node's other clusters hold. Null
 * (no bound here) for worker jobs, which bring their own nodes, and runner clusters, which grow
 * by nodes of the allocation.
 */
export function scaleCheckFor(
  state: ClusterState,
  clusters: ClusterState[],
  resources: () => Resources
): ((workers: number, field: string) => void) | null {
  if (state.worker_jobs || state.runner) return null;
  const others = heldByClusters(clusters.filter(c => c.id !== state.id));
  return (workers, field) => checkWorkersFit(resources(), others, state, workers, field);
}

import type { ClusterState, ClusterWorker } from './protocol';

/**
 * A cluster's jobs waiting in the queue at once, at most, unless the request says (`max_queued`):
 * sites cap a user's queued jobs (JADE's is 8) and the queue is shared.
 */
export const DEFAULT_MAX_QUEUED = 8;

const WHY = {
  lifetime: 'its workers retired before its walltime',
  ended: 'it ended early (qdel, a node lost)'
} as const;

/** The wall-clock time of an ISO instant, as this machine shows it: "13:52:07". */
function clockTime(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}

/**
 * What the card and `ls` say of a worker job submitted in place of one that ended: "job
 * 13.gadi-pbs replaces 12.gadi-pbs: it ended early (qdel, a node lost) at 13:52:07"; null for
 * a job that replaces none.
 */
export function describeReplacement(worker: ClusterWorker): string | null {
  const { replaces } = worker;
  if (!replaces) return null;
  return `job ${worker.job_id ?? worker.name} replaces ${replaces.job_id}: ${WHY[replaces.reason]} at ${clockTime(replaces.at)}`;
}

/**
 * Why a worker job waits in the queue, in the batch system's words (PBS's comment, Slurm's
 * state_reason): "job 12.gadi-pbs queued: Not Running: Insufficient amount of resource: ncpus
 * (R: 2 A: 0 T: 6)". A count of queued jobs says nothing of whether they will ever start; this
 * says what the user can change (fewer cores, another queue) or has to wait for. Null for a job
 * not queued, or one the batch system gave no reason for.
 */
export function describeQueueReason(worker: ClusterWorker): string | null {
  if (worker.job_state !== 'queued' || !worker.job_reason) return null;
  return `job ${worker.job_id ?? worker.name} queued: ${worker.job_reason}`;
}

/**
 * Why a cluster has fewer jobs than it means to: "4 more jobs held back: at most 8 of this
 * cluster's jobs wait in the queue at once (max_queued)"; null when none is held back.
 */
export function describeHeldBack(cluster: Pick<ClusterState, 'jobs_to_submit' | 'worker_jobs'>): string | null {
  const held = cluster.jobs_to_submit ?? 0;
  if (!held || !cluster.worker_jobs) return null;
  const most = cluster.worker_jobs.max_queued ?? DEFAULT_MAX_QUEUED;
  return `${held} more job${held === 1 ? '' : 's'} held back: at most ${most} of this cluster's jobs wait in the queue at once (max_queued)`;
}

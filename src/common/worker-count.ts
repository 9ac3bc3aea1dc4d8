import type { ClusterState, ClusterWorker, JobState, WorkerJobSpec } from './protocol';

/** A cluster's Dask workers, and for worker jobs or runner nodes the units they run in. */
export interface WorkerCount {
  /** Workers running now; for jobs and nodes, those the scheduler has registered. */
  running: number;
  /** Workers the cluster means to have: its local ones (the plan's while it starts), or each unit's plan. */
  planned: number;
  /** Worker jobs (running in the batch system out of submitted) or runner nodes (all workers up out of started); null for local workers. */
  units: { kind: 'jobs' | 'nodes'; running: number; total: number } | null;
}

type Counted = Pick<ClusterState, 'status' | 'workers' | 'plan' | 'worker_jobs' | 'runner' | 'jobs_to_submit'>;

/** Hosts per worker job: 1 for older records. */
export const jobNodes = (spec: Pick<WorkerJobSpec, 'nodes'>): number => spec.nodes ?? 1;

/** A retiring or exited unit's workers are leaving: not counted as running, as for local workers. */
const isActive = (unit: ClusterWorker) => unit.status === 'starting' || unit.status === 'running';

/** How many of a cluster's worker jobs are queued, running and finished. */
export function jobCounts(workers: ClusterWorker[]): Record<JobState, number> {
  const counts: Record<JobState, number> = { queued: 0, running: 0, finished: 0 };
  for (const worker of workers) {
    if (worker.job_state) counts[worker.job_state] += 1;
  }
  return counts;
}

/**
 * For worker jobs and runner nodes a record in `workers` is a unit of the plan's workers (a job,
 * a node), not one worker: counting records said "workers 8/8" for 8 jobs of 8 workers.
 */
export function countWorkers(cluster: Counted): WorkerCount {
  const { workers, plan } = cluster;
  const kind = cluster.worker_jobs ? 'jobs' : cluster.runner ? 'nodes' : null;
  if (!kind) {
    return {
      running: workers.filter(w => w.status === 'running').length,
      planned: Math.max(workers.length, cluster.status === 'starting' ? plan.n_workers : 0),
      units: null
    };
  }
  // A job of several hosts has the plan's workers on each.
  const perUnit = plan.n_workers * (cluster.worker_jobs ? jobNodes(cluster.worker_jobs) : 1);
  // A record from before `registered` existed: a running unit had all its workers.
  const registered = (unit: ClusterWorker) => unit.registered ?? (unit.status === 'running' ? perUnit : 0);
  // Jobs held back by the queue limit are planned too: the cluster means to have them.
  const units = workers.length + (cluster.jobs_to_submit ?? 0);
  return {
    running: workers.filter(isActive).reduce((sum, unit) => sum + registered(unit), 0),
    planned: units * perUnit,
    units: {
      kind,
      running: kind === 'jobs' ? jobCounts(workers).running : workers.filter(unit => unit.status === 'running').length,
      total: units
    }
  };
}

/** "2/2" for local workers, "64/64 in jobs 8/8" for worker jobs, "8/8 on nodes 2/2" in runner mode. */
export function formatWorkerCount(count: WorkerCount): string {
  const workers = `${count.running}/${count.planned}`;
  if (!count.units) return workers;
  const { kind, running, total } = count.units;
  return `${workers} ${kind === 'jobs' ? 'in' : 'on'} ${kind} ${running}/${total}`;
}

export function describeWorkerCount(cluster: Counted): string {
  return formatWorkerCount(countWorkers(cluster));
}

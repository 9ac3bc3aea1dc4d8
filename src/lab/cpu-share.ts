import type { ClusterMetrics, ClusterState } from '../common/protocol';

/** The cores a cluster's CPU figure is a share of: the job's on this node, each job's own for worker jobs. */
export function cpuCores(cluster: ClusterState, metrics: ClusterMetrics, jobCores: number | null | undefined): number {
  const threads = Math.max(1, metrics.n_workers * cluster.plan.threads_per_worker);
  return cluster.worker_jobs || !jobCores ? threads : Math.min(jobCores, threads);
}

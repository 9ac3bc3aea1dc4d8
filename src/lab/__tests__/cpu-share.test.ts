import type { ClusterMetrics, ClusterState } from '../../common/protocol';
import { cpuCores } from '../cpu-share';

const metrics = (n_workers: number) => ({ n_workers, cpu_percent: 146 }) as ClusterMetrics;
const cluster = (threads_per_worker: number, worker_jobs?: object) =>
  ({ plan: { threads_per_worker }, worker_jobs }) as unknown as ClusterState;

test("a local cluster's CPU is a share of the job's cores its threads can use; worker jobs, of their own", () => {
  expect(cpuCores(cluster(1), metrics(2), 2)).toBe(2); // 146% of top's is 73% of the 2 cores
  expect(cpuCores(cluster(8), metrics(1), 2)).toBe(2); // io: 8 threads on a 2-core job still have 2 cores
  expect(cpuCores(cluster(1), metrics(1), 48)).toBe(1); // one worker of a 48-core job: its one core
  expect(cpuCores(cluster(4, { system: 'pbs' }), metrics(8), 2)).toBe(32); // the jobs' own cores
  expect(cpuCores(cluster(1), metrics(0), null)).toBe(1);
});

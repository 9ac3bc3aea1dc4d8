import type { ClusterState, ClusterWorker } from '../protocol';
import { describeWorkerCount } from '../worker-count';

const plan = (n_workers: number) => ({ n_workers, threads_per_worker: 1 }) as ClusterState['plan'];
const local = (status: ClusterWorker['status']): ClusterWorker => ({ name: 'w', status, pid: 1, restarts: 0 });
const job = (job_state: 'queued' | 'running', registered: number, status: ClusterWorker['status']): ClusterWorker => ({
  name: 'j',
  status,
  pid: null,
  restarts: 0,
  job_id: '1.pbs',
  job_state,
  registered
});
const cluster = (fields: Partial<ClusterState>) =>
  ({ status: 'running', plan: plan(2), worker_jobs: null, runner: null, ...fields }) as ClusterState;
const jobs = { system: 'pbs' } as ClusterState['worker_jobs'];

describe("a cluster's worker count, as ls and the card say it", () => {
  test('local workers: running out of those it has, or of the plan while it starts', () => {
    expect(describeWorkerCount(cluster({ workers: [local('running'), local('starting')] }))).toBe('1/2');
    expect(describeWorkerCount(cluster({ status: 'starting', workers: [], plan: plan(3) }))).toBe('0/3');
  });

  test("worker jobs: Dask workers out of every job's plan, and running jobs out of submitted", () => {
    const queuedAndRunning = cluster({
      plan: plan(8),
      worker_jobs: jobs,
      workers: [job('queued', 0, 'starting'), job('running', 8, 'running')]
    });
    expect(describeWorkerCount(queuedAndRunning)).toBe('8/16 in jobs 1/2');
    const eightJobs = cluster({ plan: plan(8), worker_jobs: jobs, workers: Array.from({ length: 8 }, () => job('running', 8, 'running')) });
    expect(describeWorkerCount(eightJobs)).toBe('64/64 in jobs 8/8');
  });

  test('a running job whose workers are partly registered counts only those the scheduler has', () => {
    const partly = cluster({ plan: plan(4), worker_jobs: jobs, workers: [job('running', 3, 'starting'), job('running', 4, 'running')] });
    expect(describeWorkerCount(partly)).toBe('7/8 in jobs 2/2');
  });

  test('jobs of several hosts: the plan is per host, so a job of 2 hosts plans twice its workers', () => {
    const twoHostJobs = { system: 'pbs', nodes: 2 } as ClusterState['worker_jobs'];
    const oneLost = cluster({
      plan: plan(4),
      worker_jobs: twoHostJobs,
      workers: [job('running', 8, 'running'), job('running', 4, 'running')]
    });
    expect(describeWorkerCount(oneLost)).toBe('12/16 in jobs 2/2');
  });

  test("runner nodes: workers out of every node's plan, and nodes whose workers all run", () => {
    const runner = { system: 'slurm' as const, nodes: ['a', 'b'] };
    const nodes = [
      { ...local('running'), registered: 4, host: 'a' },
      { ...local('starting'), registered: 1, host: 'b' }
    ];
    expect(describeWorkerCount(cluster({ plan: plan(4), runner, workers: nodes }))).toBe('5/8 on nodes 1/2');
  });
});

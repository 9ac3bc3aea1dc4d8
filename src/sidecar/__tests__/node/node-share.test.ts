import type { ClusterState, Resources } from '../../../common/protocol';
import { InputError } from '../../errors';
import { heldByClusters, whatIsLeft } from '../../node/node-share';
import { planCluster } from '../../node/plan';

const GiB = 2 ** 30;
const node = {
  batch_system: 'none',
  job_id: null,
  hostname: 'n1',
  cores: 8,
  memory_bytes: 64 * GiB,
  jobfs: null,
  jobfs_free_bytes: null,
  gpus: 0,
  node_count: 1,
  sources: {},
  inputs: {},
  warnings: []
} as unknown as Resources;

function cluster(status: string, workers: number, threads: number, memoryGiB: number, extra: Partial<ClusterState> = {}): ClusterState {
  return {
    status,
    workers: Array.from({ length: workers }, () => ({ status: 'running' })),
    plan: { n_workers: workers, threads_per_worker: threads, memory_limit_bytes: memoryGiB * GiB },
    ...extra
  } as unknown as ClusterState;
}

test('running clusters on this node hold their workers’ cores and memory; stopped, failed and worker-job clusters hold nothing here', () => {
  const held = heldByClusters([
    cluster('running', 2, 2, 10),
    cluster('stopped', 4, 1, 10),
    cluster('failed', 4, 1, 10),
    cluster('running', 3, 1, 5, { worker_jobs: { system: 'slurm' } as ClusterState['worker_jobs'] })
  ]);
  expect(held).toEqual({ clusters: 1, cores: 4, memoryBytes: 20 * GiB });
});

test('a new plan gets what is left, says so, and all clusters with the reserve still fit the node', () => {
  const first = planCluster(node, { workload: 'cpu', max_workers: 4 });
  const held = heldByClusters([cluster('running', first.n_workers, first.threads_per_worker, first.memory_limit_bytes / GiB)]);
  const left = whatIsLeft(node, held);
  expect(left.warning).toBe('1 cluster already holds 4 cores and 56.6 GiB: this plan uses what is left.');
  const second = planCluster(left.resources, { workload: 'cpu' });
  expect(second.n_workers).toBe(4);
  expect(held.memoryBytes + second.n_workers * second.memory_limit_bytes + second.reserve_bytes).toBeLessThanOrEqual(node.memory_bytes);
});

test('a node with nothing left refuses at overcommit, saying what holds it', () => {
  // A cluster still starting holds the workers it plans, before they have registered.
  const starting = {
    ...cluster('starting', 0, 1, 1),
    plan: { n_workers: 1, threads_per_worker: 1, memory_limit_bytes: GiB }
  } as ClusterState;
  const held = heldByClusters([cluster('running', 7, 1, 8), starting]);
  expect.assertions(2);
  try {
    whatIsLeft(node, held);
  } catch (error) {
    expect(error instanceof InputError && error.field).toBe('overcommit');
    expect((error as Error).message).toMatch(
      /^2 clusters already hold 8 cores and 57 GiB of this node's 8 cores and 64 GiB: nothing is left/
    );
  }
});

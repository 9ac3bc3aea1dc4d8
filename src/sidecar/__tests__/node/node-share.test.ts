import type { ClusterState, Resources } from '../../../common/protocol';
import { InputError } from '../../errors';
import { checkWorkersFit, heldByClusters, scaleCheckFor, whatIsLeft } from '../../node/node-share';
import { checkScaleRequest } from '../../requests/scale-request';
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

/** A cluster with `workers` of `threads` threads and `memoryGiB` each, and a plan's reserve. */
function planned(workers: number, threads: number, memoryGiB: number, reserveGiB: number): ClusterState {
  const c = cluster('running', workers, threads, memoryGiB);
  return { ...c, plan: { ...c.plan, reserve_bytes: reserveGiB * GiB } } as ClusterState;
}

function refusal(run: () => void): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('not refused');
}

const none = { clusters: 0, cores: 0, memoryBytes: 0 };

test('scaling a cluster past the job’s cores is refused at overcommit, naming cores and the figures', () => {
  const small = { ...node, cores: 2, memory_bytes: 8 * GiB };
  const twoWorkers = planned(2, 1, 3.5, 1);
  const error = refusal(() => checkWorkersFit(small, none, twoWorkers, 4, 'n_workers'));
  expect(error.field).toBe('overcommit');
  expect(error.message).toBe(
    'n_workers=4 needs 4 cores (1 per worker) of the 2 left, and 14 GiB of memory (3.5 GiB per worker) of the 7 GiB left: ' +
      'this job has 2 cores and 8 GiB, 1 GiB of it kept in reserve. ' +
      'Ask for at most 2 workers, or share the node anyway (overcommit: its workers then compete for cores and memory).'
  );
});

test('memory alone can refuse a scale, and the other clusters of the node count as at launch', () => {
  const others = heldByClusters([cluster('running', 2, 1, 20)]);
  const error = refusal(() => checkWorkersFit(node, others, planned(1, 1, 10, 4), 3, 'adaptive.maximum'));
  expect(error.message).toMatch(/^adaptive\.maximum=3 needs 30 GiB of memory \(10 GiB per worker\) of the 20 GiB left: /);
  expect(error.message).not.toMatch(/cores \(/);
  expect(error.message).toContain('1 cluster already holds 2 cores and 40 GiB. Ask for at most 2 workers');
  expect(() => checkWorkersFit(node, others, planned(1, 1, 10, 4), 2, 'n_workers')).not.toThrow();
});

test('keeping or shrinking what a cluster holds is never refused, even on a node already over', () => {
  const full = heldByClusters([cluster('running', 8, 1, 8)]);
  expect(() => checkWorkersFit(node, full, planned(4, 1, 8, 1), 4, 'n_workers')).not.toThrow();
  expect(() => checkWorkersFit(node, full, planned(4, 1, 8, 1), 0, 'n_workers')).not.toThrow();
});

test('a PATCH checks the fit for n_workers and the adaptive maximum, unless it says overcommit; worker jobs are not checked', () => {
  const asked: [number, string][] = [];
  const local = {
    unitsFor: (n: number) => n,
    maxUnits: null,
    workersPerUnit: 1,
    checkFit: (n: number, field: string) => {
      asked.push([n, field]);
      if (n > 2) throw new InputError('overcommit', 'too many');
    }
  };
  expect(() => checkScaleRequest({ n_workers: 3 }, local)).toThrow('too many');
  expect(() => checkScaleRequest({ adaptive: { minimum: 0, maximum: 3 } }, local)).toThrow('too many');
  expect(checkScaleRequest({ n_workers: 3, overcommit: true }, local)).toEqual({ units: 3 });
  expect(checkScaleRequest({ adaptive: { minimum: 1, maximum: 4 }, overcommit: true }, local)).toEqual({
    adaptive: { minimum: 1, maximum: 4 }
  });
  expect(asked).toEqual([
    [3, 'n_workers'],
    [0, 'adaptive.minimum'],
    [3, 'adaptive.maximum']
  ]);
  expect(() => checkScaleRequest({ n_workers: 2, overcommit: 'yes' }, local)).toThrow('overcommit must be true or false, not "yes"');
  expect(checkScaleRequest({ n_workers: 4000 }, { ...local, checkFit: null })).toEqual({ units: 4000 });
});

test('worker-job and runner clusters are not held to this node; a local one is, against the others but not itself', () => {
  const small = { ...node, cores: 2, memory_bytes: 8 * GiB };
  const jobs = { ...planned(1, 1, 3, 1), id: 'j', worker_jobs: { system: 'pbs' } } as ClusterState;
  const runner = { ...planned(1, 1, 3, 1), id: 'r', runner: { system: 'pbs', nodes: ['a', 'b'] } } as ClusterState;
  const local = { ...planned(1, 1, 3, 1), id: 'l' } as ClusterState;
  const neighbour = { ...planned(1, 1, 3, 1), id: 'n' } as ClusterState;
  expect(scaleCheckFor(jobs, [jobs, local], () => small)).toBeNull();
  expect(scaleCheckFor(runner, [runner, local], () => small)).toBeNull();
  expect(() => scaleCheckFor(local, [local, jobs], () => small)!(2, 'n_workers')).not.toThrow();
  expect(() => scaleCheckFor(local, [local, neighbour], () => small)!(2, 'n_workers')).toThrow(
    /^n_workers=2 needs 2 cores \(1 per worker\) of the 1 left/
  );
});

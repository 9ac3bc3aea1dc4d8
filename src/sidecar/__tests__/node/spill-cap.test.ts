import type { ClusterState, JobRequest, Plan, Resources } from '../../../common/protocol';
import { renderJobScript, type JobContext } from '../../batch/job-script';
import { clusterEnvironment } from '../../cluster/cluster-environment';
import { checkWorkersFit, heldByClusters, whatIsLeft } from '../../node/node-share';
import { planCluster } from '../../node/plan';
import { parseWorkerJobs } from '../../requests/job-request';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function job(jobfsRequestBytes: number | null): JobRequest {
  return {
    id: '7.gadi-pbs',
    project: null,
    queue: null,
    storage: null,
    walltime_seconds: null,
    ends_at: null,
    jobfs_request_bytes: jobfsRequestBytes
  };
}

function node(cores: number, memoryGiB: number, jobfsRequestBytes: number | null, extra: Partial<Resources> = {}): Resources {
  return {
    batch_system: 'pbs',
    job_id: '7.gadi-pbs',
    hostname: 'n1',
    cores,
    memory_bytes: memoryGiB * GiB,
    jobfs: '/jobfs/7.gadi-pbs',
    jobfs_free_bytes: null,
    gpus: 0,
    node_count: 1,
    sources: { cores: 'PBS_NCPUS', memory: 'PBS_VMEM', jobfs: 'PBS_JOBFS' },
    inputs: {},
    warnings: [],
    job: job(jobfsRequestBytes),
    ...extra
  };
}

/** A running cluster of `workers` workers of `plan` on this node. */
function running(plan: Plan, workers: number, id = 'a'): ClusterState {
  return {
    id,
    status: 'running',
    plan,
    workers: Array.from({ length: workers }, (_, i) => ({ name: `w${i}`, status: 'running', pid: 1, restarts: 0 })),
    worker_jobs: null,
    runner: null
  } as unknown as ClusterState;
}

/** The most workers the scale check lets this cluster have on the node. */
function mostWorkersAllowed(resources: Resources, others: ClusterState[], cluster: ClusterState): number {
  let n = cluster.workers.length;
  while (n < 1000) {
    try {
      checkWorkersFit(resources, heldByClusters(others), cluster, n + 1, 'n_workers');
    } catch {
      return n;
    }
    n += 1;
  }
  return n;
}

describe('spill cap from the jobfs request', () => {
  test('each worker gets its memory share of the request less the margin, and Dask is told', () => {
    const resources = node(4, 16, 10 * GiB);
    const plan = planCluster(resources, { workload: 'cpu' });
    const room = 10 * GiB - GiB; // margin: 10% of 10 GiB, above the 256 MiB floor
    expect(plan.max_spill_bytes).toBe(Math.floor((room * plan.memory_limit_bytes) / (16 * GiB)));
    expect(plan.n_workers * (plan.max_spill_bytes as number)).toBeLessThanOrEqual(room);
    expect(plan.max_spill_source).toMatch(/jobfs request 10 GiB − 1 GiB margin/);
    expect(clusterEnvironment(plan, '/x').DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL).toBe(String(plan.max_spill_bytes));
  });

  test('the margin is 256 MiB on a small request', () => {
    const plan = planCluster(node(1, 4, 1 * GiB), { workload: 'cpu' });
    expect(plan.max_spill_bytes).toBe(Math.floor((768 * MiB * plan.memory_limit_bytes) / (4 * GiB)));
  });

  test('scaled to the most workers the job allows, the caps still sum below the room', () => {
    const resources = node(8, 32, 20 * GiB);
    // 2 workers of 6 GiB: the job has room to scale to 5 of them.
    const plan = planCluster(resources, { workload: 'cpu', max_workers: 2, max_mem_gb: 12 });
    const cluster = running(plan, 2);
    const most = mostWorkersAllowed(resources, [], cluster);
    expect(most).toBeGreaterThan(2);
    expect(most * (plan.max_spill_bytes as number)).toBeLessThanOrEqual(20 * GiB - 2 * GiB);
  });

  test('two clusters on the node, each at its most: together below the room', () => {
    const resources = node(8, 32, 20 * GiB);
    const first = planCluster(resources, { workload: 'cpu', max_workers: 3 });
    const a = running(first, 3, 'a');
    const left = whatIsLeft(resources, heldByClusters([a]));
    const second = planCluster(left.resources, { workload: 'mixed' }, resources.memory_bytes);
    const b = running(second, second.n_workers, 'b');
    const mostB = mostWorkersAllowed(resources, [a], b);
    const mostA = mostWorkersAllowed(resources, [running(second, mostB, 'b')], a);
    const spilled = mostA * (first.max_spill_bytes as number) + mostB * (second.max_spill_bytes as number);
    expect(spilled).toBeLessThanOrEqual(20 * GiB - 2 * GiB);
  });

  test('no request known: no cap, as before (Dask default false)', () => {
    for (const resources of [node(4, 16, null), node(4, 16, null, { job: null }), node(4, 16, null, { job: undefined })]) {
      const plan = planCluster(resources, { workload: 'cpu' });
      expect(plan.max_spill_bytes).toBeNull();
      expect(clusterEnvironment(plan, '/x')).not.toHaveProperty('DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL');
    }
  });

  test('odd requests (0, negative, NaN, Infinity) are taken as unknown', () => {
    for (const odd of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(planCluster(node(2, 8, odd), { workload: 'cpu' }).max_spill_bytes).toBeNull();
    }
  });

  test('a request too small for any room: spill off (0) and a warning that says so', () => {
    const plan = planCluster(node(2, 8, 200 * MiB), { workload: 'cpu' });
    expect(plan.max_spill_bytes).toBe(0);
    expect(plan.warnings.join('\n')).toMatch(/jobfs request \(200 MiB\) leaves no room to spill.*spill is off/);
    expect(clusterEnvironment(plan, '/x').DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL).toBe('0');
  });

  test("PBS's jobfs is the job's: a node of a 3-node job has a third; Slurm's --tmp is per node", () => {
    const pbs = planCluster(node(4, 16, 30 * GiB, { node_count: 3 }), { workload: 'cpu' });
    const one = planCluster(node(4, 16, 10 * GiB), { workload: 'cpu' });
    expect(pbs.max_spill_bytes).toBe(one.max_spill_bytes);
    const slurm = planCluster(node(4, 16, 10 * GiB, { batch_system: 'slurm', node_count: 3 }), { workload: 'cpu' });
    expect(slurm.max_spill_bytes).toBe(one.max_spill_bytes);
  });
});

describe('worker jobs bring their own jobfs', () => {
  const context: JobContext = {
    clusterId: '1a2b3c4d',
    jobName: 'dask-1a2b3c4d',
    workerName: 'w-job-0',
    schedulerAddress: 'tls://10.0.0.1:8786',
    python: '/usr/bin/python3',
    logFile: '/home/u/w-job-0.log',
    security: { tls_ca_file: '/ca', tls_cert: '/cert', tls_key: '/key' }
  };

  test("their cap follows the job's own -l jobfs, and the script sets it", () => {
    const spec = parseWorkerJobs({ system: 'pbs', cores: 4, memory_gb: 16, jobfs_gb: 10 }, { workload: 'cpu' });
    const cap = spec.plan.max_spill_bytes as number;
    expect(cap).toBe(Math.floor((9 * GiB * spec.plan.memory_limit_bytes) / (16 * GiB)));
    expect(renderJobScript(spec, context)).toContain(`DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL='${cap}'`);
  });

  test('no jobfs asked of the worker job: no cap', () => {
    const spec = parseWorkerJobs({ system: 'pbs', cores: 4, memory_gb: 16 }, { workload: 'cpu' });
    expect(spec.plan.max_spill_bytes).toBeNull();
    expect(renderJobScript(spec, context)).not.toContain('MAX_SPILL');
  });
});

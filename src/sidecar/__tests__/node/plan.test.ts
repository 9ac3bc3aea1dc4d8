import type { Resources } from '../../../common/protocol';
import { InputError } from '../../errors';
import { defaultReserveBytes, planCluster } from '../../node/plan';
import { parsePlanRequest } from '../../requests/plan-request';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function node(cores: number, memoryGiB: number, extra: Partial<Resources> = {}): Resources {
  return {
    batch_system: 'pbs',
    job_id: '1.gadi-pbs',
    hostname: 'n1',
    cores,
    memory_bytes: memoryGiB * GiB,
    jobfs: '/jobfs/1.gadi-pbs',
    jobfs_free_bytes: null,
    gpus: 0,
    node_count: 1,
    sources: { cores: 'PBS_NCPUS', memory: 'PBS_VMEM', jobfs: 'PBS_JOBFS' },
    inputs: {},
    warnings: [],
    ...extra
  };
}

/** The promise every plan makes: the workers and the reserve fit in the node. */
function expectFits(resources: Resources, plan: ReturnType<typeof planCluster>) {
  expect(Number.isInteger(plan.memory_limit_bytes)).toBe(true);
  expect(plan.n_workers * plan.memory_limit_bytes + plan.reserve_bytes).toBeLessThanOrEqual(resources.memory_bytes);
}

describe('topologies (DESIGN.md)', () => {
  const gadi = node(48, 190);
  test('cpu: one thread per worker, a worker per core', () => {
    const plan = planCluster(gadi, { workload: 'cpu' });
    expect(plan).toMatchObject({ n_workers: 48, threads_per_worker: 1, processes: true });
    expectFits(gadi, plan);
  });
  test('cpu capped by max_workers', () => {
    expect(planCluster(gadi, { workload: 'cpu', max_workers: 12 }).n_workers).toBe(12);
  });
  test('mixed: two threads per worker', () => {
    expect(planCluster(gadi, { workload: 'mixed' })).toMatchObject({ n_workers: 24, threads_per_worker: 2 });
  });
  test('io: one worker with 8 to 16 threads, and a word about the idle cores', () => {
    const plan = planCluster(gadi, { workload: 'io' });
    expect(plan).toMatchObject({ n_workers: 1, threads_per_worker: 16, processes: false });
    expect(plan.warnings.join('\n')).toMatch(/32 of 48 cores stay idle/);
    expect(planCluster(node(2, 24), { workload: 'io' }).threads_per_worker).toBe(8);
  });
  test('io on a small job: fewer threads, each with room for 256 MiB chunks, so the first plan carries no warning', () => {
    // A 2-core, 8 GiB ARE session (issue 26): 8 threads would get 793.6 MiB each.
    const plan = planCluster(node(2, 8), { workload: 'io' });
    expect(plan).toMatchObject({ n_workers: 1, threads_per_worker: 4 });
    expect(plan.recommended_chunk_bytes).toBe(256 * MiB);
    expect(plan.warnings).toEqual([]);
    // Never fewer threads than cores: with too little memory even for those, the warning says so.
    expect(planCluster(node(8, 8), { workload: 'io' }).threads_per_worker).toBe(8);
    expect(planCluster(node(1, 2), { workload: 'io' }).threads_per_worker).toBe(1);
  });
});

describe('memory', () => {
  test('usable = min(max_mem, total) − reserve, split evenly in whole bytes', () => {
    const resources = node(8, 64);
    const plan = planCluster(resources, { workload: 'cpu', reserve_mem_gb: 4, max_mem_gb: 36 });
    expect(plan.usable_memory_bytes).toBe(32 * GiB);
    expect(plan.memory_limit_bytes).toBe(4 * GiB);
    expectFits(resources, plan);
  });

  test('the default reserve scales with the node', () => {
    expect(defaultReserveBytes(16 * GiB)).toBeCloseTo(2.6 * GiB, -6);
    expect(defaultReserveBytes(190 * GiB)).toBe(Math.floor(GiB + 19 * GiB));
    expect(defaultReserveBytes(1470 * GiB)).toBe(50 * GiB);
    const are = node(4, 16);
    const plan = planCluster(are, { workload: 'cpu' });
    expect(plan.reserve_bytes).toBe(defaultReserveBytes(16 * GiB));
    expectFits(are, plan);
  });

  test("the seed's 50 GiB reserve on a 16 GiB ARE session is an error that says so, not a 1 GiB floor", () => {
    expect(() => planCluster(node(4, 16), { workload: 'cpu', reserve_mem_gb: 50 })).toThrow(
      expect.objectContaining({ field: 'reserve_mem_gb', message: expect.stringMatching(/leaves no memory for workers.*16\.0 GiB/) })
    );
  });

  test('max_workers that would starve each worker is an error naming max_workers', () => {
    expect(() => planCluster(node(64, 8), { workload: 'cpu', max_workers: 64 })).toThrow(
      expect.objectContaining({
        field: 'max_workers',
        message: expect.stringMatching(/below the 512 MiB a Dask worker needs; use max_workers=\d+ or less/)
      })
    );
  });

  test('by default, many cores and little memory get fewer workers, with a warning', () => {
    const resources = node(64, 8);
    const plan = planCluster(resources, { workload: 'cpu' });
    expect(plan.n_workers).toBeLessThan(64);
    expect(plan.memory_limit_bytes).toBeGreaterThanOrEqual(512 * MiB);
    expect(plan.warnings.join('\n')).toMatch(/planned \d+/);
    expectFits(resources, plan);
  });

  test('max_mem_gb above the node is clamped, with a warning', () => {
    const plan = planCluster(node(4, 16), { workload: 'cpu', max_mem_gb: 64, reserve_mem_gb: 0 });
    expect(plan.usable_memory_bytes).toBe(16 * GiB);
    expect(plan.warnings.join('\n')).toMatch(/max_mem_gb=64 is more than this node/);
  });

  test('small workers get a chunk size they can hold and a warning', () => {
    const plan = planCluster(node(48, 32), { workload: 'cpu' });
    expect(plan.recommended_chunk_bytes).toBeLessThan(256 * MiB);
    expect(plan.warnings.join('\n')).toMatch(/too little for 256–512 MiB chunks/);
    expect(planCluster(node(4, 64), { workload: 'cpu' }).recommended_chunk_bytes).toBe(512 * MiB);
  });
  test('with one worker, the low-memory warning asks for more memory, not fewer workers', () => {
    const plan = planCluster(node(8, 8), { workload: 'io' });
    expect(plan.n_workers).toBe(1);
    const warning = plan.warnings.find(text => text.includes('too little for 256–512 MiB chunks'));
    expect(warning).toMatch(/give the worker more memory/);
    expect(warning).not.toMatch(/fewer workers/);
  });
});

describe('thresholds and directories', () => {
  test('defaults, overrides, and an order that must rise', () => {
    expect(planCluster(node(2, 8), { workload: 'cpu' }).thresholds).toEqual({ target: 0.75, spill: 0.85, pause: 0.92, terminate: 0.98 });
    expect(planCluster(node(2, 8), { workload: 'cpu', thresholds: { spill: 0.8 } }).thresholds.spill).toBe(0.8);
    expect(() => planCluster(node(2, 8), { workload: 'cpu', thresholds: { pause: 0.5 } })).toThrow(/spill=0.85 is above pause=0.5/);
  });
  test('spill goes under the job filesystem, or /tmp with a warning inside a job that has none', () => {
    expect(planCluster(node(2, 8), { workload: 'cpu' }).local_directory).toBe(`/jobfs/1.gadi-pbs/dask-hpc-${process.getuid!()}`);
    const plan = planCluster(node(2, 8, { jobfs: null }), { workload: 'cpu' });
    expect(plan.local_directory).toBe(`/tmp/dask-hpc-${process.getuid!()}`);
    expect(plan.warnings.join('\n')).toMatch(/spill goes to \/tmp/);
  });
});

describe('requests are checked field by field', () => {
  test.each([
    [{ workload: 'gpu' }, 'workload'],
    [{ max_workers: 0 }, 'max_workers'],
    [{ max_workers: 2.5 }, 'max_workers'],
    [{ max_workers: '4' }, 'max_workers'],
    [{ reserve_mem_gb: -1 }, 'reserve_mem_gb'],
    [{ max_mem_gb: 0 }, 'max_mem_gb'],
    [{ thresholds: { spill: 1.5 } }, 'spill'],
    [{ thresholds: { swap: 0.5 } }, 'swap'],
    [{ thresholds: [0.5] }, 'thresholds'],
    [{ colour: 'blue' }, 'colour'],
    [[], 'body']
  ])('%j is refused, naming %s', (body, field) => {
    let error: unknown;
    try {
      parsePlanRequest(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe(field);
    expect((error as InputError).message).toContain(field === 'body' ? 'JSON object' : field);
  });

  test('the default workload is io, as in seed 000', () => {
    expect(parsePlanRequest({}).workload).toBe('io');
  });
});

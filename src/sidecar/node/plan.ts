import { DEFAULT_THRESHOLDS, type Plan, type PlanRequest, type Resources, type Workload } from '../../common/protocol';
import { InputError } from '../errors';
import { checkThresholdOrder } from '../requests/plan-request';
import { privateRootName } from '../state/private-directory';
import { formatBytes } from '../../common/format';
import { spillCap } from './spill-cap';
import { GiB, MiB } from './units';

/** Below this a worker process cannot do useful work: the plan refuses rather than pretends. */
export const MIN_WORKER_MEMORY_BYTES = 512 * MiB;

/** The seed's advice is 256–512 MiB chunks; a thread wants room for several at once. */
const CHUNKS_IN_FLIGHT_PER_THREAD = 6;
const ADVISED_CHUNK_BYTES = 256 * MiB;

/**
 * The memory kept back for the OS, the Jupyter server and the kernel (which gathers results):
 * 1 GiB plus 10% of the node, at most 50 GiB. An ARE session of 16 GiB keeps 2.6 GiB; a
 * Gadi normal node (190 GB) 18.7 GiB; normalsr (500 GB) 47.6 GiB; hugemem the seed's 50 GiB.
 */
export function defaultReserveBytes(nodeMemoryBytes: number): number {
  return Math.min(50 * GiB, Math.floor(GiB + 0.1 * nodeMemoryBytes));
}

/**
 * Workers and threads for a workload: cpu 1 thread each, mixed 2, io one worker with 8–16
 * threads, fewer (never below the cores) where the memory would not give each thread room for
 * 256 MiB chunks: a 2-core, 8 GiB job gets 4, not 8 threads of 790 MiB.
 */
function topology(workload: Workload, cores: number, maxWorkers: number | null, usableBytes: number) {
  const cap = (n: number) => Math.max(1, Math.min(n, maxWorkers ?? n));
  switch (workload) {
    case 'cpu':
      return { n_workers: cap(cores), threads_per_worker: 1, processes: true };
    case 'mixed': {
      const threads = cores >= 2 ? 2 : 1;
      return { n_workers: cap(Math.floor(cores / threads)), threads_per_worker: threads, processes: true };
    }
    case 'io': {
      const roomy = Math.floor(usableBytes / (ADVISED_CHUNK_BYTES * CHUNKS_IN_FLIGHT_PER_THREAD));
      return { n_workers: 1, threads_per_worker: Math.max(Math.min(cores, 16), Math.min(16, Math.max(8, cores), roomy)), processes: false };
    }
  }
}

/** The largest power-of-two MiB chunk that lets each thread hold several in memory, 16–512 MiB. */
function recommendedChunkBytes(memoryPerThreadBytes: number): number {
  const budget = memoryPerThreadBytes / CHUNKS_IN_FLIGHT_PER_THREAD;
  let chunk = 16 * MiB;
  while (chunk * 2 <= budget && chunk < 512 * MiB) {
    chunk *= 2;
  }
  return chunk;
}

/**
 * Where clusters' own directories (temp and spill) are made on a node: its job filesystem,
 * else /tmp, in a root of this user's own (/tmp and a TMPDIR may be shared by every user).
 */
export function localDirectoryRoot(resources: Resources): string {
  return `${(resources.jobfs ?? '/tmp').replace(/\/+$/, '')}/${privateRootName()}`;
}

const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

/**
 * Workers, threads and memory for this node (DESIGN.md "Units and semantics"). The workers
 * plus the reserve never get more than the node has; user numbers that cannot fit are an
 * InputError that says so. `jobMemoryBytes` is the whole job's memory when `resources` is
 * what other clusters leave of it: spill caps are shares of the job's (spill-cap.ts).
 */
export function planCluster(resources: Resources, request: PlanRequest, jobMemoryBytes = resources.memory_bytes): Plan {
  const warnings = [...resources.warnings];
  const thresholds = { ...DEFAULT_THRESHOLDS, ...request.thresholds };
  checkThresholdOrder(thresholds);
  const total = resources.memory_bytes;
  const maxMemBytes = request.max_mem_gb == null ? null : Math.floor(request.max_mem_gb * GiB);
  if (maxMemBytes !== null && maxMemBytes > total) {
    warnings.push(`max_mem_gb=${request.max_mem_gb} is more than this node's ${gib(total)}; using ${gib(total)}.`);
  }
  const ceiling = maxMemBytes === null ? total : Math.min(maxMemBytes, total);

  let reserveBytes: number;
  if (request.reserve_mem_gb == null) {
    // What max_mem already leaves free on the node counts toward the default reserve.
    reserveBytes = Math.max(0, defaultReserveBytes(total) - (total - ceiling));
  } else {
    reserveBytes = Math.floor(request.reserve_mem_gb * GiB);
  }
  const usable = ceiling - reserveBytes;
  if (usable <= 0) {
    const field = request.reserve_mem_gb == null ? 'max_mem_gb' : 'reserve_mem_gb';
    throw new InputError(
      field,
      `reserve_mem_gb=${(reserveBytes / GiB).toFixed(1)} leaves no memory for workers: ` +
        `${maxMemBytes === null ? `this node has ${gib(total)}` : `max_mem_gb gives ${gib(ceiling)}`}; ` +
        `use a reserve below ${gib(ceiling)}`
    );
  }

  const shape = topology(request.workload, resources.cores, request.max_workers ?? null, usable);
  const { threads_per_worker, processes } = shape;
  let { n_workers } = shape;
  const fitting = Math.floor(usable / MIN_WORKER_MEMORY_BYTES);
  if (request.max_workers == null && fitting >= 1 && fitting < n_workers) {
    // Many cores, little memory: fewer workers by default; the user's own max_workers is an error below.
    warnings.push(`${n_workers} workers would each get less than ${formatBytes(MIN_WORKER_MEMORY_BYTES)}; planned ${fitting}.`);
    n_workers = fitting;
  }
  const memoryLimitBytes = Math.floor(usable / n_workers);
  if (memoryLimitBytes < MIN_WORKER_MEMORY_BYTES) {
    throw new InputError(
      request.max_workers != null ? 'max_workers' : 'reserve_mem_gb',
      `${n_workers} workers would get ${formatBytes(memoryLimitBytes)} each out of ${gib(usable)} usable, ` +
        `below the ${formatBytes(MIN_WORKER_MEMORY_BYTES)} a Dask worker needs; ` +
        (fitting >= 1 ? `use max_workers=${fitting} or less, or a smaller reserve` : 'use a smaller reserve_mem_gb or a larger max_mem_gb')
    );
  }

  const memoryPerThread = memoryLimitBytes / threads_per_worker;
  const chunk = recommendedChunkBytes(memoryPerThread);
  if (chunk < ADVISED_CHUNK_BYTES) {
    warnings.push(
      `Each thread has ${formatBytes(Math.floor(memoryPerThread))}: too little for 256–512 MiB chunks. ` +
        `Use chunks of about ${formatBytes(chunk)}, or ` +
        // One worker cannot be made fewer: only more memory for it helps.
        (n_workers > 1
          ? 'fewer workers (max_workers) for the heavy steps.'
          : 'give the worker more memory (a smaller reserve_mem_gb or a larger max_mem_gb).')
    );
  }
  if (request.workload === 'io' && resources.cores > threads_per_worker) {
    warnings.push(
      `io runs one worker with ${threads_per_worker} threads: ${resources.cores - threads_per_worker} of ${resources.cores} cores stay idle. ` +
        `Use mixed or cpu for steps that compute more than they read.`
    );
  }
  if (resources.batch_system !== 'none' && resources.jobfs === null && !resources.sources.jobfs.startsWith('none private')) {
    warnings.push('No job filesystem found (PBS_JOBFS, SLURM_TMPDIR and TMPDIR are unset): spill goes to /tmp.');
  }

  const spill = spillCap(resources, memoryLimitBytes, jobMemoryBytes);
  if (spill.warning) warnings.push(spill.warning);

  return {
    workload: request.workload,
    n_workers,
    threads_per_worker,
    processes,
    memory_limit_bytes: memoryLimitBytes,
    reserve_bytes: reserveBytes,
    usable_memory_bytes: usable,
    local_directory: localDirectoryRoot(resources),
    thresholds,
    recommended_chunk_bytes: chunk,
    max_spill_bytes: spill.max_spill_bytes,
    max_spill_source: spill.source,
    warnings
  };
}

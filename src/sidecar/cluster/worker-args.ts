import type { Plan } from '../../common/protocol';

/** A worker's HTTP server, which Dask always starts: on loopback only (its routes are none, clusterEnvironment). */
const WORKER_HTTP_ARGS = ['--dashboard-address', '127.0.0.1:0'];

/** The `dask worker` arguments every placement shares (local, runner nodes, worker jobs): threads, memory, directory. */
export function workerArgs(plan: Plan, localDirectory: string): string[] {
  return [
    '--nthreads',
    String(plan.threads_per_worker),
    '--memory-limit',
    String(plan.memory_limit_bytes),
    '--local-directory',
    localDirectory,
    '--nanny',
    // Nobody reaches a worker's own dashboard (the scheduler's is the one proxied), and
    // importing it costs each worker process time and memory.
    '--no-dashboard',
    // Dask still serves /metrics and /health on a worker's HTTP port; nothing here reads them,
    // so it has no routes (clusterEnvironment) and listens on loopback, not every interface.
    ...WORKER_HTTP_ARGS,
    // If the scheduler vanishes without closing us, leave on our own.
    '--death-timeout',
    '30'
  ];
}

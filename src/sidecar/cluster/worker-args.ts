import type { Plan } from '../../common/protocol';

/** The `dask worker` arguments every unit started here shares: threads, memory, directory. */
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
    // If the scheduler vanishes without closing us, leave on our own.
    '--death-timeout',
    '30'
  ];
}

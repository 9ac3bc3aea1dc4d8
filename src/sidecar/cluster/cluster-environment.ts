import type { Plan } from '../../common/protocol';
import { SCHEDULER_HTTP_ROUTES } from '../server/scheduler-api';

const BLAS_THREAD_VARIABLES = [
  'OMP_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'MKL_NUM_THREADS',
  'VECLIB_MAXIMUM_THREADS',
  'NUMEXPR_NUM_THREADS'
];

/** The environment every process of the cluster gets: temp and spill in its own directory, the plan's thresholds and spill cap. */
export function clusterEnvironment(plan: Plan, localDirectory: string): Record<string, string> {
  const env: Record<string, string> = {
    TMPDIR: localDirectory,
    DASK_TEMPORARY_DIRECTORY: localDirectory,
    DASK_DISTRIBUTED__WORKER__MEMORY__TARGET: String(plan.thresholds.target),
    DASK_DISTRIBUTED__WORKER__MEMORY__SPILL: String(plan.thresholds.spill),
    DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE: String(plan.thresholds.pause),
    DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE: String(plan.thresholds.terminate),
    DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES: JSON.stringify(SCHEDULER_HTTP_ROUTES),
    // Workers serve no HTTP route: nothing of the product reads a worker's HTTP (the scheduler
    // has the metrics), and /metrics and /health told any user of the node about them.
    DASK_DISTRIBUTED__WORKER__HTTP__ROUTES: '[]',
    // Readiness is read from Dask's INFO lines: a user's quieter logging config must not hide
    // them, and the "dashboard at" line must show the address, not a user's proxied link.
    DASK_LOGGING__DISTRIBUTED: 'info',
    DASK_DISTRIBUTED__DASHBOARD__LINK: 'http://{host}:{port}/status',
    PYTHONUNBUFFERED: '1',
    // A `dask worker --nworkers N`'s nannies fork their workers instead of starting fresh
    // Pythons that import distributed again (startup/README.md). A forked worker keeps the
    // environment its process started with, so what Dask's nanny sets before a spawn is set here.
    DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD: 'fork',
    MALLOC_TRIM_THRESHOLD_: '65536'
  };
  if (plan.max_spill_bytes != null) {
    // Bytes on disk per worker (spill-cap.ts); without it Dask's own default, false, is no cap.
    env.DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL = String(plan.max_spill_bytes);
  }
  for (const name of BLAS_THREAD_VARIABLES) {
    env[name] = String(plan.threads_per_worker); // the nanny keeps these over its own default of 1
  }
  return env;
}

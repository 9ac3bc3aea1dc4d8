import type { ClusterState } from '../../common/protocol';

/**
 * Checks that a state file holds a cluster record that this dask-hpc can act on. The state
 * directory is often in a home directory shared by many nodes and several versions of the
 * product, and full disks leave odd files: a file of another shape is reported, never trusted
 * (its pids never signalled, its paths never removed). Returns what is wrong, or null.
 * Fields added by later versions of the record (host, boot and machine ids, start times) may be
 * missing in older ones, but have the right type where present.
 */
export function recordProblem(value: unknown, idFromFileName: string): string | null {
  if (!isObject(value)) return `it holds ${describe(value)}, not a cluster record (a JSON object)`;
  const wrong = (field: string, wanted: string) => `its "${field}" is ${describe(value[field])}, not ${wanted}`;
  if (value.id !== idFromFileName) return wrong('id', `"${idFromFileName}" as its file name says`);
  for (const field of ['name', 'created_at', 'local_directory', 'scheduler_file', 'python']) {
    if (typeof value[field] !== 'string') return wrong(field, 'a string');
  }
  if (Number.isNaN(Date.parse(value.created_at as string))) return wrong('created_at', 'a date');
  if (!CLUSTER_STATUSES.includes(value.status as string)) return wrong('status', `one of ${CLUSTER_STATUSES.join(', ')}`);
  if (!isPid(value.owner_pid)) return wrong('owner_pid', 'a process id');
  for (const field of ['scheduler_pid'] as const) {
    if (value[field] !== null && !isPid(value[field])) return wrong(field, 'a process id or null');
  }
  for (const field of ['owner_start_time', 'scheduler_start_time']) {
    if (value[field] !== undefined && value[field] !== null && !isCount(value[field])) return wrong(field, 'a start time or null');
  }
  for (const field of ['host', 'boot_id', 'machine_id']) {
    if (value[field] !== undefined && typeof value[field] !== 'string') return wrong(field, 'a string');
  }
  for (const field of ['control_socket', 'scheduler_address', 'dashboard_url', 'dashboard_address', 'tunnel_command']) {
    if (value[field] !== undefined && value[field] !== null && typeof value[field] !== 'string') return wrong(field, 'a string or null');
  }
  if (value.error !== undefined && typeof value.error !== 'string') return wrong('error', 'a string');
  if (!Array.isArray(value.workers)) return wrong('workers', 'a list');
  for (const [i, worker] of value.workers.entries()) {
    const problem = workerProblem(worker);
    if (problem) return `its workers[${i}] ${problem}`;
  }
  const plan = value.plan;
  if (!isObject(plan)) return wrong('plan', 'an object');
  for (const field of ['n_workers', 'threads_per_worker', 'memory_limit_bytes']) {
    if (!isCount(plan[field])) return `its plan's "${field}" is ${describe(plan[field])}, not a number`;
  }
  for (const field of ['workload', 'local_directory']) {
    if (typeof plan[field] !== 'string') return `its plan's "${field}" is ${describe(plan[field])}, not a string`;
  }
  for (const field of ['adaptive', 'worker_jobs', 'runner', 'security']) {
    if (value[field] !== undefined && value[field] !== null && !isObject(value[field])) return wrong(field, 'an object or null');
  }
  if (isObject(value.runner) && !Array.isArray(value.runner.nodes)) {
    return `its runner's "nodes" is ${describe(value.runner.nodes)}, not a list`;
  }
  return null;
}

/** The record, typed, once recordProblem found nothing wrong: missing later fields are null. */
export function asClusterRecord(value: Record<string, unknown>): ClusterState {
  const record = value as unknown as ClusterState;
  return {
    ...record,
    owner_start_time: record.owner_start_time ?? null,
    scheduler_start_time: record.scheduler_start_time ?? null,
    workers: record.workers.map(worker => ({ ...worker, start_time: worker.start_time ?? null }))
  };
}

const CLUSTER_STATUSES = ['starting', 'running', 'scaling', 'stopping', 'stopped', 'failed'];
const WORKER_STATUSES = ['starting', 'running', 'retiring', 'exited'];

function workerProblem(worker: unknown): string | null {
  if (!isObject(worker)) return `is ${describe(worker)}, not an object`;
  if (typeof worker.name !== 'string') return `has "name" ${describe(worker.name)}, not a string`;
  if (!WORKER_STATUSES.includes(worker.status as string)) return `has "status" ${describe(worker.status)}`;
  if (worker.pid !== null && !isPid(worker.pid)) return `has "pid" ${describe(worker.pid)}, not a process id or null`;
  if (worker.start_time !== undefined && worker.start_time !== null && !isCount(worker.start_time)) {
    return `has "start_time" ${describe(worker.start_time)}, not a start time or null`;
  }
  if (!isCount(worker.restarts)) return `has "restarts" ${describe(worker.restarts)}, not a number`;
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPid(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A value as a warning shows it: short, and never more than a line. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'a list';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

import { InputError } from '../errors';
import { numberFlag, type FlagValues } from '../requests/flag-checks';

export type { FlagValues } from '../requests/flag-checks';

/** Flags shared by plan, up and run: they become a plan request (the same fields as POST plan). */
export const PLAN_FLAGS = {
  workload: { type: 'string' },
  'max-workers': { type: 'string' },
  'reserve-mem-gb': { type: 'string' },
  'max-mem-gb': { type: 'string' },
  'memory-target': { type: 'string' },
  'memory-spill': { type: 'string' },
  'memory-pause': { type: 'string' },
  'memory-terminate': { type: 'string' },
  root: { type: 'string' },
  json: { type: 'boolean' }
} as const;

/** The plan request body that the flags describe; its checks are the API's (parsePlanRequest). */
export function planBodyFromFlags(values: FlagValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.workload !== undefined) body.workload = values.workload;
  const fields: [string, string][] = [
    ['max-workers', 'max_workers'],
    ['reserve-mem-gb', 'reserve_mem_gb'],
    ['max-mem-gb', 'max_mem_gb']
  ];
  for (const [flag, field] of fields) {
    const value = numberFlag(values, flag);
    if (value !== undefined) body[field] = value;
  }
  const thresholds: Record<string, number> = {};
  for (const key of ['target', 'spill', 'pause', 'terminate']) {
    const value = numberFlag(values, `memory-${key}`);
    if (value !== undefined) thresholds[key] = value;
  }
  if (Object.keys(thresholds).length > 0) body.thresholds = thresholds;
  return body;
}

/** Rewrites an InputError about a body field into one about the flag the user typed. */
export function asFlagError(error: InputError): InputError {
  if (error.field.startsWith('worker_jobs')) return asJobFlagError(error);
  const flag = '--' + error.field.replace(/^thresholds\./, 'memory-').replace(/_/g, '-');
  const message = error.message
    .replace(/\b(max_workers|reserve_mem_gb|max_mem_gb|workload|name|runner)\b/g, name => '--' + name.replace(/_/g, '-'))
    .replace(/\b(target|spill|pause|terminate)=/g, '--memory-$1=')
    .replace(/^thresholds must rise/, 'memory thresholds must rise');
  return new InputError(flag, message);
}

/** Flags of worker jobs on other nodes (up, run, job-script): they become the `worker_jobs` field. */
export const JOB_FLAGS = {
  system: { type: 'string' },
  dialect: { type: 'string' },
  'job-nodes': { type: 'string' },
  'job-cores': { type: 'string' },
  'job-mem-gb': { type: 'string' },
  walltime: { type: 'string' },
  queue: { type: 'string' },
  account: { type: 'string' },
  'jobfs-gb': { type: 'string' },
  storage: { type: 'string' },
  prologue: { type: 'string', multiple: true },
  interface: { type: 'string' },
  jobs: { type: 'string' },
  'max-queued': { type: 'string' }
} as const;

/** worker_jobs field → the flag that sets it. */
const JOB_FIELD_FLAGS: Record<string, string> = {
  nodes: 'job-nodes',
  cores: 'job-cores',
  memory_gb: 'job-mem-gb',
  jobfs_gb: 'jobfs-gb'
};

/** The `worker_jobs` body the flags describe, or undefined without --system. */
export function jobBodyFromFlags(values: FlagValues): Record<string, unknown> | undefined {
  if (values.system === undefined) {
    const stray = Object.keys(JOB_FLAGS).find(flag => values[flag] !== undefined);
    if (stray) throw new InputError(`--${stray}`, `--${stray} describes worker jobs: give --system slurm or --system pbs as well`);
    return undefined;
  }
  const body: Record<string, unknown> = {};
  for (const flag of ['system', 'dialect', 'walltime', 'queue', 'account', 'storage', 'interface']) {
    if (values[flag] !== undefined) body[flag] = values[flag];
  }
  for (const [field, flag] of [
    ['nodes', 'job-nodes'],
    ['cores', 'job-cores'],
    ['memory_gb', 'job-mem-gb'],
    ['jobfs_gb', 'jobfs-gb'],
    ['jobs', 'jobs'],
    ['max_queued', 'max-queued']
  ]) {
    const value = numberFlag(values, flag);
    if (value !== undefined) body[field] = value;
  }
  if (values.prologue !== undefined) body.prologue = values.prologue;
  return body;
}

/** Rewrites an InputError about a worker_jobs field into one about its flag. */
export function asJobFlagError(error: InputError): InputError {
  const field = error.field.replace(/^worker_jobs\./, '');
  const flag = '--' + (JOB_FIELD_FLAGS[field] ?? field.replace(/_/g, '-'));
  let message = error.message;
  for (const [name, flagName] of Object.entries(JOB_FIELD_FLAGS)) message = message.replaceAll(`worker_jobs.${name}`, `--${flagName}`);
  message = message.replace(/worker_jobs\.([a-z_]+)/g, (_, name: string) => '--' + name.replace(/_/g, '-'));
  return new InputError(flag, message);
}

/** The flags of the commands that own a cluster: up, run, job-script, serve. */
export const OWNER_FLAGS = {
  ...PLAN_FLAGS,
  ...JOB_FLAGS,
  runner: { type: 'boolean' },
  name: { type: 'string' },
  python: { type: 'string' },
  timeout: { type: 'string' },
  'adoption-grace': { type: 'string' }
} as const;

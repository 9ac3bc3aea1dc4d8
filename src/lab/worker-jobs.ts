import type { BatchSystem, JobRequest } from '../common/protocol';

/** Where a new cluster's workers run: this node, new batch jobs, or the nodes of this job. */
export type Placement = 'here' | 'jobs' | 'runner';

/** The "workers on other nodes" fields as typed; empty ones are left out of the request. */
export interface WorkerJobFields {
  system: 'pbs' | 'slurm';
  dialect: 'gadi' | 'pbspro';
  /** Hosts per job; empty is one. */
  nodes: string;
  cores: string;
  memory_gb: string;
  walltime: string;
  queue: string;
  account: string;
  jobfs_gb: string;
  storage: string;
  /** One line each. */
  prologue: string;
  interface: string;
  jobs: string;
}

/** A worker job's walltime outside a job whose end is known (inside one, the engine gives the time left). */
export const DEFAULT_WALLTIME = '01:00:00';

export function initialWorkerJobFields(batchSystem: BatchSystem | undefined): WorkerJobFields {
  return {
    system: batchSystem === 'slurm' ? 'slurm' : 'pbs',
    dialect: 'gadi',
    nodes: '',
    cores: '',
    memory_gb: '',
    walltime: DEFAULT_WALLTIME,
    queue: '',
    account: '',
    jobfs_gb: '',
    storage: '',
    prologue: '',
    interface: '',
    jobs: '1'
  };
}

/**
 * The fields prefilled from the job this JupyterLab runs in (resources.job): its project, queue
 * and storage, where the user has typed nothing. The engine marks them in the script's comments.
 * In a job whose end is known the walltime left at its default is emptied: the engine then gives
 * each worker job the time this job has left, so none outlives the session (a typed one wins).
 */
export function prefillFromJob(fields: WorkerJobFields, job: JobRequest | null | undefined): WorkerJobFields {
  if (!job) return fields;
  const next = { ...fields };
  const values: ['account' | 'queue' | 'storage', string | null][] = [
    ['account', job.project],
    ['queue', job.queue],
    ['storage', job.storage]
  ];
  for (const [key, value] of values) if (value && next[key].trim() === '') next[key] = value;
  if (job.ends_at && next.walltime === DEFAULT_WALLTIME) next.walltime = '';
  return next;
}

/** A job of several hosts: its cores, memory and jobfs are each host's, and the labels say so. */
export function perNodeLabels(fields: Pick<WorkerJobFields, 'nodes'>): boolean {
  return Number(fields.nodes.trim()) > 1;
}

/**
 * The `worker_jobs` request field. Numbers stay as the user typed them when they are not
 * numbers, so the engine's message names the field and the value.
 */
export function workerJobsBody(fields: WorkerJobFields): Record<string, unknown> {
  const body: Record<string, unknown> = { system: fields.system };
  if (fields.system === 'pbs') body.dialect = fields.dialect;
  for (const key of ['nodes', 'cores', 'memory_gb', 'jobfs_gb', 'jobs'] as const) {
    const text = fields[key].trim();
    if (text !== '') body[key] = Number.isFinite(Number(text)) ? Number(text) : text;
  }
  for (const key of ['walltime', 'queue', 'account', 'storage', 'interface'] as const) {
    // Storage is Gadi's alone: a prefilled one stays out of a PBS Pro or Slurm job.
    if (key === 'storage' && !(fields.system === 'pbs' && fields.dialect === 'gadi')) continue;
    const text = fields[key].trim();
    if (text !== '') body[key] = text;
  }
  const prologue = fields.prologue
    .split('\n')
    .map(line => line.trim())
    .filter(Boolean);
  if (prologue.length) body.prologue = prologue;
  return body;
}

import type { JobSystem, PbsDialect, Resources, WorkerJobSpec } from '../../common/protocol';
import { DEFAULT_MAX_QUEUED } from '../../common/job-notes';
import { InputError } from '../errors';
import { planCluster } from '../node/plan';
import { parsePlanRequest, rejectUnknownFields } from './plan-request';
import { GiB } from '../node/units';
import { checkPrologue } from '../batch/prologue';
import { jobDefaults, walltimeFromJob, type JobHere } from './job-defaults';

type Body = Record<string, unknown>;

const JOB_FIELDS = [
  'system',
  'dialect',
  'nodes',
  'cores',
  'memory_gb',
  'walltime',
  'queue',
  'account',
  'jobfs_gb',
  'storage',
  'prologue',
  'interface',
  'jobs',
  'max_queued'
];
const MIN_JOBFS_GB = 0.001;
const PLAN_FIELDS_FOR_JOBS = ['workload', 'max_workers', 'reserve_mem_gb', 'thresholds'];

/** Where each system puts a job's node-local disk; the job's shell expands it, on its own node. */
export const JOB_FILESYSTEM: Record<JobSystem, string> = {
  pbs: '${PBS_JOBFS:-${TMPDIR:-/tmp}}',
  slurm: '${SLURM_TMPDIR:-${TMPDIR:-/tmp}}'
};

/** The same places as the job script tries them, the first private one taken (private-root-shell.ts). */
export const JOB_FILESYSTEM_CANDIDATES: Record<JobSystem, string[]> = {
  pbs: ['"${PBS_JOBFS:-}"', '"${TMPDIR:-}"', '/tmp'],
  slurm: ['"${SLURM_TMPDIR:-}"', '"${TMPDIR:-}"', '/tmp']
};

// Every value that reaches a directive is one of these shapes: no spaces, quotes or shell characters.
const QUEUE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const STORAGE = /^(gdata|scratch|massdata)\/[A-Za-z0-9_]+(\+(gdata|scratch|massdata)\/[A-Za-z0-9_]+)*$/;
const INTERFACE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/;
const WALLTIME = /^(\d{1,4}):([0-5]\d):([0-5]\d)$/;

/**
 * Cores per node of Gadi's queues: a Gadi job past one node must ask for whole nodes
 * (ncpus a multiple of these), so a multi-node job's cores per host must be one node's.
 */
export const GADI_NODE_CORES: Record<string, number> = {
  normal: 48,
  express: 48,
  hugemem: 48,
  megamem: 48,
  gpuvolta: 48,
  normalbw: 28,
  expressbw: 28,
  normalsr: 104,
  expresssr: 104,
  dgxa100: 128
};

/** Seconds in an HH:MM:SS walltime. */
export function walltimeSeconds(walltime: string): number {
  const [, h, m, s] = WALLTIME.exec(walltime) as RegExpExecArray;
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}

function requireObject(value: unknown, field: string): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(field, `${field} must be an object like {"system": "slurm", "cores": 4, "memory_gb": 16}`);
  }
  return value as Body;
}

function pattern(body: Body, field: string, shape: RegExp, expected: string): string | null {
  const value = body[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !shape.test(value)) {
    throw new InputError(`worker_jobs.${field}`, `worker_jobs.${field} must be ${expected}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function positive(body: Body, field: string, integer: boolean, max: number): number | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max || (integer && !Number.isInteger(value))) {
    throw new InputError(
      `worker_jobs.${field}`,
      `worker_jobs.${field} must be ${integer ? 'a whole number' : 'a number'} above 0 and at most ${max}, not ${JSON.stringify(value)}`
    );
  }
  return value;
}

/** A Gadi job of several nodes gets whole nodes only: each host's cores must be one node of the queue (normal's when none is given). */
function checkGadiWholeNodes(queue: string | null, cores: number): void {
  const name = queue ?? 'normal';
  const nodeCores = GADI_NODE_CORES[name];
  if (nodeCores !== undefined && cores !== nodeCores) {
    throw new InputError(
      'worker_jobs.cores',
      `worker_jobs.cores must be ${nodeCores} (a whole node of Gadi's ${name} queue) for a job of several nodes, not ${cores}: ` +
        'Gadi gives a job past one node whole nodes only'
    );
  }
}

/** The number of worker jobs to submit at the start. */
export function initialJobs(body: Body): number {
  const jobs = body.jobs ?? 1;
  if (typeof jobs !== 'number' || !Number.isInteger(jobs) || jobs < 0 || jobs > 1000) {
    throw new InputError('worker_jobs.jobs', `worker_jobs.jobs must be a whole number from 0 to 1000, not ${JSON.stringify(jobs)}`);
  }
  return jobs;
}

/**
 * The `worker_jobs` part of a cluster request, checked field by field (each wrong value is an
 * InputError naming it), with the plan of each job's workers from the job's own cores and memory.
 */
export function parseWorkerJobs(value: unknown, planFields: Body, here: JobHere | null = null, nowMs = Date.now()): WorkerJobSpec {
  const given = requireObject(value, 'worker_jobs');
  rejectUnknownFields(given, JOB_FIELDS);
  const shapes = { account: ACCOUNT, queue: QUEUE, storage: STORAGE };
  const fromJob = jobDefaults(given, here, (field, text) => shapes[field as keyof typeof shapes].test(text));
  const walltimeDefault = walltimeFromJob(given, here, nowMs);
  if (walltimeDefault) fromJob.push(walltimeDefault);
  const body: Body = { ...given, ...Object.fromEntries(fromJob.map(entry => [entry.field, entry.value])) };
  const system = body.system;
  if (system !== 'pbs' && system !== 'slurm') {
    throw new InputError('worker_jobs.system', `worker_jobs.system must be "pbs" or "slurm", not ${JSON.stringify(system)}`);
  }
  let dialect: PbsDialect | null = null;
  if (system === 'pbs') {
    dialect = (body.dialect ?? 'gadi') as PbsDialect;
    if (dialect !== 'gadi' && dialect !== 'pbspro') {
      throw new InputError('worker_jobs.dialect', `worker_jobs.dialect must be "gadi" or "pbspro", not ${JSON.stringify(body.dialect)}`);
    }
  } else if (body.dialect !== undefined && body.dialect !== null) {
    throw new InputError('worker_jobs.dialect', 'worker_jobs.dialect is for PBS only ("gadi" or "pbspro")');
  }
  const cores = positive(body, 'cores', true, 4096);
  const memoryGb = positive(body, 'memory_gb', false, 65536);
  if (cores === null || memoryGb === null) {
    throw new InputError(
      cores === null ? 'worker_jobs.cores' : 'worker_jobs.memory_gb',
      'worker_jobs needs the cores and memory_gb of each job'
    );
  }
  const queue = pattern(body, 'queue', QUEUE, 'a queue or partition name (letters, digits, _ . @ -)');
  const nodes = positive(body, 'nodes', true, 1000) ?? 1;
  if (nodes > 1 && dialect === 'gadi') checkGadiWholeNodes(queue, cores);
  const walltime = (body.walltime ?? '01:00:00') as string;
  if (typeof walltime !== 'string' || !WALLTIME.test(walltime) || walltimeSeconds(walltime) < 300) {
    throw new InputError(
      'worker_jobs.walltime',
      `worker_jobs.walltime must be HH:MM:SS of at least 00:05:00, not ${JSON.stringify(body.walltime)}`
    );
  }
  const storage = pattern(body, 'storage', STORAGE, 'like gdata/ab12+scratch/ab12');
  if (storage !== null && dialect !== 'gadi') {
    throw new InputError('worker_jobs.storage', "worker_jobs.storage is Gadi's -l storage; this is not a Gadi job");
  }
  const jobfsGb = positive(body, 'jobfs_gb', false, 65536);
  if (jobfsGb !== null && jobfsGb < MIN_JOBFS_GB) {
    // Below a MiB the request would vanish from the directive (whole MiB), silently.
    throw new InputError(
      'worker_jobs.jobfs_gb',
      `worker_jobs.jobfs_gb must be at least ${MIN_JOBFS_GB} (about 1 MiB), not ${JSON.stringify(jobfsGb)}`
    );
  }
  if (jobfsGb !== null && dialect === 'pbspro') {
    throw new InputError('worker_jobs.jobfs_gb', 'standard PBS Pro has no jobfs resource; leave worker_jobs.jobfs_gb out');
  }
  const memoryBytes = Math.floor(memoryGb * GiB);
  const jobfsBytes = jobfsGb === null ? null : Math.floor(jobfsGb * GiB);
  // The job's node as its workers will see it: the plan divides the job, not this node, and
  // caps its workers' spill by the job's own jobfs request, where one is given.
  const jobNode: Resources = {
    batch_system: system,
    job_id: null,
    hostname: '(worker job)',
    cores,
    memory_bytes: memoryBytes,
    jobfs: JOB_FILESYSTEM[system],
    jobfs_free_bytes: null,
    gpus: 0,
    node_count: 1,
    sources: {
      cores: 'worker_jobs.cores',
      memory: 'worker_jobs.memory_gb',
      jobfs: `the job's ${system === 'pbs' ? 'PBS_JOBFS' : 'SLURM_TMPDIR'}`
    },
    inputs: {},
    warnings: [],
    job: {
      id: '(worker job)',
      project: null,
      queue: null,
      storage: null,
      walltime_seconds: null,
      ends_at: null,
      jobfs_request_bytes: jobfsBytes
    }
  };
  const planBody = Object.fromEntries(PLAN_FIELDS_FOR_JOBS.filter(f => planFields[f] !== undefined).map(f => [f, planFields[f]]));
  const plan = planCluster(jobNode, parsePlanRequest(planBody));
  return {
    system,
    dialect,
    ...(nodes > 1 ? { nodes } : {}),
    cores,
    memory_bytes: memoryBytes,
    walltime,
    queue,
    account: pattern(body, 'account', ACCOUNT, 'a project or account name (letters, digits, _ . -)'),
    jobfs_bytes: jobfsBytes,
    storage,
    prologue: checkPrologue(body.prologue),
    interface: pattern(body, 'interface', INTERFACE, 'a network interface name like ib0'),
    max_queued: positive(body, 'max_queued', true, 1000) ?? DEFAULT_MAX_QUEUED,
    plan,
    ...(fromJob.length ? { from_job: fromJob } : {})
  };
}

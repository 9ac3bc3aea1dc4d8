import { spawnSync } from 'node:child_process';
import type { BatchSystem, JobRequest } from '../../common/protocol';
import { parsePbsSize, parseSlurmMemory } from './units';

/** What the batch system says the job asked for, and what it could not read. */
export interface JobReading {
  job: JobRequest;
  warnings: string[];
}

/** How long qstat or scontrol may take: Gadi's qstat can be slow, and detection must not wait on it. */
export const JOB_QUERY_TIMEOUT_MS = 5000;

/** OpenPBS's project of a job submitted without -P: no project at all. */
const PBS_DEFAULT_PROJECT = '_pbs_project_default';

function emptyJob(id: string): JobRequest {
  return { id, project: null, queue: null, storage: null, walltime_seconds: null, ends_at: null, jobfs_request_bytes: null };
}

/** "HH:MM:SS", "MM:SS", plain seconds (PBS) → seconds, or null. */
function parsePbsDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const match = /^\s*(?:(?:(\d+):)?(\d+):)?(\d+)\s*$/.exec(value);
  if (!match) return null;
  const [, h, m, s] = match;
  return Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s);
}

/** Slurm's TimeLimit: "D-HH:MM:SS", "D-HH", "HH:MM:SS", "MM:SS", "MM" → seconds; UNLIMITED and odd values → null. */
export function parseSlurmDuration(text: string): number | null {
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
  if (!match) return null;
  const [, days, a, b, c] = match;
  const d = Number(days ?? 0) * 86400;
  if (days !== undefined) return d + Number(a) * 3600 + Number(b ?? 0) * 60 + Number(c ?? 0);
  if (c !== undefined) return Number(a) * 3600 + Number(b) * 60 + Number(c);
  if (b !== undefined) return Number(a) * 60 + Number(b);
  return Number(a) * 60;
}

/** A time as the batch system prints it (local time, no zone) → ISO 8601 UTC, or null. */
function isoTime(text: string): string | null {
  const time = new Date(text.trim().replace(/\s+/g, ' '));
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

function text(value: unknown): string | null {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** `qstat -f -F json <id>` → the job's request; each field it lacks or cannot read is null, an odd one a warning. */
export function parsePbsJob(id: string, output: string): JobReading {
  const job = emptyJob(id);
  const warnings: string[] = [];
  let entry: Record<string, unknown> | undefined;
  try {
    const jobs = (JSON.parse(output) as { Jobs?: Record<string, Record<string, unknown>> }).Jobs ?? {};
    entry = jobs[id] ?? Object.values(jobs)[0];
  } catch {
    entry = undefined;
  }
  if (!entry || typeof entry !== 'object') {
    return { job, warnings: [`qstat -f -F json ${id} printed no job ${id}; the job's request is unknown.`] };
  }
  const resources = (entry.Resource_List ?? {}) as Record<string, unknown>;
  const project = text(entry.project) ?? text(entry.Account_Name);
  job.project = project === PBS_DEFAULT_PROJECT ? null : project;
  job.queue = text(entry.queue);
  job.storage = text(resources.storage);
  if (resources.walltime !== undefined) {
    job.walltime_seconds = parsePbsDuration(resources.walltime);
    if (job.walltime_seconds === null) {
      warnings.push(`qstat: Resource_List.walltime=${JSON.stringify(resources.walltime)} is not HH:MM:SS; walltime unknown.`);
    }
  }
  if (resources.jobfs !== undefined) {
    job.jobfs_request_bytes = parsePbsSize(String(resources.jobfs));
    if (job.jobfs_request_bytes === null) {
      warnings.push(`qstat: Resource_List.jobfs=${JSON.stringify(resources.jobfs)} is not a PBS size like 100gb; jobfs request unknown.`);
    }
  }
  const started = text(entry.stime);
  if (started && job.walltime_seconds !== null) {
    const start = isoTime(started);
    if (start === null) warnings.push(`qstat: stime=${JSON.stringify(started)} is not a time; the job's end is unknown.`);
    else job.ends_at = new Date(Date.parse(start) + job.walltime_seconds * 1000).toISOString();
  }
  return { job, warnings };
}

/** The fields of `scontrol show job -o` (one line of Key=Value); values with spaces (Command=) are cut, which none of ours has. */
function slurmFields(output: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const match of output.matchAll(/(?:^|\s)([A-Za-z:/]+)=(\S*)/g)) {
    if (!fields.has(match[1])) fields.set(match[1], match[2]);
  }
  return fields;
}

const SLURM_NONE = new Set(['', '(null)', 'None', 'Unknown', 'N/A']);

/** SLURM_JOB_END_TIME (seconds since 1970, set by newer Slurm) as ISO 8601; null when unset or odd (a warning). */
function endFromVariable(text: string | undefined, warnings: string[]): string | null {
  if (text === undefined || text.trim() === '') return null;
  if (!/^\s*\d+\s*$/.test(text)) {
    warnings.push(`SLURM_JOB_END_TIME=${JSON.stringify(text)} is not seconds since 1970; ignored it.`);
    return null;
  }
  return new Date(Number(text) * 1000).toISOString();
}

/** `scontrol show job -o <id>` (and SLURM_JOB_END_TIME, epoch seconds) → the job's request. */
export function parseSlurmJob(id: string, output: string, endTimeVariable?: string): JobReading {
  const job = emptyJob(id);
  const warnings: string[] = [];
  const fields = slurmFields(output);
  if (!fields.has('JobId')) {
    warnings.push(`scontrol show job -o ${id} printed no job; the job's request is unknown.`);
  }
  const value = (name: string) => {
    const found = fields.get(name);
    return found === undefined || SLURM_NONE.has(found) ? null : found;
  };
  job.project = value('Account');
  job.queue = value('Partition');
  const limit = value('TimeLimit');
  if (limit !== null && limit !== 'UNLIMITED') {
    job.walltime_seconds = parseSlurmDuration(limit);
    if (job.walltime_seconds === null) {
      warnings.push(`scontrol: TimeLimit=${JSON.stringify(limit)} is not a time like 1-02:00:00; walltime unknown.`);
    }
  }
  const tmp = value('MinTmpDiskNode');
  if (tmp !== null && tmp !== '0') {
    job.jobfs_request_bytes = parseSlurmMemory(tmp);
    if (job.jobfs_request_bytes === null) {
      warnings.push(`scontrol: MinTmpDiskNode=${JSON.stringify(tmp)} is not a size like 100G; jobfs request unknown.`);
    }
  }
  job.ends_at = endFromVariable(endTimeVariable, warnings);
  const end = value('EndTime');
  if (job.ends_at === null && end !== null && job.walltime_seconds !== null) {
    job.ends_at = isoTime(end);
    if (job.ends_at === null) warnings.push(`scontrol: EndTime=${JSON.stringify(end)} is not a time; the job's end is unknown.`);
  }
  return { job, warnings };
}

/** Runs one query (argv, never a shell) within the timeout: its stdout, or why there is none. */
function query(argv: string[], timeoutMs: number, env: NodeJS.ProcessEnv | undefined): { stdout: string } | { failure: string } {
  const result = spawnSync(argv[0], argv.slice(1), {
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const command = argv.join(' ');
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') return { failure: `${command} did not answer within ${timeoutMs / 1000} s` };
  if (code === 'ENOENT') return { failure: `${argv[0]} is not on PATH` };
  if (result.error) return { failure: `cannot run ${command}: ${result.error.message}` };
  if (result.status !== 0) {
    const said = (result.stderr || result.stdout || '').trim().split('\n')[0];
    return { failure: `${command} failed (${result.signal ?? `exit ${result.status}`})${said ? `: ${said}` : ''}` };
  }
  return { stdout: result.stdout };
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._@[\]-]{0,127}$/;

// A job's request does not change while it runs, and the sidebar polls resources: ask once per job.
const cache = new Map<string, JobReading>();

export interface JobQueryOptions {
  timeoutMs?: number;
  /** SLURM_JOB_END_TIME where set. */
  slurmEndTime?: string;
  /** The environment the command runs in (its PATH finds qstat or scontrol); this process's by default. */
  env?: NodeJS.ProcessEnv;
}

/** The job's request as its batch system reports it; a query that fails or hangs is a warning, never an error. */
export function readJobRequest(system: BatchSystem, id: string, options: JobQueryOptions = {}): JobReading {
  const key = `${system} ${id} ${options.slurmEndTime ?? ''}`;
  const cached = cache.get(key);
  if (cached) return cached;
  if (!JOB_ID.test(id)) {
    // Not a job id the batch system printed (it would reach qstat as an option): not asked.
    return {
      job: emptyJob(id),
      warnings: [`the job id ${JSON.stringify(id)} is not one like 12.gadi-pbs or 345; did not ask the batch system about it.`]
    };
  }
  const timeoutMs = options.timeoutMs ?? JOB_QUERY_TIMEOUT_MS;
  const argv = system === 'pbs' ? ['qstat', '-f', '-F', 'json', id] : ['scontrol', 'show', 'job', '-o', id];
  const answer = query(argv, timeoutMs, options.env);
  let reading: JobReading;
  if ('failure' in answer) {
    // The environment's figures still hold; only the request's extras are unknown.
    const job = emptyJob(id);
    const warnings = [`${answer.failure}; the job's project, walltime and jobfs request are unknown.`];
    if (system === 'slurm') job.ends_at = endFromVariable(options.slurmEndTime, warnings);
    reading = { job, warnings };
  } else {
    reading = system === 'pbs' ? parsePbsJob(id, answer.stdout) : parseSlurmJob(id, answer.stdout, options.slurmEndTime);
  }
  cache.set(key, reading);
  return reading;
}

/** For tests: forget what was asked. */
export function forgetJobRequests(): void {
  cache.clear();
}

import type { JobState } from '../../common/protocol';

/** Slurm's job states as a card shows them; everything not listed has finished. */
const SLURM_STATES: Record<string, JobState> = {
  PENDING: 'queued',
  CONFIGURING: 'queued',
  REQUEUED: 'queued',
  REQUEUE_HOLD: 'queued',
  RESV_DEL_HOLD: 'queued',
  SUSPENDED: 'queued',
  RUNNING: 'running',
  COMPLETING: 'running',
  SIGNALING: 'running',
  STAGE_OUT: 'running'
};

/** PBS's one-letter states (qstat -f): queued, held, waiting, moving, suspended; running, exiting, array begun; finished. */
const PBS_STATES: Record<string, JobState> = {
  Q: 'queued',
  H: 'queued',
  W: 'queued',
  T: 'queued',
  S: 'queued',
  U: 'queued',
  R: 'running',
  E: 'running',
  B: 'running',
  F: 'finished',
  X: 'finished',
  M: 'finished'
};

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${what} printed something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * `squeue --json`: job id → state. Slurm 22.05 writes `job_state` as a string, 23.02 on as a
 * list of flags with the base state first.
 */
export function parseSqueueJson(text: string): Map<string, JobState> {
  const jobs = (parseJson(text, 'squeue --json').jobs ?? []) as { job_id: number | string; job_state: string | string[] }[];
  const states = new Map<string, JobState>();
  for (const job of jobs) {
    const raw = Array.isArray(job.job_state) ? job.job_state[0] : job.job_state;
    states.set(String(job.job_id), SLURM_STATES[raw] ?? 'finished');
  }
  return states;
}

/** `qstat -f -F json -x ID…` (PBS Pro 19+): job id → state, from each job's `job_state` letter. */
export function parseQstatJson(text: string): Map<string, JobState> {
  const jobs = (parseJson(text, 'qstat -f -F json').Jobs ?? {}) as Record<string, { job_state?: string }>;
  const states = new Map<string, JobState>();
  for (const [id, job] of Object.entries(jobs)) {
    states.set(id, PBS_STATES[job.job_state ?? ''] ?? 'finished');
  }
  return states;
}

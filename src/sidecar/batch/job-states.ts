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

/** What the batch system says of a job: its state and, while it waits in the queue, why (its own words). */
export interface JobStatus {
  state: JobState;
  reason: string | null;
}

/** A job the batch system no longer knows: it has finished, with nothing to say. */
export const FINISHED: JobStatus = { state: 'finished', reason: null };

/** Reasons longer than this are cut: the text is the batch system's, shown on a card line. */
export const MAX_REASON_CHARS = 200;

/**
 * The batch system's reason for a queued job, as a record may keep it. The text comes from
 * outside: control and format characters (escapes a terminal would obey, newlines that would
 * break `ls`, direction overrides) become spaces, and it is cut to MAX_REASON_CHARS. No reason
 * (none, not text, Slurm's "None", a job not queued) is null.
 */
export function cleanReason(raw: unknown, state: JobState): string | null {
  if (state !== 'queued' || typeof raw !== 'string') return null;
  const text = raw
    .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!text || text === 'None') return null;
  const chars = [...text]; // whole code points: a cut never splits a surrogate pair
  return chars.length > MAX_REASON_CHARS ? `${chars.slice(0, MAX_REASON_CHARS - 1).join('')}…` : text;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${what} printed something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * `squeue --json`: job id → state, and `state_reason` while pending ("Resources", "Priority",
 * "JobHeldUser"). Slurm 22.05 writes `job_state` as a string, 23.02 on as a list of flags with
 * the base state first; `state_reason` is a string in both.
 */
export function parseSqueueJson(text: string): Map<string, JobStatus> {
  const jobs = (parseJson(text, 'squeue --json').jobs ?? []) as {
    job_id: number | string;
    job_state: string | string[];
    state_reason?: unknown;
  }[];
  const states = new Map<string, JobStatus>();
  for (const job of jobs) {
    const raw = Array.isArray(job.job_state) ? job.job_state[0] : job.job_state;
    const state = SLURM_STATES[raw] ?? 'finished';
    states.set(String(job.job_id), { state, reason: cleanReason(job.state_reason, state) });
  }
  return states;
}

/**
 * `qstat -f -F json -x ID…` (PBS Pro 19+): job id → state, from each job's `job_state` letter,
 * and while queued the scheduler's `comment` ("Not Running: Insufficient amount of resource: …",
 * "Job held by …").
 */
export function parseQstatJson(text: string): Map<string, JobStatus> {
  const jobs = (parseJson(text, 'qstat -f -F json').Jobs ?? {}) as Record<string, { job_state?: string; comment?: unknown }>;
  const states = new Map<string, JobStatus>();
  for (const [id, job] of Object.entries(jobs)) {
    const state = PBS_STATES[job.job_state ?? ''] ?? 'finished';
    states.set(id, { state, reason: cleanReason(job.comment, state) });
  }
  return states;
}

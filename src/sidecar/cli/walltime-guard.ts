import type { JobRequest } from '../../common/protocol';
import { formatDuration, secondsLeft } from '../../common/session-end';

/**
 * `dask-hpc run` inside a batch job stops this long before the job's end: 10% of the walltime,
 * from 1 to 3 minutes (3 where only the end is known). A minute covers what the stop takes
 * (retiring the workers, at most 10 s; the command's grace, 20 s; the scheduler's end, 5 s) and
 * the seconds by which PBS's start time and the node's clock may differ; past 3 minutes a long
 * job would only lose compute, since nothing is moved elsewhere when the whole cluster retires.
 */
export function runMarginSeconds(walltimeSeconds: number | null): number {
  if (walltimeSeconds === null) return 180;
  return Math.min(180, Math.max(60, Math.floor(walltimeSeconds * 0.1)));
}

/** How long the command may take to end after SIGTERM, before SIGKILL. */
export const COMMAND_GRACE_MS = 20_000;

/** `run`'s exit status when it stopped because the job's walltime was about to end (GNU timeout's "timed out"). */
export const EXIT_WALLTIME = 124;

export interface RunDeadline {
  jobId: string;
  endsAt: string;
  /** When run retires the workers: the end less the margin, in ms since 1970. */
  retireAtMs: number;
  marginSeconds: number;
}

/** When a `run` in this job must stop; null outside a job or where its end is unknown. */
export function runDeadline(job: JobRequest | null | undefined, nowMs: number): RunDeadline | null {
  if (!job || secondsLeft(job.ends_at, nowMs) === null) return null;
  const endsAt = job.ends_at as string;
  const marginSeconds = runMarginSeconds(job.walltime_seconds);
  return { jobId: job.id, endsAt, retireAtMs: Date.parse(endsAt) - marginSeconds * 1000, marginSeconds };
}

/** What CMD is told at its start, so a program can save before the end itself. */
export function deadlineEnvironment(deadline: RunDeadline | null): Record<string, string> {
  if (!deadline) return {};
  return { DASK_HPC_JOB_ENDS_AT: deadline.endsAt, DASK_HPC_RETIRE_AT: new Date(deadline.retireAtMs).toISOString() };
}

/** The line on stderr when run stops for the walltime. */
export function retireMessage(deadline: RunDeadline, command: string, nowMs: number): string {
  const left = Math.max(0, secondsLeft(deadline.endsAt, nowMs) ?? 0);
  return (
    `dask-hpc: job ${deadline.jobId} reaches its walltime at ${deadline.endsAt} (in ${formatDuration(left)}): ` +
    `retiring the workers now (what they hold in memory is lost), then stopping ${command} (SIGTERM, SIGKILL after ` +
    `${COMMAND_GRACE_MS / 1000} s) and the cluster, before the batch system kills the job; exit ${EXIT_WALLTIME}\n`
  );
}

/** The line on stderr when the job ends too soon to start anything. */
export function tooLateMessage(deadline: RunDeadline, nowMs: number): string {
  const left = Math.max(0, secondsLeft(deadline.endsAt, nowMs) ?? 0);
  return (
    `dask-hpc: job ${deadline.jobId} reaches its walltime at ${deadline.endsAt} (in ${formatDuration(left)}), within the ` +
    `${deadline.marginSeconds} s that run keeps to stop cleanly: started nothing; exit ${EXIT_WALLTIME}\n`
  );
}

// setTimeout holds at most 2^31-1 ms (24.8 days); a Slurm job may be longer.
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1;

/** Calls `action` at the time (ms since 1970), however far; the function returned cancels it. */
export function atTime(timeMs: number, action: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const wait = timeMs - Date.now();
    timer = wait > LONGEST_TIMEOUT_MS ? setTimeout(arm, LONGEST_TIMEOUT_MS) : setTimeout(action, Math.max(0, wait));
  };
  arm();
  return () => clearTimeout(timer);
}

/**
 * The batch job's end (detect's `job.ends_at`) as the sidebar, its notifications, `dask-hpc run`
 * and the worker-job default use it. Pure: every function takes "now" (ms since 1970).
 */

/** Minutes before the end at which the sidebar notifies, most urgent last. */
export const WARNING_MINUTES = [15, 5] as const;

/** The last stretch the sidebar shows as a warning. */
export const WARNING_SECONDS = 15 * 60;

// detect writes ISO 8601; Date.parse would also take words ("Thu Dec 32" is a day of 2032).
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Seconds from now to the end, or null when the end is unknown or not an ISO 8601 time. */
export function secondsLeft(endsAt: string | null | undefined, nowMs: number): number | null {
  if (typeof endsAt !== 'string' || !ISO_TIME.test(endsAt)) return null;
  const end = Date.parse(endsAt);
  return Number.isNaN(end) ? null : Math.floor((end - nowMs) / 1000);
}

/** "1 h 12 min", "14 min", "under a minute": a duration as a person reads it, rounded down. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return 'under a minute';
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  if (hours === 0) return `${minutes} min`;
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** "14:30" in the reader's time zone (or the given one, for tests). */
export function clockTime(endsAt: string, timeZone?: string): string {
  return new Date(endsAt).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone });
}

export interface SessionEnd {
  /** "Session ends in 1 h 12 min (at 14:30)", or "Session has reached its walltime (at 14:30)". */
  text: string;
  secondsLeft: number;
  /** In the last 15 minutes (or past the end). */
  warning: boolean;
}

/** What the sidebar says of the session's end; null outside a job or where the end is unknown. */
export function describeSessionEnd(endsAt: string | null | undefined, nowMs: number, timeZone?: string): SessionEnd | null {
  const left = secondsLeft(endsAt, nowMs);
  if (left === null) return null;
  const at = clockTime(endsAt as string, timeZone);
  const text = left > 0 ? `Session ends in ${formatDuration(left)} (at ${at})` : `Session has reached its walltime (at ${at})`;
  return { text, secondsLeft: left, warning: left <= WARNING_SECONDS };
}

/**
 * The notification due now, if any: the most urgent threshold already reached that was not yet
 * shown. A page opened with 4 minutes left shows the 5-minute one only; the 15-minute one then
 * counts as shown too (`shown` gets both), so none comes twice and none comes late.
 */
export function dueWarning(left: number | null, shown: ReadonlySet<number>): { minutes: number; covers: number[] } | null {
  if (left === null || left <= 0) return null;
  const reached = WARNING_MINUTES.filter(minutes => left <= minutes * 60);
  if (reached.length === 0) return null;
  const minutes = reached[reached.length - 1];
  if (shown.has(minutes)) return null;
  return { minutes, covers: [...reached] };
}

/** What a notification at the threshold says: what will happen, what to do; within the 140 characters a JupyterLab toast shows. */
export function warningMessage(left: number, endsAt: string, timeZone?: string): string {
  return (
    `This session ends in ${formatDuration(left)} (at ${clockTime(endsAt, timeZone)}): its Dask clusters stop, ` +
    "their workers' memory is lost. Save results to /scratch or /g/data."
  );
}

/** The 5-minute floor of a worker job's walltime (requests/job-request.ts holds every job to it). */
export const MIN_WALLTIME_SECONDS = 300;

/** Seconds as HH:MM:SS, the form of a PBS or Slurm walltime. */
export function formatWalltime(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}

/**
 * A worker job's walltime that does not outlive this job: the time left, rounded down to whole
 * minutes. Null when the end is unknown; `too_short` when less than the 5-minute floor is left.
 */
export function walltimeLeft(endsAt: string | null | undefined, nowMs: number): { walltime: string } | { too_short: number } | null {
  const left = secondsLeft(endsAt, nowMs);
  if (left === null) return null;
  if (left < MIN_WALLTIME_SECONDS) return { too_short: Math.max(0, left) };
  return { walltime: formatWalltime(Math.floor(left / 60) * 60) };
}

import { readFileSync, statSync } from 'node:fs';

/**
 * A process as a record names it. A pid alone names whatever process holds that number now:
 * after the recorded one ended, the kernel hands it out again (to another process of the user,
 * or of another user). The start time (/proc/PID/stat field 22, clock ticks since boot) tells
 * the recorded process apart; records of an older dask-hpc have none (null).
 */
export interface RecordedProcess {
  pid: number | null | undefined;
  startTime: number | null | undefined;
}

/** /proc/PID/stat after the command (which may hold spaces and parentheses): field 3 onwards. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // no such process (or, with hidepid, another user's)
  }
}

/** When the process with this pid started (clock ticks since boot), or null if there is none. */
export function startTimeOf(pid: number | null | undefined): number | null {
  if (!pid || !Number.isInteger(pid) || pid < 1) return null;
  const started = Number(statFields(pid)?.[19]); // field 22, starttime
  return Number.isInteger(started) ? started : null;
}

/** This process, as records name it. */
export function thisProcess(): { pid: number; startTime: number | null } {
  return { pid: process.pid, startTime: startTimeOf(process.pid) };
}

function ownerUid(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
}

/**
 * Whether the recorded process still runs: a live process (not a zombie) of this user holds
 * the pid and, where the record has a start time, started then. Another user's process at the
 * pid is not ours, so it is gone (signal 0 would say EPERM); so is one that started at another
 * time (the pid was reused). A record without a start time is judged by pid and owner alone.
 */
export function recordedProcessRuns({ pid, startTime }: RecordedProcess): boolean {
  if (!pid || !Number.isInteger(pid) || pid < 1) return false;
  const fields = statFields(pid);
  if (fields === null || fields[0] === 'Z' || fields[0] === 'X') return false;
  if (ownerUid(pid) !== process.getuid?.()) return false;
  return startTime === null || startTime === undefined || Number(fields[19]) === startTime;
}

/**
 * Whether the recorded process may be signalled: it runs and its start time was recorded and
 * matches. A pid from a record of an older dask-hpc (no start time) is never signalled: it may
 * be any process of the user's by now (its scheduler ends itself without an owner: lifeline.py).
 */
export function mayBeSignalled(recorded: RecordedProcess): boolean {
  return recorded.startTime !== null && recorded.startTime !== undefined && recordedProcessRuns(recorded);
}

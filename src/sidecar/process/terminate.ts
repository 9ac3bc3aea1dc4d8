import { mayBeSignalled, recordedProcessRuns, type RecordedProcess } from './process-identity';

const KILL_GRACE_MS = 5000;
const EXIT_CHECK_MS = 100;

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Ends processes that are not our children (an earlier owner's), whose exit cannot be awaited:
 * SIGTERM to all, then SIGKILL to those still there after the grace period. Only the recorded
 * processes themselves (pid, start time and owner: process-identity.ts) are signalled, never
 * whatever holds their pid now.
 */
export async function terminateRecorded(processes: RecordedProcess[], graceMs = KILL_GRACE_MS): Promise<void> {
  const alive = processes.filter(mayBeSignalled) as { pid: number; startTime: number }[];
  for (const { pid } of alive) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.some(recordedProcessRuns) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, EXIT_CHECK_MS));
  }
  for (const recorded of alive) if (recordedProcessRuns(recorded)) signal(recorded.pid, 'SIGKILL');
}

import { processAlive } from '../state/state-store';

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
 * SIGTERM to all, then SIGKILL to those still there after the grace period.
 */
export async function terminatePids(pids: (number | null)[], graceMs = KILL_GRACE_MS): Promise<void> {
  const alive = pids.filter((pid): pid is number => pid !== null && processAlive(pid));
  for (const pid of alive) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.some(processAlive) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, EXIT_CHECK_MS));
  }
  for (const pid of alive) if (processAlive(pid)) signal(pid, 'SIGKILL');
}

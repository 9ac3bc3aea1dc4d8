import { readdirSync, readFileSync } from 'node:fs';
import { startTimeOf } from './process-identity';

/** A process as /proc knows it: its start time tells it apart from a later process given the same pid. */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

/** Direct children: each thread has its own list (a nanny forks from a helper thread). */
function children(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap(thread => {
    try {
      return readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

/** Every process below `pid` now, children first; none where /proc cannot say. */
export function descendants(pid: number): ProcessIdentity[] {
  const found: ProcessIdentity[] = [];
  const seen = new Set<number>([pid]);
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children(queue.shift() as number)) {
      if (seen.has(child)) continue;
      seen.add(child);
      const started = startTimeOf(child);
      if (started !== null) found.push({ pid: child, startTime: started });
      queue.push(child);
    }
  }
  return found;
}

/** SIGKILLs those of `processes` still running (the same process: pid and start time). */
export function killSurvivors(processes: ProcessIdentity[]): void {
  for (const { pid, startTime: started } of processes) {
    if (startTimeOf(pid) !== started) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

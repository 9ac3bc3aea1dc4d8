import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** What the files under a directory take on disk, as du counts (allocated blocks). */
export interface DirectoryUsage {
  bytes: number;
  /** False when the walk stopped at its time budget: `bytes` is then a lower bound. */
  complete: boolean;
}

/** A sidebar poll must stay quick: a walk of the job's directory stops after this long. */
export const USAGE_BUDGET_MS = 250;

/**
 * The disk the files under `path` take (blocks × 512, hard links once), walked within
 * `budgetMs`. On Gadi the job's jobfs is a directory of a disk other jobs share: statfs gives
 * the disk, only this walk gives the job's own use. Null when `path` cannot be read.
 */
export function directoryUsage(path: string, budgetMs = USAGE_BUDGET_MS, now: () => number = Date.now): DirectoryUsage | null {
  const deadline = now() + budgetMs;
  const seen = new Set<string>();
  let bytes = 0;
  const pending: string[] = [path];
  try {
    bytes += lstatSync(path).blocks * 512;
  } catch {
    return null;
  }
  while (pending.length > 0) {
    if (now() > deadline) return { bytes, complete: false };
    const directory = pending.pop() as string;
    let entries;
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch {
      continue; // another user's or a vanished directory: what can be read still counts
    }
    for (const entry of entries) {
      const full = join(directory, entry.name);
      try {
        const stats = lstatSync(full);
        if (stats.nlink > 1 && !stats.isDirectory()) {
          const key = `${stats.dev}:${stats.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        bytes += stats.blocks * 512;
        if (stats.isDirectory()) pending.push(full);
      } catch {
        // removed while walking (spill files come and go)
      }
    }
  }
  return { bytes, complete: true };
}

import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatBytes } from '../../common/format';
import { checkPrivateRoot } from '../state/private-directory';
import { removeTree } from '../state/state-store';

/** Below this, a worker's first spill would fail: refuse at start, not in the middle of a computation. */
const MIN_FREE_SPILL_BYTES = 64 * 2 ** 20;

/** Makes a cluster's own directory (temp, spill, logs), private, writable and with room to spill. */
export function makeLocalDirectory(directory: string): void {
  let free: number;
  checkPrivateRoot(dirname(directory), true); // before anything is made in it
  try {
    mkdirSync(directory, { mode: 0o700 }); // a fresh id: a directory already there was not made by us
    writeFileSync(join(directory, '.writable'), ''); // a read-only jobfs fails here, before any spawn
    const { bavail, bsize } = statfsSync(directory);
    free = bavail * bsize;
  } catch (error) {
    removeTree(directory);
    throw new Error(`cannot use ${directory} for temp and spill: ${(error as Error).message}`);
  }
  if (free < MIN_FREE_SPILL_BYTES) {
    removeTree(directory);
    throw new Error(
      `the job filesystem under ${directory} has ${formatBytes(free)} free: workers need room to spill (at least ${formatBytes(MIN_FREE_SPILL_BYTES)}); free some, or ask for more (-l jobfs, --tmp)`
    );
  }
}

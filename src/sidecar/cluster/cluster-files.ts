import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from '../state/state-store';

/** What a cluster writes in its directory besides its workers' files (named after the cluster). */
const CLUSTER_ENTRIES = new Set(['scheduler.json', 'scheduler.log', 'dask-scratch-space', '.writable']);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes what the cluster and its Dask processes wrote in its directory, and the directory
 * if nothing else is left. Anything else there is the user's: setup_dask_client returns this
 * directory for files such as a Rechunker temp_store (seed 000), and those stay.
 */
export function removeClusterFiles(directory: string, clusterName: string): void {
  // Worker processes' logs and worker jobs' directories: NAME-3, NAME-3.log, NAME-job-0.
  const unitEntry = new RegExp(`^${escapeRegExp(clusterName)}-(?:job-)?\\d+(?:\\.log)?$`);
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return; // never made, or already gone
  }
  for (const entry of entries) if (CLUSTER_ENTRIES.has(entry) || unitEntry.test(entry)) removeTree(join(directory, entry));
  try {
    rmdirSync(directory);
  } catch {
    // Not empty: the user's files are there.
  }
}

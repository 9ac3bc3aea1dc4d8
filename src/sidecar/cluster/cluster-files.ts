import { mkdirSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { removeTree } from '../state/state-store';

/** What a cluster writes in its directory besides its workers' files (named after the cluster). */
const CLUSTER_ENTRIES = new Set(['scheduler.json', 'scheduler.log', 'dask-scratch-space', '.writable']);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The entries of the cluster's directory that the cluster and its Dask processes wrote. */
function clusterEntries(directory: string, clusterName: string): string[] {
  // Worker processes' logs and worker jobs' directories: NAME-3, NAME-3.log, NAME-job-0.
  const unitEntry = new RegExp(`^${escapeRegExp(clusterName)}-(?:job-)?\\d+(?:\\.log)?$`);
  try {
    return readdirSync(directory).filter(entry => CLUSTER_ENTRIES.has(entry) || unitEntry.test(entry));
  } catch {
    return []; // never made, or already gone
  }
}

function removeIfEmpty(directory: string): void {
  try {
    rmdirSync(directory);
  } catch {
    // Not empty: the user's files are there.
  }
}

/**
 * Removes what the cluster and its Dask processes wrote in its directory, and the directory
 * if nothing else is left. Anything else there is the user's: setup_dask_client returns this
 * directory for files such as a Rechunker temp_store (seed 000), and those stay.
 */
export function removeClusterFiles(directory: string, clusterName: string): void {
  for (const entry of clusterEntries(directory, clusterName)) removeTree(join(directory, entry));
  removeIfEmpty(directory);
  removeTree(setAsidePath(directory));
}

/** Where a stopping cluster's files wait for its processes to end: beside its directory, hidden. */
function setAsidePath(directory: string): string {
  return join(dirname(directory), `.${basename(directory)}.stopping`);
}

/**
 * A stopping cluster's files leave its directory at once (renamed, so its processes, still
 * ending, keep their open files) for a hidden directory beside it that removeClusterFiles
 * removes once they have ended: the user's directory holds only the user's files from the
 * moment the stop is committed. What cannot be moved is removed with the rest, later.
 */
export function setClusterFilesAside(directory: string, clusterName: string): void {
  const entries = clusterEntries(directory, clusterName);
  if (entries.length === 0) return;
  const aside = setAsidePath(directory);
  try {
    mkdirSync(aside, { mode: 0o700 });
  } catch {
    return;
  }
  for (const entry of entries) {
    try {
      renameSync(join(directory, entry), join(aside, entry));
    } catch {
      // Left where it is; removeClusterFiles takes it.
    }
  }
  removeIfEmpty(directory);
}

import type { Resources } from '../../common/protocol';
import { formatBytes } from '../../common/format';
import { MiB } from './units';

/**
 * Kept out of the spill room for everything else the cluster writes there: logs, Dask's lock
 * and scheduler files, and the tasks' own temporary files (TMPDIR points at the cluster's
 * directory). 256 MiB covers a long run's logs and a few temp files on a small request; 10%
 * keeps room in proportion on a large one, where a user's temp files grow with the data.
 */
export const SPILL_MARGIN_MIN_BYTES = 256 * MiB;
export const SPILL_MARGIN_FRACTION = 0.1;

/** A worker's cap on its spill files, and why it is what it is. */
export interface SpillCap {
  /**
   * `distributed.worker.memory.max-spill` in bytes, or null to leave Dask's default (`false`:
   * no limit). distributed's `spill.Slow.__setitem__` refuses a key when the bytes already on
   * disk plus its pickled size pass the cap (MaxSpillExceeded): the key stays in memory, so
   * memory then rises to the pause threshold (the worker pauses) instead of the disk filling.
   * 0 refuses every key: spill off.
   */
  max_spill_bytes: number | null;
  /** Where the figure came from, for the plan. */
  source: string;
  warning: string | null;
}

/** The margin left for the cluster's other files out of a jobfs request of `requestBytes`. */
export function spillMarginBytes(requestBytes: number): number {
  return Math.max(SPILL_MARGIN_MIN_BYTES, Math.ceil(SPILL_MARGIN_FRACTION * requestBytes));
}

/**
 * This node's part of the job's jobfs request: PBS's `jobfs` is the job's, which Gadi spreads
 * evenly over its nodes; Slurm's MinTmpDiskNode (--tmp) is already per node.
 */
export function jobfsRequestOfNode(resources: Resources): number | null {
  const request = resources.job?.jobfs_request_bytes ?? null;
  if (request === null || !Number.isFinite(request) || request <= 0) return null;
  const nodes = resources.batch_system === 'pbs' ? Math.max(1, resources.node_count) : 1;
  return Math.floor(request / nodes);
}

/**
 * A worker's spill cap: its share of the job's memory, applied to the node's jobfs room. Launch,
 * scale and adapt never give the workers on this node (of every cluster) more memory than the
 * job has (node-share.ts), so their caps together stay within the room at any scale; only an
 * `overcommit` request can pass it.
 */
export function spillCap(resources: Resources, memoryLimitBytes: number, jobMemoryBytes: number): SpillCap {
  const request = jobfsRequestOfNode(resources);
  if (request === null) {
    return { max_spill_bytes: null, source: "no jobfs request known; Dask's default max-spill, false", warning: null };
  }
  const nodes = resources.batch_system === 'pbs' && resources.node_count > 1 ? ` (its share of ${resources.node_count} nodes)` : '';
  const margin = spillMarginBytes(request);
  const room = request - margin;
  const share = Math.min(1, memoryLimitBytes / Math.max(1, jobMemoryBytes));
  const cap = room > 0 ? Math.floor(room * share) : 0;
  const source =
    `jobfs request ${formatBytes(request)}${nodes} − ${formatBytes(margin)} margin, ` +
    `× ${(share * 100).toFixed(1)}% (this worker's share of the job's ${formatBytes(jobMemoryBytes)})`;
  if (cap < MiB) {
    return {
      max_spill_bytes: 0,
      source,
      warning:
        `The jobfs request (${formatBytes(request)}) leaves no room to spill after the ${formatBytes(margin)} kept for logs and temp files: ` +
        'spill is off, and workers pause when their memory is full. Ask for more jobfs (-l jobfs, --tmp).'
    };
  }
  return { max_spill_bytes: cap, source, warning: null };
}

import { formatBytes } from '../common/format';
import type { Resources } from '../common/protocol';

/** The bar warns from this share of the request: a Gadi job whose jobfs passes it is killed. */
export const JOBFS_WARNING_FRACTION = 0.8;

/** The job filesystem's bar against the job's request: its figures, and a warning near the end. */
export interface JobfsAgainstRequest {
  used: number;
  total: number;
  text: string;
  warning: string | null;
}

/** Null where the request or the job directory's use is unknown: the bar is then the disk's, as before. */
export function jobfsAgainstRequest(resources: Resources): JobfsAgainstRequest | null {
  const request = resources.jobfs_request_node_bytes ?? null;
  const used = resources.jobfs_used_bytes ?? null;
  if (request === null || used === null || request <= 0) return null;
  const atLeast = resources.jobfs_used_complete === false ? 'at least ' : '';
  const share = used / request;
  const warning =
    share >= JOBFS_WARNING_FRACTION
      ? `The job filesystem is ${Math.floor(share * 100)}% used of the job's request: a job that passes its jobfs request is killed. ` +
        "Shut down a cluster you no longer need (its spill files go with it) or remove files from the job's jobfs."
      : null;
  return { used, total: request, text: `${atLeast}${formatBytes(used)} used of ${formatBytes(request)} requested`, warning };
}

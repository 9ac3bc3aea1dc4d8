import type { Resources } from '../../common/protocol';
import { directoryUsage } from './directory-usage';
import { jobfsRequestOfNode } from './spill-cap';

/** The variables that name a directory of the job's own (made for the job, removed after it). */
const JOB_OWN_DIRECTORIES = ['PBS_JOBFS', 'SLURM_TMPDIR'];

/**
 * The node's resources with the job's jobfs request on this node and, where one is known, what
 * the job's own jobfs directory takes now: the sidebar's bar is use against the request, since
 * on Gadi a job whose jobfs passes its request is killed, whatever the disk has free.
 */
export function withJobfsUse(
  resources: Resources,
  measure: (path: string) => ReturnType<typeof directoryUsage> = directoryUsage
): Resources {
  const requestOnNode = jobfsRequestOfNode(resources);
  const own = resources.jobfs !== null && JOB_OWN_DIRECTORIES.includes(resources.sources.jobfs);
  const usage = requestOnNode !== null && own ? measure(resources.jobfs as string) : null;
  return {
    ...resources,
    jobfs_request_node_bytes: requestOnNode,
    jobfs_used_bytes: usage?.bytes ?? null,
    jobfs_used_complete: usage?.complete ?? null
  };
}

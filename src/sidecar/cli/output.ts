import type { Plan } from '../../common/protocol';
import { describeSpillCap, describeTopology, formatBytes } from '../../common/format';
import { jobfsRequestOfNode, spillMarginBytes } from '../node/spill-cap';
import type { JobRequest, Resources } from '../../common/protocol';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** "project a00, queue normal, storage scratch/a00, walltime 3600 s (ends …), jobfs 100 GiB": what the batch system said. */
function describeJobRequest(job: JobRequest): string {
  const parts = [
    job.project && `project ${job.project}`,
    job.queue && `queue ${job.queue}`,
    job.storage && `storage ${job.storage}`,
    job.walltime_seconds !== null && `walltime ${job.walltime_seconds} s${job.ends_at ? ` (ends ${job.ends_at})` : ''}`,
    job.jobfs_request_bytes !== null && `jobfs ${formatBytes(job.jobfs_request_bytes)}`
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'unknown';
}

/** `detect`: the node's resources, for people or as JSON. */
export function printResources(resources: Resources, json: boolean | undefined): void {
  if (json) return printJson(resources);
  const lines = [
    `batch system  ${resources.batch_system}${resources.job_id ? ` (job ${resources.job_id})` : ''}`,
    `cores         ${resources.cores}  from ${resources.sources.cores}`,
    `memory        ${formatBytes(resources.memory_bytes)}  from ${resources.sources.memory}`,
    `jobfs         ${resources.jobfs ?? '(none: /tmp)'}  from ${resources.sources.jobfs}`,
    ...(resources.job ? [`job request   ${describeJobRequest(resources.job)}`] : []),
    ...spillRoomLines(resources),
    ...resources.warnings.map(warning => `warning: ${warning}`)
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** The jobfs room this node's workers share for spill, where the job's request is known. */
function spillRoomLines(resources: Resources): string[] {
  const request = jobfsRequestOfNode(resources);
  if (request === null) return [];
  const margin = spillMarginBytes(request);
  const used = resources.jobfs_used_bytes;
  return [
    ...(used != null
      ? [`jobfs used    ${resources.jobfs_used_complete ? '' : 'at least '}${formatBytes(used)} of ${formatBytes(request)} requested`]
      : []),
    `spill room    ${formatBytes(Math.max(0, request - margin))}  (jobfs request ${formatBytes(request)} on this node − ${formatBytes(margin)} margin)`
  ];
}

/** `plan`: the plan, for people or as JSON. */
export function printPlan(plan: Plan, json: boolean | undefined): void {
  if (json) return printJson(plan);
  const lines = [
    `${describeTopology(plan.n_workers, plan.threads_per_worker)} (${plan.workload})`,
    `memory per worker  ${formatBytes(plan.memory_limit_bytes)}  (reserve ${formatBytes(plan.reserve_bytes)})`,
    `spill and temp     ${plan.local_directory}/<cluster id>`,
    `spill cap          ${describeSpillCap(plan.max_spill_bytes)}${plan.max_spill_source ? `  (${plan.max_spill_source})` : ''}`,
    `chunks             about ${formatBytes(plan.recommended_chunk_bytes)}`,
    ...plan.warnings.map(warning => `warning: ${warning}`)
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

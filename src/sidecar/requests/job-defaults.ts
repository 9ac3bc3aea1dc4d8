import type { JobDefault, Resources } from '../../common/protocol';

type Body = Record<string, unknown>;

/** What this node's job is: its batch system and its request (detect's `job`). */
export type JobHere = Pick<Resources, 'batch_system' | 'job'>;

/**
 * The worker-job fields left out that the job this runs in already has: its project, queue and
 * storage, so a user inside a Gadi job need not type them again. Only for worker jobs of the same
 * batch system; a value given wins; storage only for Gadi's dialect (the only one with it).
 * A job's value that would not pass the request's own check is not taken (the user never typed it).
 */
export function jobDefaults(
  body: Body,
  here: JobHere | null,
  accepts: (field: JobDefault['field'], value: string) => boolean
): JobDefault[] {
  const job = here?.job;
  if (!job || here.batch_system !== body.system) return [];
  // The form sends what it prefilled from the job: a value equal to the job's is the job's too.
  const given = (field: string, value: string) =>
    body[field] !== undefined && body[field] !== null && body[field] !== '' && body[field] !== value;
  const candidates: [JobDefault['field'], string | null][] = [
    ['account', job.project],
    ['queue', job.queue]
  ];
  if (body.system === 'pbs' && (body.dialect ?? 'gadi') === 'gadi') candidates.push(['storage', job.storage]);
  return candidates
    .filter(
      (entry): entry is [JobDefault['field'], string] => entry[1] !== null && !given(entry[0], entry[1]) && accepts(entry[0], entry[1])
    )
    .map(([field, value]) => ({ field, value, job_id: job.id }));
}

const WORDS: Record<JobDefault['field'], string> = { account: 'project', queue: 'queue', storage: 'storage' };

/** "# project a00 (from this job, 12.gadi-pbs)": the script says where each value it was not given came from. */
export function jobDefaultComments(defaults: JobDefault[] | undefined): string[] {
  return (defaults ?? []).map(({ field, value, job_id }) => `# ${WORDS[field]} ${value} (from this job, ${job_id})`);
}

import type { JobDefault, Resources } from '../../common/protocol';
import { formatDuration, walltimeLeft } from '../../common/session-end';
import { InputError } from '../errors';

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

/**
 * A worker job's walltime when none is given, inside a job whose end is known: the time that job
 * has left (whole minutes), since a worker job that outlives the session's scheduler only idles
 * on the allocation. Any batch system's worker jobs; a walltime given wins (the user can ask for more).
 * Under the 5-minute floor left: an InputError that says so, and how to ask anyway.
 */
export function walltimeFromJob(body: Body, here: JobHere | null, nowMs: number): JobDefault | null {
  const job = here?.job;
  if (!job || (body.walltime !== undefined && body.walltime !== null && body.walltime !== '')) return null;
  const left = walltimeLeft(job.ends_at, nowMs);
  if (left === null) return null;
  if ('too_short' in left) {
    throw new InputError(
      'worker_jobs.walltime',
      `this job (${job.id}) ends in ${formatDuration(left.too_short)}, at ${job.ends_at}: a worker job needs at least 00:05:00; ` +
        'give a walltime (worker_jobs.walltime) to submit one anyway'
    );
  }
  return { field: 'walltime', value: left.walltime, job_id: job.id };
}

const WORDS: Record<JobDefault['field'], string> = { account: 'project', queue: 'queue', storage: 'storage', walltime: 'walltime' };

/** "# project a00 (from this job, 12.gadi-pbs)": the script says where each value it was not given came from. */
export function jobDefaultComments(defaults: JobDefault[] | undefined): string[] {
  return (defaults ?? []).map(({ field, value, job_id }) =>
    field === 'walltime'
      ? `# walltime ${value} (the time this job, ${job_id}, has left)`
      : `# ${WORDS[field]} ${value} (from this job, ${job_id})`
  );
}

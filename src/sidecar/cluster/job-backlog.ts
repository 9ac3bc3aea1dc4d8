import type { JobReplaced } from '../../common/protocol';
import { startInParallel } from './placement';

/** A job to submit: a new one, or one in place of a job that ended. */
export type PendingJob = JobReplaced | null;

/**
 * The jobs a cluster means to have but holds back while `maxQueued` of its jobs already wait
 * in the queue: sites limit how many jobs a user may have queued, and a cluster that asks for
 * 64 jobs at once would take them all (and a colleague's share of the queue) for hours.
 */
export class JobBacklog {
  private readonly waiting: PendingJob[] = [];
  /** Submissions under way: they count toward the queue until the batch system has them. */
  private submitting = 0;

  constructor(
    readonly maxQueued: number,
    private readonly queuedNow: () => number,
    private readonly submit: (job: PendingJob) => Promise<void>,
    private readonly onChange: () => void
  ) {}

  /** Jobs waiting to be submitted. */
  get size(): number {
    return this.waiting.length;
  }

  /** Adds jobs to submit; resolves once those the cap lets go now are submitted. */
  add(jobs: PendingJob[]): Promise<void> {
    this.waiting.push(...jobs);
    return this.release();
  }

  /** Takes back up to `count` jobs not yet submitted, the newest first; returns how many. */
  drop(count: number): number {
    const dropped = this.waiting.splice(Math.max(0, this.waiting.length - count)).length;
    if (dropped) this.onChange();
    return dropped;
  }

  /** Submits as many waiting jobs as the cap allows now: call when a queued job starts or ends. */
  release(): Promise<void> {
    const room = Math.max(0, this.maxQueued - this.queuedNow() - this.submitting);
    const jobs = this.waiting.splice(0, room);
    this.onChange();
    if (!jobs.length) return Promise.resolve();
    this.submitting += jobs.length;
    let next = 0;
    return startInParallel(jobs.length, () => this.submit(jobs[next++]).finally(() => (this.submitting -= 1)));
  }

  clear(): void {
    this.waiting.length = 0;
  }
}

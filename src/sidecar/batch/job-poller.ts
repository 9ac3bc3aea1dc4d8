import type { BatchCommands } from './batch-commands';
import type { WorkerJob } from './worker-job';
import { FINISHED } from './job-states';

/**
 * How often the batch system is asked. Sites ask users not to poll their batch server every
 * few seconds for hours, and the scheduler already says when a job's workers arrive or
 * leave: the batch system is asked often only about a job that needs watching.
 */
export interface PollRates {
  /** While a job needs watching: submitted or lost workers within `watchMs`. */
  activeMs: number;
  /** Otherwise: every job's workers are in the scheduler, or a job has waited in the queue for long. */
  settledMs: number;
  /** How long a job is watched closely after it was submitted or lost workers. */
  watchMs: number;
  /** A wake-up waits this long, so that the workers of one job leaving make one question. */
  wakeMs: number;
}

export const DEFAULT_POLL_RATES: PollRates = { activeMs: 2000, settledMs: 30000, watchMs: 120000, wakeMs: 250 };

interface Tracked {
  onChange: (job: WorkerJob) => void;
  /** Every worker of the job is in the scheduler. */
  settled: boolean;
  /** When the job was submitted or last lost workers (performance.now()). */
  watchedSince: number;
}

/**
 * Asks the batch system about the jobs of every cluster this process owns on it, in one
 * question per poll: the batch system has no events to wait on, so this is the one place that polls.
 */
export class JobPoller {
  private readonly jobs = new Map<WorkerJob, Tracked>();
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private refreshing: Promise<void> | null = null;
  /** Jobs asked to be cancelled in this turn of the event loop: one qdel/scancel for all of them. */
  private cancelling: { jobIds: string[]; sent: Promise<void> } | null = null;

  constructor(
    readonly commands: BatchCommands,
    private readonly rates: PollRates = DEFAULT_POLL_RATES
  ) {}

  track(job: WorkerJob, onChange: (job: WorkerJob) => void): void {
    this.jobs.set(job, { onChange, settled: false, watchedSince: performance.now() });
    job.onFinished(() => this.forget(job));
    this.schedule();
  }

  /** Stops asking about a job (its cluster has gone). */
  forget(job: WorkerJob): void {
    this.jobs.delete(job);
    if (this.jobs.size === 0) this.stop();
  }

  /**
   * What the scheduler says of a job's workers. A job that loses some is asked about at once
   * (it may have ended: qdel, a node lost) and then watched closely again.
   */
  setSettled(job: WorkerJob, settled: boolean): void {
    const tracked = this.jobs.get(job);
    if (!tracked || tracked.settled === settled) return;
    const lostWorkers = tracked.settled && !settled;
    tracked.settled = settled;
    if (lostWorkers) {
      tracked.watchedSince = performance.now();
      this.wake();
    }
  }

  /** Asks soon, whatever the rate: something the scheduler saw says a job's state has changed. */
  wake(): void {
    this.schedule(this.rates.wakeMs);
  }

  /**
   * Cancels `job` together with every other job cancelled in the same turn (a teardown ends
   * all units at once): one batch command for all, as the batch server prefers.
   */
  cancel(job: WorkerJob): Promise<void> {
    if (!this.cancelling) {
      const batch: { jobIds: string[]; sent: Promise<void> } = { jobIds: [], sent: Promise.resolve() };
      batch.sent = new Promise<void>(resolve => setImmediate(resolve)).then(() => {
        this.cancelling = null;
        return this.commands.cancel(batch.jobIds);
      });
      this.cancelling = batch;
    }
    this.cancelling.jobIds.push(job.jobId);
    return this.cancelling.sent;
  }

  /** One question to the batch system about every tracked job; concurrent callers share it. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const jobs = [...this.jobs];
        if (!jobs.length) return;
        const states = await this.commands.states(jobs.map(([job]) => job.jobId));
        for (const [job, { onChange }] of jobs) {
          if (job.update(states.get(job.jobId) ?? FINISHED)) onChange(job);
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** The time until the next question: short while any job needs watching. */
  interval(now = performance.now()): number {
    const watching = [...this.jobs.values()].some(t => !t.settled && now - t.watchedSince < this.rates.watchMs);
    return watching ? this.rates.activeMs : this.rates.settledMs;
  }

  /** Asks in `delay` ms, or at the poll rate; an earlier question already due stands. */
  private schedule(delay = this.interval()): void {
    if (this.jobs.size === 0) return;
    const at = performance.now() + delay;
    if (this.timer && this.dueAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dueAt = Infinity;
      // A batch system that does not answer now may answer next time; the card keeps the last state.
      void this.refresh()
        .catch(() => undefined)
        .finally(() => this.schedule());
    }, delay);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = Infinity;
  }
}

import { existsSync, readFileSync } from 'node:fs';
import type { JobState } from '../../common/protocol';
import type { OwnedProcess } from '../process/owned-process';
import type { BatchCommands } from './batch-commands';

const TAIL_LINES = 30;
const CANCEL_WAIT_MS = 30000;

/** One submitted worker job, as the cluster sees it: a unit that can end, be asked about, and be cancelled. */
export class WorkerJob implements OwnedProcess {
  readonly pid = null;
  state: JobState = 'queued';
  private readonly finishedListeners: (() => void)[] = [];

  constructor(
    readonly jobId: string,
    private readonly logFile: string,
    private readonly tracker: JobTracker
  ) {}

  get hasExited(): boolean {
    return this.state === 'finished';
  }

  tail(): string {
    if (!existsSync(this.logFile)) return `(job ${this.jobId} has written no output yet: ${this.logFile})`;
    return readFileSync(this.logFile, 'utf8').split('\n').slice(-TAIL_LINES).join('\n');
  }

  onFinished(listener: () => void): void {
    this.finishedListeners.push(listener);
  }

  /** Called by the tracker with what the batch system says. */
  update(state: JobState): boolean {
    if (state === this.state || this.state === 'finished') return false;
    this.state = state;
    if (state === 'finished') for (const listener of this.finishedListeners) listener();
    return true;
  }

  /** Cancels the job (qdel / scancel) and waits until the batch system has let it go. */
  async terminate(): Promise<void> {
    if (this.hasExited) return;
    await this.tracker.cancel(this);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (!this.hasExited && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 500));
      await this.tracker.refresh().catch(() => undefined);
    }
  }
}

/**
 * Asks the batch system about a cluster's jobs, every `pollMs` while any is unfinished: the
 * batch system has no events to wait on, so this is the one place that polls.
 */
export class JobTracker {
  private readonly jobs = new Set<WorkerJob>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  /** Jobs asked to be cancelled in this turn of the event loop: one qdel/scancel for all of them. */
  private cancelling: { jobIds: string[]; sent: Promise<void> } | null = null;

  constructor(
    readonly commands: BatchCommands,
    private readonly pollMs: number,
    private readonly onChange: (job: WorkerJob) => void
  ) {}

  track(job: WorkerJob): void {
    this.jobs.add(job);
    job.onFinished(() => this.jobs.delete(job));
    this.schedule();
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
        const states = await this.commands.states(jobs.map(job => job.jobId));
        for (const job of jobs) {
          if (job.update(states.get(job.jobId) ?? 'finished')) this.onChange(job);
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private schedule(): void {
    if (this.timer || this.jobs.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // A batch system that does not answer now may answer next time; the card keeps the last state.
      void this.refresh()
        .catch(() => undefined)
        .finally(() => this.schedule());
    }, this.pollMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

import { existsSync, readFileSync } from 'node:fs';
import type { JobState } from '../../common/protocol';
import type { OwnedProcess } from '../process/owned-process';
import type { JobPoller } from './job-poller';
import type { JobStatus } from './job-states';

const TAIL_LINES = 30;
const CANCEL_WAIT_MS = 30000;
/** How often a cancelled job is asked about until it has gone: a teardown waits on this. */
const CANCEL_POLL_MS = 200;

/** One submitted worker job, as the cluster sees it: a unit that can end, be asked about, and be cancelled. */
export class WorkerJob implements OwnedProcess {
  readonly pid = null;
  state: JobState = 'queued';
  /** Why the batch system keeps it queued, in its words; null once it runs. */
  reason: string | null = null;
  private readonly finishedListeners: (() => void)[] = [];

  constructor(
    readonly jobId: string,
    private readonly logFile: string,
    private readonly poller: JobPoller
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

  /**
   * Called by the poller with what the batch system says; true if that changed. A new reason
   * counts while the job is queued (the card shows why it waits); a job that runs has none.
   */
  update({ state, reason }: JobStatus): boolean {
    if (this.state === 'finished') return false;
    const why = state === 'queued' ? reason : null;
    if (state === this.state && why === this.reason) return false;
    this.reason = why;
    if (state === this.state) return true;
    this.state = state;
    if (state === 'finished') for (const listener of this.finishedListeners) listener();
    return true;
  }

  /** Cancels the job (qdel / scancel) and waits until the batch system has let it go. */
  async terminate(): Promise<void> {
    if (this.hasExited) return;
    await this.poller.cancel(this);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (!this.hasExited && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, CANCEL_POLL_MS));
      await this.poller.refresh().catch(() => undefined);
    }
  }
}

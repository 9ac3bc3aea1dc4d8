import { processAlive } from '../state/state-store';

/** What a cluster needs of one of its processes, whether it started it or adopted it. */
export interface OwnedProcess {
  readonly pid: number | null;
  readonly hasExited: boolean;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  terminate(): Promise<unknown>;
  /** The last lines it printed, where known. */
  tail(): string;
}

const KILL_GRACE_MS = 5000;
const EXIT_CHECK_MS = 100;

/**
 * A Dask process started by an earlier owner that has died (a restarted sidecar adopts its
 * clusters). It is not our child, so its exit cannot be awaited: terminate() checks for it.
 */
export class AdoptedProcess implements OwnedProcess {
  constructor(readonly pid: number | null) {}

  get hasExited(): boolean {
    return !processAlive(this.pid);
  }

  tail(): string {
    return '(adopted from an earlier owner: its output went to that owner)';
  }

  async terminate(): Promise<void> {
    if (this.pid === null) return;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(this.pid as number, name);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + KILL_GRACE_MS;
    while (!this.hasExited && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, EXIT_CHECK_MS));
    }
    if (!this.hasExited) signal('SIGKILL');
  }
}

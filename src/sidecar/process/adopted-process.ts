import { processAlive } from '../state/state-store';
import type { OwnedProcess } from './owned-process';
import { terminatePids } from './terminate';

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

  terminate(): Promise<void> {
    return terminatePids([this.pid]);
  }
}

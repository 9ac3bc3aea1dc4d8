import type { OwnedProcess } from './owned-process';
import { recordedProcessRuns } from './process-identity';
import { terminateRecorded } from './terminate';

/**
 * A Dask process started by an earlier owner that has died (a restarted sidecar adopts its
 * clusters). It is not our child, so its exit cannot be awaited: terminate() checks for it,
 * by its pid and the start time recorded with it.
 */
export class AdoptedProcess implements OwnedProcess {
  constructor(
    readonly pid: number | null,
    readonly startTime: number | null = null
  ) {}

  get hasExited(): boolean {
    return !recordedProcessRuns(this);
  }

  tail(): string {
    return '(adopted from an earlier owner: its output went to that owner)';
  }

  terminate(): Promise<void> {
    return terminateRecorded([this]);
  }
}

import type { AdaptiveRange, ClusterState } from '../../common/protocol';
import type { SchedulerConnection } from './cluster-spec';

/** Consecutive lower adaptive targets before workers are retired, as dask's Adaptive waits. */
const DOWNSCALE_PATIENCE = 3;
const INTERVAL_MS = 1000;

/** What adaptive scaling needs of its cluster. */
export interface AdaptiveCluster {
  readonly state: ClusterState;
  changed(): void;
  scheduler(): SchedulerConnection | null;
  /** The units that give at least `workers` workers. */
  unitsFor(workers: number): number;
  size(): number;
  scaleTo(units: number): Promise<void>;
}

/** Lets the scheduler's adaptive target choose a cluster's size, within a range. */
export class AdaptiveScaling {
  private timer: NodeJS.Timeout | null = null;
  private lowerCount = 0;

  constructor(private readonly cluster: AdaptiveCluster) {}

  start(range: AdaptiveRange): Promise<void> {
    this.stop();
    const { cluster } = this;
    cluster.state.adaptive = { ...range };
    cluster.changed();
    const clamp = (units: number) => Math.min(range.maximum, Math.max(range.minimum, units));
    const tick = async () => {
      try {
        const target = clamp(cluster.unitsFor(await (cluster.scheduler() as SchedulerConnection).adaptiveTarget()));
        const current = cluster.size();
        this.lowerCount = target < current ? this.lowerCount + 1 : 0;
        if (target > current || this.lowerCount >= DOWNSCALE_PATIENCE) {
          this.lowerCount = 0;
          await cluster.scaleTo(target);
        }
      } catch {
        // A scheduler busy or gone: the next tick or the exit handler deals with it.
      }
      if (cluster.state.adaptive) this.timer = setTimeout(tick, INTERVAL_MS);
    };
    // Start inside the range at once; the scheduler's target refines it.
    const start = cluster.scaleTo(clamp(cluster.size()));
    this.timer = setTimeout(tick, INTERVAL_MS);
    return start;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.cluster.state.adaptive) {
      this.cluster.state.adaptive = null;
      this.cluster.changed();
    }
  }
}

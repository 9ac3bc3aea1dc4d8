import type { Server } from 'node:http';
import { serveApi } from './api-server';
import type { ClusterState } from '../../common/protocol';
import { Engine, type ClusterRequest, type EngineOptions } from './engine';
import { StateStore } from '../state/state-store';

/** An engine's options; the owner brings the state store. */
export type OwnerOptions = Omit<EngineOptions, 'store'>;

/**
 * The role of a dask-hpc process that owns clusters (`serve`, `up`, `run`): its Engine (the
 * clusters), its state store and, when other processes must reach it, the API on its control
 * socket; it shuts all of them down on a signal. Ending it stops its clusters.
 */
export class ClusterOwner {
  readonly engine: Engine;
  private server: Server | null = null;

  constructor(
    readonly store: StateStore,
    options: OwnerOptions
  ) {
    this.engine = new Engine({ ...options, store });
  }

  async listen(): Promise<void> {
    const socket = this.engine.options.controlSocket;
    if (socket) this.server = await serveApi(this.engine, socket);
  }

  /** Starts a cluster and resolves when it runs; if it cannot, this owner shuts down and rethrows. */
  async startCluster(request: ClusterRequest): Promise<ClusterState> {
    try {
      return await this.engine.create(request).ready;
    } catch (error) {
      await this.shutdown();
      throw error;
    }
  }

  /** Stops every cluster (retire, terminate, kill), then the API. */
  async shutdown(): Promise<void> {
    await this.engine.stopAll();
    this.server?.close();
    this.server?.closeAllConnections();
  }

  /** SIGINT, SIGTERM and SIGHUP shut down cleanly once; then `onDone`. */
  shutdownOnSignals(onDone: (signal: NodeJS.Signals) => void): void {
    let shuttingDown = false;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (shuttingDown) return;
        shuttingDown = true;
        void this.shutdown().finally(() => onDone(signal));
      });
    }
  }
}

import type { Server } from 'node:http';
import { serveApi } from './api-server';
import type { ClusterState } from '../../common/protocol';
import { Engine, type ClusterRequest } from './engine';
import type { Environment } from '../node/detect';
import { StateStore } from '../state/state-store';

export interface OwnerOptions {
  env: Environment;
  root?: string;
  python: string;
  adoptionGraceSeconds: number;
  readyTimeoutMs: number;
  /** The control socket; null for a short-lived owner that no other process needs to reach. */
  controlSocket: string | null;
  baseUrl?: string | null;
}

/**
 * A dask-hpc process that owns clusters: its engine, its state store and, when other
 * processes must reach it (`up`, `serve`), its API on a unix socket. Ending it stops them all.
 */
export class Owner {
  readonly engine: Engine;
  private server: Server | null = null;

  constructor(readonly store: StateStore, options: OwnerOptions) {
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

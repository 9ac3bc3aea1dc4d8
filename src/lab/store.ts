import { Signal, type ISignal } from '@lumino/signaling';
import type { ClusterEvent, ClusterState, Resources } from '../common/protocol';
import { eventsUrl, requestAPI } from './api';

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 5000, 10000];

/**
 * The sidebar's view of the engine: the node's resources and the clusters, kept current by
 * the events WebSocket (pushed, no polling), which reconnects after a drop.
 */
export class ClusterStore {
  resources: Resources | null = null;
  resourcesError: string | null = null;
  connected = false;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly changedSignal = new Signal<this, void>(this);
  private readonly eventSignal = new Signal<this, ClusterEvent>(this);
  private readonly connectionSignal = new Signal<this, boolean>(this);
  private socket: WebSocket | null = null;
  private reconnects = 0;
  private disposed = false;

  get changed(): ISignal<this, void> {
    return this.changedSignal;
  }

  /** Each change of one cluster, as it comes (the snapshot after a reconnect included). */
  get clusterEvent(): ISignal<this, ClusterEvent> {
    return this.eventSignal;
  }

  /** The events socket opened (true) or closed (false): what happened in between was not seen. */
  get connectionChanged(): ISignal<this, boolean> {
    return this.connectionSignal;
  }

  get list(): ClusterState[] {
    return [...this.clusters.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  get(id: string): ClusterState | undefined {
    return this.clusters.get(id);
  }

  start(): void {
    void this.refreshResources();
    this.connect();
  }

  async refreshResources(): Promise<void> {
    try {
      this.resources = await requestAPI<Resources>('resources');
      this.resourcesError = null;
    } catch (error) {
      this.resourcesError = (error as Error).message;
    }
    this.changedSignal.emit();
  }

  /** A cluster as an API call answered it, ahead of its event. */
  update(cluster: ClusterState): void {
    if (cluster.status === 'stopped') this.clusters.delete(cluster.id);
    else this.clusters.set(cluster.id, cluster);
    this.eventSignal.emit({ type: 'cluster', cluster });
    this.changedSignal.emit();
  }

  private connect(): void {
    if (this.disposed) return;
    const socket = new WebSocket(eventsUrl());
    this.socket = socket;
    socket.onopen = () => {
      this.connected = true;
      this.reconnects = 0;
      this.clusters.clear(); // the server sends every cluster again on connect
      this.changedSignal.emit();
      this.connectionSignal.emit(true);
    };
    socket.onmessage = message => this.apply(JSON.parse(message.data) as ClusterEvent);
    socket.onclose = () => {
      this.connected = false;
      this.changedSignal.emit();
      this.connectionSignal.emit(false);
      const delay = RECONNECT_DELAYS_MS[Math.min(this.reconnects++, RECONNECT_DELAYS_MS.length - 1)];
      setTimeout(() => this.connect(), delay);
    };
  }

  private apply(event: ClusterEvent): void {
    if (event.type === 'cluster') this.update(event.cluster);
    else {
      this.clusters.delete(event.id);
      this.eventSignal.emit(event);
      this.changedSignal.emit();
    }
  }

  dispose(): void {
    this.disposed = true;
    this.socket?.close();
  }
}

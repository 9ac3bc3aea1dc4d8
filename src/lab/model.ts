import { Poll } from '@lumino/polling';
import { Signal, type ISignal } from '@lumino/signaling';
import type { ClusterEvent, ClusterMetrics, ClusterState, Plan, Resources } from '../common/protocol';

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 5000, 10000];
/** How often the card's figures and the node's free jobfs are read while the page is visible. */
export const REFRESH_INTERVAL_MS = 2000;

/** POST job-script: the script a worker job would run, and the plan of each job. */
export interface JobScriptPreview {
  script: string;
  plan: Plan;
}

/** The model's way to the server: the API helper and the events socket (fakes in tests). */
export interface Transport {
  request<T>(path: string, init?: RequestInit): Promise<T>;
  openEvents(): WebSocket;
}

const isLive = (cluster: ClusterState) => cluster.status === 'running' || cluster.status === 'scaling';

/**
 * The sidebar's one model: every server call (resources, plan, job script, launch, scale,
 * shut down, metrics) goes through it, and every change of what it knows emits `stateChanged`.
 * Clusters are pushed by the events WebSocket; figures are polled while the page is visible.
 */
export class DaskHpcModel {
  resources: Resources | null = null;
  resourcesError: string | null = null;
  connected = false;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly metricsById = new Map<string, ClusterMetrics>();
  private readonly stateChangedSignal = new Signal<this, void>(this);
  private readonly eventSignal = new Signal<this, ClusterEvent>(this);
  private readonly connectionSignal = new Signal<this, boolean>(this);
  private readonly poll: Poll;
  private socket: WebSocket | null = null;
  private reconnects = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  /** Counts what changed the list (answers, events, a reconnect): a read that saw one come is older. */
  private listChanges = 0;

  constructor(
    private readonly transport: Transport,
    refreshIntervalMs = REFRESH_INTERVAL_MS
  ) {
    this.poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: refreshIntervalMs, backoff: true, max: 30 * refreshIntervalMs },
      name: 'dask-hpc:figures',
      standby: 'when-hidden'
    });
  }

  get stateChanged(): ISignal<this, void> {
    return this.stateChangedSignal;
  }

  /** Each change of one cluster, as it comes (the snapshot after a reconnect included). */
  get clusterEvent(): ISignal<this, ClusterEvent> {
    return this.eventSignal;
  }

  /** The events socket opened (true) or closed (false): what happened in between was not seen. */
  get connectionChanged(): ISignal<this, boolean> {
    return this.connectionSignal;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The clusters, oldest first. */
  get list(): ClusterState[] {
    return [...this.clusters.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  get(id: string): ClusterState | undefined {
    return this.clusters.get(id);
  }

  /** The newest cluster that runs, for commands given no id. */
  get newestRunning(): ClusterState | undefined {
    return this.list.filter(isLive).pop();
  }

  /** The workers' figures as last read, while the cluster runs. */
  metrics(id: string): ClusterMetrics | null {
    const cluster = this.clusters.get(id);
    return cluster && isLive(cluster) ? (this.metricsById.get(id) ?? null) : null;
  }

  start(): void {
    this.connect();
    void this.poll.start();
  }

  /** Reads the node's resources, the clusters and the running clusters' figures once. */
  async refresh(): Promise<void> {
    const live = this.list.filter(isLive);
    const changesBefore = this.listChanges;
    const [resources, listed, ...figures] = await Promise.allSettled([
      this.transport.request<Resources>('resources'),
      this.transport.request<ClusterState[]>('clusters'),
      ...live.map(cluster => this.transport.request<ClusterMetrics>(`clusters/${encodeURIComponent(cluster.id)}/metrics`))
    ]);
    if (this.disposed) return;
    if (resources.status === 'fulfilled') [this.resources, this.resourcesError] = [resources.value, null];
    else this.resourcesError = (resources.reason as Error).message;
    figures.forEach((answer, index) => {
      // A failed read keeps the last figures: the card's status says why, through events.
      if (answer.status === 'fulfilled') this.metricsById.set(live[index].id, answer.value);
    });
    // Events keep the list; this read mends it when an answer or event was lost on the way,
    // unless one came while it was read (that one is newer).
    if (listed.status === 'fulfilled' && this.listChanges === changesBefore) this.mendList(listed.value);
    this.stateChangedSignal.emit();
    if (resources.status === 'rejected') throw resources.reason; // the poll backs off
  }

  /** One cluster as the server knows it now; null when the server has no such cluster (it stopped). */
  async fetchCluster(id: string): Promise<ClusterState | null> {
    try {
      return await this.transport.request<ClusterState>(`clusters/${encodeURIComponent(id)}`);
    } catch (error) {
      if ((error as { status?: number }).status === 404) return null;
      throw error;
    }
  }

  plan(body: unknown): Promise<Plan> {
    return this.post<Plan>('plan', body);
  }

  jobScript(body: unknown): Promise<JobScriptPreview> {
    return this.post<JobScriptPreview>('job-script', body);
  }

  async launch(body: unknown): Promise<ClusterState> {
    return this.update(await this.post<ClusterState>('clusters', body));
  }

  async scale(id: string, nWorkers: number): Promise<void> {
    await this.patch(id, { n_workers: nWorkers });
  }

  async adapt(id: string, minimum: number, maximum: number): Promise<void> {
    await this.patch(id, { adaptive: { minimum, maximum } });
  }

  async shutDown(id: string): Promise<void> {
    this.update(await this.transport.request<ClusterState>(`clusters/${encodeURIComponent(id)}`, { method: 'DELETE' }));
  }

  /** Takes the server's list where it differs from what the events said. */
  private mendList(listed: ClusterState[]): void {
    const ids = new Set(listed.map(cluster => cluster.id));
    for (const id of [...this.clusters.keys()]) if (!ids.has(id)) this.apply({ type: 'cluster-removed', id });
    for (const cluster of listed) {
      const known = this.clusters.get(cluster.id);
      if (!known || JSON.stringify(known) !== JSON.stringify(cluster)) this.update(cluster);
    }
  }

  /** A cluster as an API call answered it, ahead of its event. */
  private update(cluster: ClusterState): ClusterState {
    this.listChanges++;
    if (cluster.status === 'stopped') this.forget(cluster.id);
    else this.clusters.set(cluster.id, cluster);
    this.eventSignal.emit({ type: 'cluster', cluster });
    this.stateChangedSignal.emit();
    if (isLive(cluster) && !this.metricsById.has(cluster.id)) void this.poll.refresh(); // its figures now, not in 2 s
    return cluster;
  }

  private forget(id: string): void {
    this.clusters.delete(id);
    this.metricsById.delete(id);
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return this.transport.request<T>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  private async patch(id: string, body: unknown): Promise<void> {
    this.update(
      await this.transport.request<ClusterState>(`clusters/${encodeURIComponent(id)}`, { method: 'PATCH', body: JSON.stringify(body) })
    );
  }

  private connect(): void {
    if (this.disposed) return;
    const socket = this.transport.openEvents();
    this.socket = socket;
    socket.onopen = () => {
      this.connected = true;
      this.reconnects = 0;
      this.listChanges++;
      this.clusters.clear(); // the server sends every cluster again on connect
      this.stateChangedSignal.emit();
      this.connectionSignal.emit(true);
    };
    socket.onmessage = message => this.apply(JSON.parse(message.data) as ClusterEvent);
    socket.onclose = () => {
      if (this.disposed) return;
      this.connected = false;
      this.stateChangedSignal.emit();
      this.connectionSignal.emit(false);
      const delay = RECONNECT_DELAYS_MS[Math.min(this.reconnects++, RECONNECT_DELAYS_MS.length - 1)];
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
  }

  private apply(event: ClusterEvent): void {
    if (event.type === 'cluster') this.update(event.cluster);
    else {
      this.listChanges++;
      this.forget(event.id);
      this.eventSignal.emit(event);
      this.stateChangedSignal.emit();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.poll.dispose();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.close();
    Signal.clearData(this);
  }
}

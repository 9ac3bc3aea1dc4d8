import * as React from 'react';
import { describeTopology, formatBytes } from '../../common/format';
import type { ClusterMetrics, ClusterState } from '../../common/protocol';
import { requestAPI } from '../api';
import { DASHBOARD_PLOTS } from '../dashboard-url';
import { jobCounts } from '../worker-jobs';

export interface CardActions {
  scale(id: string, nWorkers: number): Promise<void>;
  adapt(id: string, minimum: number, maximum: number): Promise<void>;
  openDashboard(id: string, plot: string): void;
  insertSnippet(id: string): void;
  copyTunnel(id: string): void;
  shutdown(id: string): Promise<void>;
  /** Starts dragging the client code; dropped into a notebook it becomes a cell. */
  dragSnippet(id: string, dragImage: HTMLElement, clientX: number, clientY: number): void;
}

/** Pixels the pointer must move before a press on the card's header becomes a drag. */
const DRAG_THRESHOLD_PX = 5;

const METRICS_INTERVAL_MS = 2000;

/** A press on the header that moves far enough starts a drag of the client code. */
function startDragging(id: string, actions: CardActions) {
  return (down: React.MouseEvent<HTMLDivElement>) => {
    if (down.button !== 0) return;
    const header = down.currentTarget;
    const [startX, startY] = [down.clientX, down.clientY];
    const move = (event: MouseEvent) => {
      if (Math.abs(event.clientX - startX) + Math.abs(event.clientY - startY) < DRAG_THRESHOLD_PX) return;
      stop();
      const image = header.cloneNode(true) as HTMLElement;
      image.classList.add('jp-DaskHpc-drag-image');
      actions.dragSnippet(id, image, event.clientX, event.clientY);
    };
    const stop = () => {
      document.removeEventListener('mousemove', move);
      document.removeEventListener('mouseup', stop);
    };
    document.addEventListener('mousemove', move);
    document.addEventListener('mouseup', stop);
  };
}

/** The workers' memory and CPU, refreshed while the card is on a visible page and the cluster runs. */
function useMetrics(cluster: ClusterState): ClusterMetrics | null {
  const [metrics, setMetrics] = React.useState<ClusterMetrics | null>(null);
  const live = cluster.status === 'running' || cluster.status === 'scaling';
  React.useEffect(() => {
    if (!live) return;
    let current = true;
    const refresh = () => {
      if (document.visibilityState !== 'visible') return;
      requestAPI<ClusterMetrics>(`clusters/${cluster.id}/metrics`).then(
        answer => current && setMetrics(answer),
        () => undefined // the card's status says why, through events
      );
    };
    refresh();
    const timer = setInterval(refresh, METRICS_INTERVAL_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [cluster.id, live]);
  return live ? metrics : null;
}

/** Worker jobs on other nodes: how many wait in the queue, run, and have ended. */
function JobsLine({ cluster }: { cluster: ClusterState }): JSX.Element {
  const counts = jobCounts(cluster.workers);
  const system = cluster.worker_jobs?.system === 'slurm' ? 'Slurm' : 'PBS';
  return (
    <div className="jp-DaskHpc-muted" data-testid="dask-hpc-jobs">
      {system} jobs: {counts.queued} queued, {counts.running} running, {counts.finished} finished
    </div>
  );
}

/** One cluster, live: status, workers, and what a user does with it. */
export function ClusterCard({ cluster, actions }: { cluster: ClusterState; actions: CardActions }): JSX.Element {
  const [size, setSize] = React.useState(String(cluster.plan.n_workers));
  const [minimum, setMinimum] = React.useState('1');
  const [maximum, setMaximum] = React.useState(String(cluster.plan.n_workers));
  const [plot, setPlot] = React.useState('individual-task-stream');
  const [actionError, setActionError] = React.useState<string | null>(null);
  const running = cluster.workers.filter(w => w.status === 'running').length;
  const wanted = Math.max(cluster.workers.length, cluster.status === 'starting' ? cluster.plan.n_workers : 0);
  const restarts = cluster.workers.reduce((sum, w) => sum + w.restarts, 0);
  const live = cluster.status === 'running' || cluster.status === 'scaling';
  const metrics = useMetrics(cluster);
  const act = (work: () => Promise<void>) => () => {
    setActionError(null);
    work().catch(error => setActionError((error as Error).message));
  };
  return (
    <div className={`jp-DaskHpc-card jp-mod-${cluster.status}`} data-testid="dask-hpc-card" data-cluster-id={cluster.id} aria-label={`Cluster ${cluster.name}`}>
      <div className="jp-DaskHpc-card-header" title="Drag into a notebook to insert client code" onMouseDown={startDragging(cluster.id, actions)}>
        <span className="jp-DaskHpc-card-name">{cluster.name}</span>
        <span className="jp-DaskHpc-card-status" data-testid="dask-hpc-status">
          {cluster.status}
          {cluster.adaptive ? ` (adaptive ${cluster.adaptive.minimum}–${cluster.adaptive.maximum})` : ''}
        </span>
      </div>
      <div className="jp-DaskHpc-card-workers" data-testid="dask-hpc-workers">
        Workers {running}/{wanted}
      </div>
      {cluster.worker_jobs && <JobsLine cluster={cluster} />}
      <div className="jp-DaskHpc-bar" role="progressbar" aria-label="Workers running" aria-valuenow={running} aria-valuemin={0} aria-valuemax={wanted}>
        <div className="jp-DaskHpc-bar-fill" style={{ width: `${wanted ? (100 * running) / wanted : 0}%` }} />
      </div>
      {metrics && (
        <div className="jp-DaskHpc-metrics" data-testid="dask-hpc-metrics">
          <div className="jp-DaskHpc-resource-label">
            <span>Memory</span>
            <span className="jp-DaskHpc-resource-value">
              {formatBytes(metrics.memory_bytes)} of {formatBytes(metrics.memory_limit_bytes)}
              {metrics.spilled_bytes > 0 ? `, ${formatBytes(metrics.spilled_bytes)} spilled` : ''}
            </span>
          </div>
          <div className="jp-DaskHpc-bar" role="meter" aria-label="Worker memory" aria-valuenow={metrics.memory_bytes} aria-valuemin={0} aria-valuemax={metrics.memory_limit_bytes}>
            <div className="jp-DaskHpc-bar-fill" style={{ width: `${metrics.memory_limit_bytes ? Math.min(100, (100 * metrics.memory_bytes) / metrics.memory_limit_bytes) : 0}%` }} />
          </div>
          <div className="jp-DaskHpc-resource-label">
            <span>CPU</span>
            <span className="jp-DaskHpc-resource-value">{Math.round(metrics.cpu_percent)}%</span>
          </div>
        </div>
      )}
      <div className="jp-DaskHpc-muted">
        {describeTopology(cluster.workers.length, cluster.plan.threads_per_worker)}, {formatBytes(cluster.plan.memory_limit_bytes)} each
        {restarts > 0 ? `, ${restarts} worker restart${restarts === 1 ? '' : 's'}` : ''}
      </div>
      <div className="jp-DaskHpc-muted jp-DaskHpc-address">{cluster.scheduler_address ?? 'scheduler starting'}</div>
      {cluster.error && <pre className="jp-DaskHpc-error jp-DaskHpc-card-error">{cluster.error}</pre>}
      {actionError && <div className="jp-DaskHpc-error" role="alert">{actionError}</div>}
      {live && (
        <div className="jp-DaskHpc-card-actions">
          <div className="jp-DaskHpc-row">
            <button className="jp-mod-styled" onClick={() => actions.openDashboard(cluster.id, 'status')}>Dashboard</button>
            <button className="jp-mod-styled" onClick={() => actions.insertSnippet(cluster.id)}>Insert client code</button>
            <button className="jp-mod-styled" onClick={() => actions.copyTunnel(cluster.id)} title={cluster.tunnel_command ?? ''}>Copy SSH tunnel</button>
          </div>
          <div className="jp-DaskHpc-row">
            <select className="jp-mod-styled" aria-label="Dashboard plot" value={plot} onChange={e => setPlot(e.target.value)}>
              {DASHBOARD_PLOTS.map(([path, label]) => (
                <option key={path} value={path}>{label}</option>
              ))}
            </select>
            <button className="jp-mod-styled" onClick={() => actions.openDashboard(cluster.id, plot)}>Open plot</button>
          </div>
          <div className="jp-DaskHpc-row">
            <span className="jp-DaskHpc-row-label">Workers</span>
            <input className="jp-mod-styled" type="number" min="0" aria-label="Number of workers" value={size} onChange={e => setSize(e.target.value)} />
            <button className="jp-mod-styled" onClick={act(() => actions.scale(cluster.id, Number(size)))}>Scale</button>
          </div>
          <div className="jp-DaskHpc-row">
            <span className="jp-DaskHpc-row-label">Adaptive</span>
            <input className="jp-mod-styled" type="number" min="0" aria-label="Adaptive minimum" value={minimum} onChange={e => setMinimum(e.target.value)} />
            <span>to</span>
            <input className="jp-mod-styled" type="number" min="0" aria-label="Adaptive maximum" value={maximum} onChange={e => setMaximum(e.target.value)} />
            <button className="jp-mod-styled" onClick={act(() => actions.adapt(cluster.id, Number(minimum), Number(maximum)))}>Adapt</button>
          </div>
        </div>
      )}
      {cluster.status !== 'stopping' && (
        <button className="jp-mod-styled jp-mod-warn jp-DaskHpc-shutdown" onClick={act(() => actions.shutdown(cluster.id))}>
          Shut down
        </button>
      )}
    </div>
  );
}

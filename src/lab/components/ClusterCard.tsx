import { codeIcon, launchIcon, linkIcon, stopIcon, ToolbarButtonComponent } from '@jupyterlab/ui-components';
import * as React from 'react';
import { describeTopology, formatBytes } from '../../common/format';
import type { ClusterMetrics, ClusterState } from '../../common/protocol';
import { describeHeldBack, describeQueueReason, describeReplacement } from '../../common/job-notes';
import { countWorkers, formatWorkerCount, jobCounts, jobNodes } from '../../common/worker-count';
import { cpuCores } from '../cpu-share';
import { ClusterControls } from './ClusterControls';
import { Meter } from './Meter';
import { SessionEnd } from './SessionEnd';

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

/** A press on the header that moves far enough starts a drag of the client code. */
function startDragging(id: string, actions: CardActions) {
  return (down: React.MouseEvent<HTMLDivElement>) => {
    if (down.button !== 0 || (down.target as HTMLElement).closest('button')) return;
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

/** " of 2 hosts each" for jobs of several hosts. */
const hostsPerJob = (cluster: ClusterState) => {
  const nodes = cluster.worker_jobs ? jobNodes(cluster.worker_jobs) : 1;
  return nodes > 1 ? ` of ${nodes} hosts each` : '';
};

/** A line for each job that has something to say (a replacement, why it waits). */
const notes = (testId: string, texts: (string | null)[]) =>
  texts.map(
    (text, index) =>
      text && (
        <div key={index} data-testid={testId}>
          {text}
        </div>
      )
  );

/** Worker jobs on other nodes: how many wait in the queue, run, and have ended. */
function JobsLine({ cluster }: { cluster: ClusterState }): JSX.Element {
  const counts = jobCounts(cluster.workers);
  const system = cluster.worker_jobs?.system === 'slurm' ? 'Slurm' : 'PBS';
  return (
    <div className="jp-DaskHpc-muted" data-testid="dask-hpc-jobs">
      {system} jobs{hostsPerJob(cluster)}: {counts.queued} queued, {counts.running} running, {counts.finished} finished
      {describeHeldBack(cluster) && <div data-testid="dask-hpc-jobs-held-back">{describeHeldBack(cluster)}</div>}
      {notes('dask-hpc-job-replaced', cluster.workers.map(describeReplacement))}
      {/* The batch system's text, rendered as text: React escapes it. */}
      {notes('dask-hpc-job-queue-reason', cluster.workers.map(describeQueueReason))}
    </div>
  );
}

function Figures({ metrics, cores }: { metrics: ClusterMetrics; cores: number }): JSX.Element {
  const spilled = metrics.spilled_bytes > 0 ? `, ${formatBytes(metrics.spilled_bytes)} spilled` : '';
  // Dask's cpu_percent is top's: 100 is one core busy. Shown as a share of the cores the workers have.
  const share = Math.round(metrics.cpu_percent / cores);
  return (
    <div className="jp-DaskHpc-metrics" data-testid="dask-hpc-metrics">
      <Meter
        label="Memory"
        used={metrics.memory_bytes}
        total={metrics.memory_limit_bytes}
        text={`${formatBytes(metrics.memory_bytes)} of ${formatBytes(metrics.memory_limit_bytes)}${spilled}`}
      />
      <Meter label="CPU" used={metrics.cpu_percent} total={100 * cores} text={`${share}% of ${cores} core${cores === 1 ? '' : 's'}`} />
    </div>
  );
}

/** One cluster, live: a header with its actions, its workers and figures, and the rarer controls folded away. */
export function ClusterCard({
  cluster,
  metrics,
  actions,
  sessionEndsAt,
  jobCores
}: {
  cluster: ClusterState;
  metrics: ClusterMetrics | null;
  actions: CardActions;
  /** The end of the job this JupyterLab runs in: the cluster's scheduler stops with it. */
  sessionEndsAt?: string | null;
  /** The cores of the job this JupyterLab runs in: a local cluster's CPU is a share of them. */
  jobCores?: number | null;
}): JSX.Element {
  const [actionError, setActionError] = React.useState<string | null>(null);
  const count = countWorkers(cluster);
  const restarts = cluster.workers.reduce((sum, w) => sum + w.restarts, 0);
  const live = cluster.status === 'running' || cluster.status === 'scaling';
  const act = (work: () => Promise<void>) => {
    setActionError(null);
    work().catch(error => setActionError((error as Error).message));
  };
  const button = (tooltip: string, icon: typeof codeIcon, onClick: () => void, enabled = live) => (
    <ToolbarButtonComponent icon={icon} tooltip={tooltip} onClick={onClick} enabled={enabled} />
  );
  return (
    <div
      className={`jp-DaskHpc-card jp-mod-${cluster.status}`}
      data-testid="dask-hpc-card"
      data-cluster-id={cluster.id}
      aria-label={`Cluster ${cluster.name}`}
    >
      <div
        className="jp-DaskHpc-card-header"
        title="Drag into a notebook to insert client code"
        onMouseDown={startDragging(cluster.id, actions)}
      >
        <span className={`jp-DaskHpc-status-dot jp-mod-${cluster.status}`} aria-hidden="true" />
        <span className="jp-DaskHpc-card-title">
          <span className="jp-DaskHpc-card-name">{cluster.name}</span>
          <span className="jp-DaskHpc-card-status" data-testid="dask-hpc-status">
            {cluster.status}
            {cluster.adaptive ? ` (adaptive ${cluster.adaptive.minimum}–${cluster.adaptive.maximum})` : ''}
          </span>
        </span>
        <div className="jp-DaskHpc-card-toolbar" role="toolbar" aria-label={`Actions of ${cluster.name}`}>
          {button('Dashboard: open it in a tab', launchIcon, () => actions.openDashboard(cluster.id, 'status'))}
          {button('Insert client code below the active cell', codeIcon, () => actions.insertSnippet(cluster.id))}
          {button('Copy the SSH tunnel command for your laptop', linkIcon, () => actions.copyTunnel(cluster.id))}
          {button('Shut down this cluster', stopIcon, () => act(() => actions.shutdown(cluster.id)), cluster.status !== 'stopping')}
        </div>
      </div>
      <Meter
        label="Workers"
        used={count.running}
        total={count.planned}
        text={formatWorkerCount(count)}
        testId="dask-hpc-workers"
        role="progressbar"
      />
      {cluster.worker_jobs && <JobsLine cluster={cluster} />}
      {live && <SessionEnd endsAt={sessionEndsAt} testId="dask-hpc-card-session-end" />}
      {metrics && <Figures metrics={metrics} cores={cpuCores(cluster, metrics, jobCores)} />}
      <div className="jp-DaskHpc-muted jp-DaskHpc-card-detail" title={cluster.scheduler_address ?? ''}>
        {describeTopology(cluster.workers.length, cluster.plan.threads_per_worker)}, {formatBytes(cluster.plan.memory_limit_bytes)} each
        {restarts > 0 ? `, ${restarts} worker restart${restarts === 1 ? '' : 's'}` : ''}
      </div>
      <div className="jp-DaskHpc-muted jp-DaskHpc-address">{cluster.scheduler_address ?? 'scheduler starting'}</div>
      {cluster.error && <pre className="jp-DaskHpc-error jp-DaskHpc-card-error">{cluster.error}</pre>}
      {actionError && (
        <div className="jp-DaskHpc-error" role="alert">
          {actionError}
        </div>
      )}
      {live && <ClusterControls cluster={cluster} actions={actions} onError={setActionError} />}
    </div>
  );
}

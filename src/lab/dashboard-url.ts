import type { ClusterState } from '../common/protocol';

/** The dashboard's individual plots, each of which can open in its own tab. */
export const DASHBOARD_PLOTS: [string, string][] = [
  ['status', 'Status'],
  ['individual-task-stream', 'Task stream'],
  ['individual-progress', 'Progress'],
  ['individual-workers-memory', 'Worker memory'],
  ['individual-cpu', 'CPU'],
  ['individual-graph', 'Graph'],
  ['individual-memory-by-key', 'Memory by key']
];

/** What a dashboard tab shows; kept by the layout restorer so tabs come back after a reload. */
export interface DashboardTab {
  url: string;
  label: string;
}

/** The URL of one of a cluster's dashboard pages, through Jupyter's proxy (dashboard_url is a server path). */
export function dashboardTab(cluster: ClusterState, plot: string): DashboardTab {
  // A path on Jupyter's own origin under the sidecar ({base_url}proxy/PORT/status), so the frame is same-origin.
  const url = (cluster.dashboard_url ?? '').replace(/status$/, plot);
  const plotLabel = DASHBOARD_PLOTS.find(([p]) => p === plot)?.[1] ?? plot;
  return { url, label: `Dask ${plotLabel} · ${cluster.name}` };
}


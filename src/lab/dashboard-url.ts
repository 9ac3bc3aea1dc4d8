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

/**
 * What a dashboard tab is bound to, and all the layout restorer keeps: a cluster and a plot,
 * never a URL. A port outlives its cluster (another user may listen on it next), and the base
 * URL changes from session to session (ARE), so the URL is derived anew from the live cluster.
 */
export interface DashboardTab {
  clusterId: string;
  plot: string;
}

/** The statuses after which a cluster's dashboard port is no longer its own. */
const GONE: ReadonlySet<ClusterState['status']> = new Set(['stopping', 'stopped', 'failed']);

export function clusterGone(cluster: ClusterState): boolean {
  return GONE.has(cluster.status);
}

/**
 * The tab the `dask-hpc:open-dashboard` command's arguments name. A URL is refused: a tab
 * follows a cluster, and only the cluster says where its dashboard is.
 */
export function dashboardTabFromArgs(args: Record<string, unknown>, latestClusterId: () => string): DashboardTab {
  if (args.url !== undefined) {
    throw new Error(
      'dask-hpc:open-dashboard takes a cluster id ("id") and a plot ("plot"), not a URL: a dashboard tab follows its cluster.'
    );
  }
  if (args.id !== undefined && (typeof args.id !== 'string' || args.id === '')) {
    throw new Error(`dask-hpc:open-dashboard: "id" is a cluster id, not ${JSON.stringify(args.id)}.`);
  }
  const plot = args.plot ?? 'status';
  if (typeof plot !== 'string' || !DASHBOARD_PLOTS.some(([p]) => p === plot)) {
    const known = DASHBOARD_PLOTS.map(([p]) => p).join(', ');
    throw new Error(`dask-hpc:open-dashboard: "plot" is one of ${known}, not ${JSON.stringify(plot)}.`);
  }
  return { clusterId: (args.id as string | undefined) ?? latestClusterId(), plot };
}

export function dashboardLabel(tab: DashboardTab, clusterName: string | null): string {
  const plotLabel = DASHBOARD_PLOTS.find(([p]) => p === tab.plot)?.[1] ?? tab.plot;
  return `Dask ${plotLabel} · ${clusterName ?? tab.clusterId}`;
}

/**
 * Where the tab's frame loads the plot from: the server extension's route for the cluster
 * ({base_url}dask-hpc/dashboard/ID/PLOT, which finds the port from the live cluster and checks
 * its scheduler listens there), under the page's own base URL. Null when the cluster has no
 * dashboard of its own now (starting, or gone). dashboard_url is not used: it carries the base
 * URL of whichever process started the cluster (or no route at all, for the CLI).
 */
export function dashboardFrameUrl(cluster: ClusterState, plot: string, baseUrl: string): string | null {
  if (clusterGone(cluster) || !cluster.dashboard_address) return null;
  return `${baseUrl.replace(/\/*$/, '/')}dask-hpc/dashboard/${encodeURIComponent(cluster.id)}/${encodeURIComponent(plot)}`;
}

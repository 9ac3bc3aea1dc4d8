import type { ILabShell, ILayoutRestorer } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import type { ClusterEvent, ClusterState } from '../common/protocol';
import { DashboardView } from './dashboard';
import { clusterGone, dashboardFrameUrl, dashboardLabel, type DashboardTab } from './dashboard-url';
import type { DaskHpcModel } from './model';

export const STOPPED_MESSAGE =
  'This cluster has stopped: its dashboard is gone, so nothing is loaded here. Open the dashboard of a running cluster from the Dask HPC sidebar.';
const STARTING_MESSAGE = 'Waiting for this cluster to start its dashboard…';
const CHECKING_MESSAGE = 'Looking for this cluster…';
const DISCONNECTED_MESSAGE = 'Lost contact with the Dask HPC server: the dashboard comes back when it does.';

type DashboardWidget = MainAreaWidget<DashboardView>;

/**
 * The dashboard tabs: each bound to a cluster and a plot, showing the cluster's dashboard
 * only while the cluster is known to live, and a message otherwise. What is known comes from
 * the REST API when a tab opens and after every reconnect of the events socket, and from the
 * events in between.
 */
export class DashboardTabs {
  readonly tracker = new WidgetTracker<DashboardWidget>({ namespace: 'dask-hpc-dashboard' });
  /** Tabs whose cluster is gone: ids are never reused, so these never load again. */
  private readonly stopped = new WeakSet<DashboardWidget>();
  /** Bumped by everything newer than a check under way, so a late answer is dropped. */
  private readonly generation = new WeakMap<DashboardWidget, number>();

  constructor(
    private readonly model: DaskHpcModel,
    private readonly labShell: ILabShell
  ) {
    model.clusterEvent.connect((_, event) => this.onEvent(event));
    model.connectionChanged.connect((_, connected) => {
      for (const widget of this.widgets()) {
        if (this.stopped.has(widget)) continue;
        if (connected) void this.check(widget);
        else {
          this.bump(widget); // a check under way answers for a connection that is gone
          this.show(widget, null, DISCONNECTED_MESSAGE);
        }
      }
    });
  }

  open(tab: DashboardTab): DashboardWidget {
    const id = `dask-hpc-dashboard-${encodeURIComponent(tab.clusterId)}-${tab.plot}`;
    const existing = this.tracker.find(widget => widget.id === id);
    if (existing) {
      this.labShell.activateById(existing.id);
      return existing;
    }
    const widget = new MainAreaWidget({ content: new DashboardView(tab) });
    widget.id = id;
    widget.title.closable = true;
    const known = this.model.get(tab.clusterId) ?? null;
    widget.title.label = dashboardLabel(tab, known?.name ?? null);
    this.show(widget, null, CHECKING_MESSAGE);
    void this.tracker.add(widget);
    this.labShell.add(widget, 'main');
    void this.check(widget);
    return widget;
  }

  /** Keeps {cluster id, plot} in the workspace, and reopens tabs through `command` with them. */
  restoreWith(restorer: ILayoutRestorer, command: string): void {
    void restorer.restore(this.tracker, {
      command,
      args: widget => ({ id: widget.content.tab.clusterId, plot: widget.content.tab.plot }),
      name: widget => `${widget.content.tab.clusterId}:${widget.content.tab.plot}`
    });
  }

  private widgets(): DashboardWidget[] {
    const all: DashboardWidget[] = [];
    this.tracker.forEach(widget => all.push(widget));
    return all;
  }

  private async check(widget: DashboardWidget): Promise<void> {
    if (this.stopped.has(widget)) return;
    const generation = this.bump(widget);
    let cluster: ClusterState | null = null;
    let failure: string | null = null;
    try {
      cluster = await this.model.fetchCluster(widget.content.tab.clusterId);
    } catch (error) {
      failure = `Cannot ask the Dask HPC server about this cluster: ${(error as Error).message}`;
    }
    if (this.generation.get(widget) !== generation) return;
    if (failure !== null) this.show(widget, null, failure);
    else this.apply(widget, cluster);
  }

  private onEvent(event: ClusterEvent): void {
    const id = event.type === 'cluster' ? event.cluster.id : event.id;
    for (const widget of this.widgets()) {
      if (widget.content.tab.clusterId !== id) continue;
      this.bump(widget);
      this.apply(widget, event.type === 'cluster' ? event.cluster : null);
    }
  }

  /** Shows what the cluster's state says: its dashboard, a wait, or that it stopped (null: it is gone). */
  private apply(widget: DashboardWidget, cluster: ClusterState | null): void {
    if (this.stopped.has(widget)) return;
    if (cluster === null || clusterGone(cluster)) {
      this.stopped.add(widget);
      this.show(widget, null, STOPPED_MESSAGE);
      return;
    }
    widget.title.label = dashboardLabel(widget.content.tab, cluster.name);
    const url = dashboardFrameUrl(cluster, widget.content.tab.plot, ServerConnection.makeSettings().baseUrl);
    this.show(widget, url, STARTING_MESSAGE);
  }

  private show(widget: DashboardWidget, url: string | null, message: string): void {
    if (url !== null) widget.content.load(url);
    else widget.content.showMessage(message);
  }

  private bump(widget: DashboardWidget): number {
    const next = (this.generation.get(widget) ?? 0) + 1;
    this.generation.set(widget, next);
    return next;
  }
}

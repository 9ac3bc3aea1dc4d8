import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import * as React from 'react';
import type { ClusterState } from '../common/protocol';
import { ClusterCard, type CardActions } from './components/ClusterCard';
import { LaunchForm, type LaunchDefaults } from './components/LaunchForm';
import { ResourcesView } from './components/ResourcesView';
import type { ClusterStore } from './store';

/** The Dask HPC sidebar: the node, the launch form with its live plan, the cluster cards. */
export class DaskHpcSidebar extends ReactWidget {
  constructor(
    private readonly store: ClusterStore,
    private readonly actions: CardActions,
    private defaults: LaunchDefaults
  ) {
    super();
    this.id = 'dask-hpc-sidebar';
    this.addClass('jp-DaskHpc-sidebar');
  }

  setDefaults(defaults: LaunchDefaults): void {
    this.defaults = defaults;
    this.update();
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.store.changed}>
        {() => (
          <div className="jp-DaskHpc-panel">
            <h2 className="jp-DaskHpc-heading">This node</h2>
            <ResourcesView resources={this.store.resources} error={this.store.resourcesError} clusters={this.store.list} />
            <h2 className="jp-DaskHpc-heading">Clusters {this.store.connected ? '' : <span className="jp-DaskHpc-muted">(reconnecting…)</span>}</h2>
            <div className="jp-DaskHpc-cards">
              {this.store.list.length === 0 && <div className="jp-DaskHpc-muted">None yet.</div>}
              {this.store.list.map((cluster: ClusterState) => (
                <ClusterCard key={cluster.id} cluster={cluster} actions={this.actions} />
              ))}
            </div>
            <h2 className="jp-DaskHpc-heading">New cluster</h2>
            <LaunchForm defaults={this.defaults} batchSystem={this.store.resources?.batch_system} onLaunched={cluster => this.store.update(cluster)} />
          </div>
        )}
      </UseSignal>
    );
  }
}

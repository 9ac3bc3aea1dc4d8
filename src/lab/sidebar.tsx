import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';
import { ClusterCard, type CardActions } from './components/ClusterCard';
import { LaunchForm, type LaunchDefaults } from './components/LaunchForm';
import { ResourcesView } from './components/ResourcesView';
import type { ClusterState } from '../common/protocol';
import type { DaskHpcModel } from './model';

export const daskIcon = new LabIcon({
  name: 'dask-hpc:dask',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M4 3h3v18H4zM10.5 6h3v15h-3zM17 9h3v12h-3z"/></g></svg>'
});

/** What the clusters on this node hold, as a key that changes when one starts, scales or stops (the form's preview is asked again). */
export function nodeShareKey(clusters: ClusterState[]): string {
  // Every status counts: the engine may still count a stopping cluster, and not a stopped one.
  return clusters
    .filter(cluster => !cluster.worker_jobs)
    .map(cluster => `${cluster.id}:${cluster.status}:${cluster.workers.length}`)
    .join(',');
}

/** The Dask HPC sidebar: the node, the cluster cards, the launch form with its live plan. It renders the model. */
export class DaskHpcSidebar extends ReactWidget {
  constructor(
    private readonly model: DaskHpcModel,
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
    const model = this.model;
    return (
      <UseSignal signal={model.stateChanged}>
        {() => (
          <div className="jp-DaskHpc-panel">
            <h2 className="jp-DaskHpc-heading">This node</h2>
            <ResourcesView resources={model.resources} error={model.resourcesError} clusters={model.list} />
            <h2 className="jp-DaskHpc-heading">
              Clusters {model.connected ? '' : <span className="jp-DaskHpc-muted">(reconnecting…)</span>}
            </h2>
            <div className="jp-DaskHpc-cards">
              {model.list.length === 0 && <div className="jp-DaskHpc-muted">None yet.</div>}
              {model.list.map(cluster => (
                <ClusterCard
                  key={cluster.id}
                  cluster={cluster}
                  metrics={model.metrics(cluster.id)}
                  actions={this.actions}
                  sessionEndsAt={model.resources?.job?.ends_at}
                  jobCores={model.resources?.cores}
                />
              ))}
            </div>
            <h2 className="jp-DaskHpc-heading">New cluster</h2>
            <LaunchForm
              defaults={this.defaults}
              batchSystem={model.resources?.batch_system}
              job={model.resources?.job}
              clustersHere={model.list.filter(cluster => cluster.status !== 'failed' && !cluster.worker_jobs).length}
              nodeShare={nodeShareKey(model.list)}
              runnerUnavailable={model.resources ? (model.resources.runner_unavailable ?? null) : 'the node is still being read'}
              plan={body => model.plan(body)}
              jobScript={body => model.jobScript(body)}
              launch={body => model.launch(body)}
            />
          </div>
        )}
      </UseSignal>
    );
  }
}

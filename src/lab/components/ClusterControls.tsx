import * as React from 'react';
import type { ClusterState } from '../../common/protocol';
import { DASHBOARD_PLOTS } from '../dashboard-url';
import type { CardActions } from './ClusterCard';

interface Props {
  cluster: ClusterState;
  actions: CardActions;
  onError: (message: string | null) => void;
}

/** The controls a user needs now and then, folded under the card: a plot, a fixed size, an adaptive range. */
export function ClusterControls({ cluster, actions, onError }: Props): JSX.Element {
  const [size, setSize] = React.useState(String(cluster.plan.n_workers));
  const [minimum, setMinimum] = React.useState('1');
  const [maximum, setMaximum] = React.useState(String(cluster.plan.n_workers));
  const [plot, setPlot] = React.useState('individual-task-stream');
  const act = (work: () => Promise<void>) => () => {
    onError(null);
    work().catch(error => onError((error as Error).message));
  };
  return (
    <details className="jp-DaskHpc-card-more">
      <summary>Plots, scale, adapt</summary>
      <div className="jp-DaskHpc-control">
        <select className="jp-mod-styled" aria-label="Dashboard plot" value={plot} onChange={e => setPlot(e.target.value)}>
          {DASHBOARD_PLOTS.map(([path, label]) => (
            <option key={path} value={path}>
              {label}
            </option>
          ))}
        </select>
        <button className="jp-mod-styled" onClick={() => actions.openDashboard(cluster.id, plot)}>
          Open plot
        </button>
      </div>
      <div className="jp-DaskHpc-control">
        <span className="jp-DaskHpc-control-label">Workers</span>
        <input
          className="jp-mod-styled"
          type="number"
          min="0"
          step="1"
          aria-label="Number of workers"
          value={size}
          onChange={e => setSize(e.target.value)}
        />
        <button className="jp-mod-styled" onClick={act(() => actions.scale(cluster.id, Number(size)))}>
          Scale
        </button>
      </div>
      <div className="jp-DaskHpc-control">
        <span className="jp-DaskHpc-control-label">Adaptive</span>
        <input
          className="jp-mod-styled"
          type="number"
          min="0"
          step="1"
          aria-label="Adaptive minimum"
          value={minimum}
          onChange={e => setMinimum(e.target.value)}
        />
        <span aria-hidden="true">–</span>
        <input
          className="jp-mod-styled"
          type="number"
          min="1"
          step="1"
          aria-label="Adaptive maximum"
          value={maximum}
          onChange={e => setMaximum(e.target.value)}
        />
        <button className="jp-mod-styled" onClick={act(() => actions.adapt(cluster.id, Number(minimum), Number(maximum)))}>
          Adapt
        </button>
      </div>
    </details>
  );
}

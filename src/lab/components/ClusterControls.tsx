import * as React from 'react';
import type { ClusterState } from '../../common/protocol';
import { DASHBOARD_PLOTS } from '../dashboard-url';
import type { CardActions } from './ClusterCard';

interface Props {
  cluster: ClusterState;
  actions: CardActions;
  onError: (message: string | null) => void;
}

/** A whole number of workers, kept as typed until a button reads it. */
function CountInput(props: { min: number; label: string; value: string; onChange: (value: string) => void }): JSX.Element {
  return (
    <input
      className="jp-mod-styled"
      type="number"
      min={props.min}
      step="1"
      aria-label={props.label}
      value={props.value}
      onChange={e => props.onChange(e.target.value)}
    />
  );
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
        <CountInput min={0} label="Number of workers" value={size} onChange={setSize} />
        <button className="jp-mod-styled" onClick={act(() => actions.scale(cluster.id, Number(size)))}>
          Scale
        </button>
      </div>
      <div className="jp-DaskHpc-control">
        <span className="jp-DaskHpc-control-label">Adaptive</span>
        <CountInput min={0} label="Adaptive minimum" value={minimum} onChange={setMinimum} />
        <span aria-hidden="true">–</span>
        <CountInput min={1} label="Adaptive maximum" value={maximum} onChange={setMaximum} />
        <button className="jp-mod-styled" onClick={act(() => actions.adapt(cluster.id, Number(minimum), Number(maximum)))}>
          Adapt
        </button>
      </div>
    </details>
  );
}

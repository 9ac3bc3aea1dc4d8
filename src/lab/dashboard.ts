import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import type { DashboardTab } from './dashboard-url';

export function createDashboardWidget(tab: DashboardTab): MainAreaWidget<IFrame> {
  // Bokeh runs scripts and talks back to its own origin, which is Jupyter's (the proxy).
  const content = new IFrame({ sandbox: ['allow-scripts', 'allow-same-origin', 'allow-forms', 'allow-popups'] });
  content.url = tab.url;
  content.addClass('jp-DaskHpc-dashboard');
  const widget = new MainAreaWidget({ content });
  widget.id = `dask-hpc-dashboard-${encodeURIComponent(tab.url)}`;
  widget.title.label = tab.label;
  widget.title.closable = true;
  return widget;
}

import { IFrame } from '@jupyterlab/apputils';
import { Panel, Widget } from '@lumino/widgets';
import type { DashboardTab } from './dashboard-url';

/**
 * A dashboard tab's content: a frame on the cluster's dashboard while the cluster lives,
 * else a message and no frame at all (a frame left behind would keep a page, or a socket,
 * on a port that may no longer be the cluster's).
 */
export class DashboardView extends Panel {
  private frame: IFrame | null = null;
  private readonly message = new Widget();

  constructor(readonly tab: DashboardTab) {
    super();
    this.addClass('jp-DaskHpc-dashboard');
    this.message.addClass('jp-DaskHpc-dashboard-message');
    this.message.node.setAttribute('role', 'status');
    this.addWidget(this.message);
  }

  /** The frame's address now, or null when nothing is loaded. */
  get url(): string | null {
    return this.frame?.url ?? null;
  }

  load(url: string): void {
    if (this.frame?.url === url) return;
    this.frame?.dispose();
    // Bokeh runs scripts and talks back to its own origin, which is Jupyter's (the proxy):
    // same-origin is needed, which is why only a live cluster's proxy path is ever loaded.
    this.frame = new IFrame({ sandbox: ['allow-scripts', 'allow-same-origin', 'allow-forms', 'allow-popups'] });
    this.frame.url = url;
    this.message.hide();
    this.addWidget(this.frame);
  }

  /** Unloads the frame (if any) and says why. */
  showMessage(text: string): void {
    this.frame?.dispose();
    this.frame = null;
    this.message.node.textContent = text;
    this.message.show();
  }
}

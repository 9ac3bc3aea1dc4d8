import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { Widget } from '@lumino/widgets';
import type { ClusterState } from '../common/protocol';
import type { DashboardTabs } from './dashboard-tabs';
import { dashboardTabFromArgs } from './dashboard-url';
import type { DaskHpcModel } from './model';
import { insertCodeCellBelow } from './notebook-cells';
import { clientSnippet } from './snippet';
import { tunnelCommand, tunnelNotice } from './tunnel';

export namespace CommandIDs {
  export const launch = 'dask-hpc:launch';
  export const insertSnippet = 'dask-hpc:insert-snippet';
  export const openDashboard = 'dask-hpc:open-dashboard';
  export const copyTunnel = 'dask-hpc:copy-tunnel';
  export const shutdown = 'dask-hpc:shutdown';
}

/** What a shutdown ends, beyond the cluster: the user may have work running in a notebook. */
export const SHUTDOWN_CONSEQUENCES =
  'Its workers are retired and its temp and spill files removed. Kernels connected to this cluster lose their client: ' +
  'it closes, and work still running on the cluster is cancelled.';

/** How long the tunnel toast stays: long enough to read what to replace. */
const TUNNEL_NOTICE_MS = 8000;

export interface CommandContext {
  model: DaskHpcModel;
  dashboards: DashboardTabs;
  /** The notebook the user worked in last (clicking the sidebar must not lose it). */
  lastMainWidget: () => Widget | null;
  snippetTemplate: () => string;
  /** The login host of the settings, for tunnels the server could not name one for. */
  loginHost: () => string;
  /** Opens the sidebar at its launch form. */
  showLaunchForm: () => void;
}

/** The cluster a command acts on: the one of its `id` argument, else the newest that runs. */
function clusterOf(model: DaskHpcModel, args: { id?: unknown }): ClusterState | undefined {
  return typeof args.id === 'string' ? model.get(args.id) : model.newestRunning;
}

/** The plugin's commands; those that act on a cluster are disabled while there is none. */
export function addCommands(commands: JupyterFrontEnd['commands'], context: CommandContext): void {
  const { model } = context;
  const hasCluster = (args: { id?: unknown }) => clusterOf(model, args) !== undefined;
  const required = (args: { id?: unknown }): ClusterState => {
    const cluster = clusterOf(model, args);
    if (!cluster) {
      throw new Error(
        typeof args.id === 'string' ? `No cluster ${args.id}.` : 'No cluster is running: launch one in the Dask HPC sidebar.'
      );
    }
    return cluster;
  };
  // The palette asks isEnabled when it renders; a cluster that comes or goes changes the answer.
  model.clusterEvent.connect(() => commands.notifyCommandChanged());
  model.connectionChanged.connect(() => commands.notifyCommandChanged());

  commands.addCommand(CommandIDs.launch, {
    label: 'Dask HPC: Launch Cluster',
    caption: 'Open the Dask HPC sidebar at its launch form',
    execute: () => context.showLaunchForm()
  });
  commands.addCommand(CommandIDs.openDashboard, {
    label: 'Dask HPC: Open Dashboard',
    caption: "Open a cluster's Dask dashboard (or one of its plots) in a tab: args id (a cluster id) and plot",
    isEnabled: hasCluster,
    execute: args => context.dashboards.open(dashboardTabFromArgs(args, () => required(args).id))
  });
  commands.addCommand(CommandIDs.insertSnippet, {
    label: 'Dask HPC: Insert Client Code',
    caption: 'Insert a cell that connects to the cluster, below the active cell of the notebook',
    isEnabled: hasCluster,
    execute: args => {
      const code = clientSnippet(required(args), context.snippetTemplate());
      if (!insertCodeCellBelow(context.lastMainWidget(), code)) {
        Notification.warning('Open a notebook first: the client code goes below its active cell.', { autoClose: TUNNEL_NOTICE_MS });
      }
    }
  });
  commands.addCommand(CommandIDs.copyTunnel, {
    label: 'Dask HPC: Copy SSH Tunnel Command',
    caption: "Copy the ssh command that brings a cluster's dashboard to your laptop's port 8787",
    isEnabled: hasCluster,
    execute: args => {
      const command = tunnelCommand(required(args).tunnel_command, context.loginHost());
      Clipboard.copyToSystem(command);
      const notice = tunnelNotice(command);
      Notification.emit(notice.message, notice.type, { autoClose: TUNNEL_NOTICE_MS });
    }
  });
  commands.addCommand(CommandIDs.shutdown, {
    label: 'Dask HPC: Shut Down Cluster',
    isEnabled: hasCluster,
    execute: async args => {
      const cluster = required(args);
      const answer = await showDialog({
        title: `Shut down ${cluster.name}?`,
        body: SHUTDOWN_CONSEQUENCES,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Shut down' })]
      });
      if (answer.button.accept) await model.shutDown(cluster.id);
    }
  });
}

import { ILabShell, ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification, showDialog, Dialog } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { MimeData } from '@lumino/coreutils';
import { Drag } from '@lumino/dragdrop';
import type { Widget } from '@lumino/widgets';
import type { ClusterState, Workload } from '../common/protocol';
import { requestAPI } from './api';
import type { CardActions } from './components/ClusterCard';
import type { LaunchDefaults } from './components/LaunchForm';
import { DashboardTabs } from './dashboard-tabs';
import { dashboardTabFromArgs } from './dashboard-url';
import { insertCodeCellBelow } from './notebook-cells';
import { DaskHpcSidebar } from './sidebar';
import { autoConnectCode, clientSnippet, DEFAULT_SNIPPET_TEMPLATE } from './snippet';
import { ClusterStore } from './store';

const PLUGIN_ID = 'jupyterlab-dask-hpc:plugin';
/** The mime type notebooks accept dropped cells in. */
const JUPYTER_CELL_MIME = 'application/vnd.jupyter.cells';

const daskIcon = new LabIcon({
  name: 'dask-hpc:dask',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M4 3h3v18H4zM10.5 6h3v15h-3zM17 9h3v12h-3z"/></g></svg>'
});

export const CommandIds = {
  launch: 'dask-hpc:launch',
  insertSnippet: 'dask-hpc:insert-snippet',
  openDashboard: 'dask-hpc:open-dashboard',
  shutdown: 'dask-hpc:shutdown'
};

/** Focuses an element of a widget that may render in the next frames (the sidebar's first opening). */
function focusWhenRendered(node: HTMLElement, selector: string, frames = 30): void {
  const element = node.querySelector<HTMLElement>(selector);
  if (element) element.focus();
  else if (frames > 0) requestAnimationFrame(() => focusWhenRendered(node, selector, frames - 1));
}

function readDefaults(settings: ISettingRegistry.ISettings | null): { launch: LaunchDefaults; snippetTemplate: string; autoConnect: boolean } {
  const get = <T>(key: string, fallback: T) => (settings?.composite[key] as T | undefined) ?? fallback;
  return {
    launch: {
      workload: get<Workload>('workload', 'io'),
      maxWorkers: get<number | null>('maxWorkers', null),
      reserveMemGb: get<number | null>('reserveMemGb', null)
    },
    snippetTemplate: get<string>('snippetTemplate', DEFAULT_SNIPPET_TEMPLATE) || DEFAULT_SNIPPET_TEMPLATE,
    autoConnect: get<boolean>('autoConnect', false)
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Dask clusters that fit the HPC node JupyterLab runs on.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ILayoutRestorer, ISettingRegistry, ICommandPalette],
  activate: async (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null
  ) => {
    const settings = settingRegistry ? await settingRegistry.load(PLUGIN_ID).catch(() => null) : null;
    let config = readDefaults(settings);
    const store = new ClusterStore();
    // The notebook the user worked in last: clicking the sidebar must not lose it.
    let lastMainWidget: Widget | null = labShell.currentWidget;
    labShell.currentChanged.connect((_, change) => {
      if (change.newValue) lastMainWidget = change.newValue;
    });

    const clusterFor = (id: unknown): ClusterState => {
      const cluster = typeof id === 'string' ? store.get(id) : store.list[store.list.length - 1];
      if (!cluster) throw new Error(typeof id === 'string' ? `No cluster ${id}.` : 'No cluster is running: launch one in the Dask HPC sidebar.');
      return cluster;
    };
    const patch = async (id: string, body: unknown) =>
      store.update(await requestAPI<ClusterState>(`clusters/${id}`, { method: 'PATCH', body: JSON.stringify(body) }));

    const dashboards = new DashboardTabs(store, labShell);
    app.commands.addCommand(CommandIds.openDashboard, {
      label: 'Dask HPC: Open Dashboard',
      caption: "Open a cluster's Dask dashboard (or one of its plots) in a tab: args id (a cluster id) and plot",
      execute: args => dashboards.open(dashboardTabFromArgs(args, () => clusterFor(undefined).id))
    });
    app.commands.addCommand(CommandIds.insertSnippet, {
      label: 'Dask HPC: Insert Client Code',
      caption: 'Insert a cell that connects to the cluster, below the active cell of the notebook',
      execute: args => {
        const cluster = clusterFor(args.id);
        if (!insertCodeCellBelow(lastMainWidget, clientSnippet(cluster, config.snippetTemplate))) {
          Notification.warning('Open a notebook first: the client code goes below its active cell.');
        }
      }
    });
    app.commands.addCommand(CommandIds.shutdown, {
      label: 'Dask HPC: Shut Down Cluster',
      execute: async args => {
        const cluster = clusterFor(args.id);
        const answer = await showDialog({
          title: `Shut down ${cluster.name}?`,
          body: 'Its workers are retired and its temp and spill files removed.',
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Shut down' })]
        });
        if (answer.button.accept) store.update(await requestAPI<ClusterState>(`clusters/${cluster.id}`, { method: 'DELETE' }));
      }
    });

    const actions: CardActions = {
      scale: (id, nWorkers) => patch(id, { n_workers: nWorkers }),
      adapt: (id, minimum, maximum) => patch(id, { adaptive: { minimum, maximum } }),
      openDashboard: (id, plot) => void app.commands.execute(CommandIds.openDashboard, { id, plot }),
      insertSnippet: id => void app.commands.execute(CommandIds.insertSnippet, { id }),
      copyTunnel: id => {
        Clipboard.copyToSystem(clusterFor(id).tunnel_command ?? '');
        Notification.info('SSH tunnel command copied: run it on your laptop, then open http://localhost:8787/status');
      },
      shutdown: id => app.commands.execute(CommandIds.shutdown, { id }) as Promise<void>,
      dragSnippet: (id, dragImage, clientX, clientY) => {
        // A notebook takes this as a copied cell, dropped where the user lets go.
        const source = clientSnippet(clusterFor(id), config.snippetTemplate);
        const mimeData = new MimeData();
        mimeData.setData(JUPYTER_CELL_MIME, [{ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null }]);
        mimeData.setData('text/plain', source);
        const drag = new Drag({ mimeData, dragImage, proposedAction: 'copy', supportedActions: 'copy', source: sidebar });
        void drag.start(clientX, clientY);
      }
    };

    const sidebar = new DaskHpcSidebar(store, actions, config.launch);
    sidebar.title.icon = daskIcon;
    sidebar.title.caption = 'Dask HPC';
    labShell.add(sidebar, 'left', { rank: 200 });
    store.start();
    settings?.changed.connect(() => {
      config = readDefaults(settings);
      sidebar.setDefaults(config.launch);
    });

    // autoConnect: a Python kernel that starts while a cluster runs gets `client` and `dask_local_dir`.
    const kernels = app.serviceManager.kernels;
    const knownKernels = new Set<string>();
    const connectNewKernels = () => {
      const cluster = store.list.filter(c => c.status === 'running').pop();
      for (const model of kernels.running()) {
        if (knownKernels.has(model.id)) continue;
        knownKernels.add(model.id);
        if (!config.autoConnect || !cluster || !/python/i.test(model.name)) continue;
        const kernel = kernels.connectTo({ model });
        const future = kernel.requestExecute({ code: autoConnectCode(cluster), silent: true, store_history: false });
        void future.done.finally(() => kernel.dispose()); // our connection only: the kernel lives on
      }
    };
    void kernels.ready.then(() => {
      for (const model of kernels.running()) knownKernels.add(model.id); // kernels already there are left alone
      kernels.runningChanged.connect(connectNewKernels);
    });

    app.commands.addCommand(CommandIds.launch, {
      label: 'Dask HPC: Launch Cluster',
      caption: 'Open the Dask HPC sidebar at its launch form',
      execute: () => {
        labShell.activateById(sidebar.id);
        focusWhenRendered(sidebar.node, 'input[name="workload"]:checked');
      }
    });
    for (const command of Object.values(CommandIds)) {
      palette?.addItem({ command, category: 'Dask HPC' });
    }
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      dashboards.restoreWith(restorer, CommandIds.openDashboard);
    }
  }
};

export default plugin;

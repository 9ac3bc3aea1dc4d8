import { ILabShell, ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { Widget } from '@lumino/widgets';
import type { Workload } from '../common/protocol';
import { eventsUrl, requestAPI } from './api';
import { connectNewKernels } from './autoconnect';
import { addCommands, CommandIDs } from './commands';
import type { CardActions } from './components/ClusterCard';
import type { LaunchDefaults } from './components/LaunchForm';
import { DashboardTabs } from './dashboard-tabs';
import { DaskHpcModel } from './model';
import { dragCodeCell } from './notebook-cells';
import { SessionEndNotifier } from './session-end-notifier';
import { DaskHpcSidebar, daskIcon } from './sidebar';
import { clientSnippet, DEFAULT_SNIPPET_TEMPLATE } from './snippet';

export { CommandIDs } from './commands';

const PLUGIN_ID = 'jupyterlab-dask-hpc:plugin';

interface Config {
  launch: LaunchDefaults;
  snippetTemplate: string;
  autoConnect: boolean;
  loginHost: string;
}

function readConfig(settings: ISettingRegistry.ISettings | null): Config {
  const get = <T>(key: string, fallback: T) => (settings?.composite[key] as T | undefined) ?? fallback;
  return {
    launch: {
      workload: get<Workload>('workload', 'io'),
      maxWorkers: get<number | null>('maxWorkers', null),
      reserveMemGb: get<number | null>('reserveMemGb', null)
    },
    snippetTemplate: get<string>('snippetTemplate', DEFAULT_SNIPPET_TEMPLATE) || DEFAULT_SNIPPET_TEMPLATE,
    autoConnect: get<boolean>('autoConnect', false),
    loginHost: get<string>('loginHost', '')
  };
}

/** Focuses an element of a widget that may render in the next frames (the sidebar's first opening). */
function focusWhenRendered(node: HTMLElement, selector: string, frames = 30): void {
  const element = node.querySelector<HTMLElement>(selector);
  if (element) element.focus();
  else if (frames > 0) requestAnimationFrame(() => focusWhenRendered(node, selector, frames - 1));
}

/** How often the walltime warnings are checked besides each refresh (which stands by in a hidden tab). */
const SESSION_END_CHECK_MS = 30_000;

/** The 15- and 5-minute warnings before this job's walltime runs out, as JupyterLab notifications that stay. */
function watchSessionEnd(model: DaskHpcModel): void {
  const notifier = new SessionEndNotifier({
    jobEnd: () => {
      const job = model.resources?.job;
      return job?.ends_at ? { id: job.id, endsAt: job.ends_at } : null;
    },
    notify: message => void Notification.warning(message, { autoClose: false })
  });
  model.stateChanged.connect(() => notifier.check());
  const timer = setInterval(() => (model.isDisposed ? clearInterval(timer) : notifier.check()), SESSION_END_CHECK_MS);
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
    let config = readConfig(settings);
    const model = new DaskHpcModel({ request: requestAPI, openEvents: () => new WebSocket(eventsUrl()) });
    // The notebook the user worked in last: clicking the sidebar must not lose it.
    let lastMainWidget: Widget | null = labShell.currentWidget;
    labShell.currentChanged.connect((_, change) => {
      if (change.newValue) lastMainWidget = change.newValue;
    });

    const dashboards = new DashboardTabs(model, labShell);
    const run = (command: string, args: Record<string, string>) => app.commands.execute(command, args) as Promise<void>;
    const actions: CardActions = {
      scale: (id, nWorkers) => model.scale(id, nWorkers),
      adapt: (id, minimum, maximum) => model.adapt(id, minimum, maximum),
      openDashboard: (id, plot) => void run(CommandIDs.openDashboard, { id, plot }),
      insertSnippet: id => void run(CommandIDs.insertSnippet, { id }),
      copyTunnel: id => void run(CommandIDs.copyTunnel, { id }),
      shutdown: id => run(CommandIDs.shutdown, { id }),
      dragSnippet: (id, dragImage, clientX, clientY) => {
        const cluster = model.get(id);
        if (cluster) dragCodeCell(clientSnippet(cluster, config.snippetTemplate), dragImage, clientX, clientY, sidebar);
      }
    };
    const sidebar = new DaskHpcSidebar(model, actions, config.launch);
    sidebar.title.icon = daskIcon;
    sidebar.title.caption = 'Dask HPC';
    labShell.add(sidebar, 'left', { rank: 200 });

    addCommands(app.commands, {
      model,
      dashboards,
      lastMainWidget: () => lastMainWidget,
      snippetTemplate: () => config.snippetTemplate,
      loginHost: () => config.loginHost,
      showLaunchForm: () => {
        labShell.activateById(sidebar.id);
        focusWhenRendered(sidebar.node, 'input[name="workload"]:checked');
      }
    });
    for (const command of [
      CommandIDs.launch,
      CommandIDs.insertSnippet,
      CommandIDs.openDashboard,
      CommandIDs.copyTunnel,
      CommandIDs.shutdown
    ]) {
      palette?.addItem({ command, category: 'Dask HPC' });
    }
    connectNewKernels(app.serviceManager.kernels, model, () => config.autoConnect);
    settings?.changed.connect(() => {
      config = readConfig(settings);
      sidebar.setDefaults(config.launch);
    });
    watchSessionEnd(model);
    model.start();
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      dashboards.restoreWith(restorer, CommandIDs.openDashboard);
    }
  }
};

export default plugin;

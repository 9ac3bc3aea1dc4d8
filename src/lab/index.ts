import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

/**
 * The Dask HPC sidebar. This first version only registers the plugin; the sidebar, the
 * launch form, the cluster cards and the dashboard tabs arrive with the plugin issue.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-dask-hpc:plugin',
  description: 'Dask clusters that fit the HPC node JupyterLab runs on.',
  autoStart: true,
  activate: (_app: JupyterFrontEnd) => {
    console.debug('jupyterlab-dask-hpc is activated');
  }
};

export default plugin;

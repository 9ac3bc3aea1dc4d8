import type { Resources } from '../../common/protocol';
import type { Environment } from '../node/detect';

export interface DashboardLinkOptions {
  /** Jupyter's base URL ("/", or "/node/gadi-cpu-1/12345/" under ARE): the dashboard goes through its route there. Null: direct. */
  baseUrl: string | null;
  /** The cluster's id: the Jupyter route names the cluster, never the port (jupyterlab_dask_hpc/dashboard_route.py). */
  clusterId: string;
  resources: Resources;
  env: Environment;
}

/** The login node users ssh to: $DASK_HPC_LOGIN_HOST, Gadi's for a Gadi job, else a placeholder to fill in. */
function loginHost(resources: Resources, env: Environment): string {
  if (env.DASK_HPC_LOGIN_HOST) return env.DASK_HPC_LOGIN_HOST;
  if (resources.job_id?.endsWith('.gadi-pbs')) return 'gadi.nci.org.au';
  return '<login-host>';
}

/**
 * How a user reaches a dashboard on 127.0.0.1:PORT of this node: through the server
 * extension's route for the cluster ({base_url}dask-hpc/dashboard/ID/status, behind Jupyter's
 * login; it finds the port from the live cluster and checks that the scheduler listens there,
 * so the link never reaches another user's server on a freed port), or from a laptop
 * by an ssh tunnel that jumps through the login node to this node's loopback (the dashboard
 * does not listen on the node's network, so seed 000's single-hop tunnel would not reach it).
 */
export function dashboardLinks(httpAddress: string, options: DashboardLinkOptions) {
  const port = new URL(httpAddress).port;
  const base = options.baseUrl === null ? null : options.baseUrl.replace(/\/*$/, '/');
  return {
    dashboard_url: base === null ? `${httpAddress}/status` : `${base}dask-hpc/dashboard/${encodeURIComponent(options.clusterId)}/status`,
    tunnel_command: `ssh -N -L 8787:127.0.0.1:${port} -J ${loginHost(options.resources, options.env)} ${options.resources.hostname}`
  };
}

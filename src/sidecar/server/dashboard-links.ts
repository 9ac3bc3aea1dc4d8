import type { Resources } from '../../common/protocol';
import type { Environment } from '../node/detect';

export interface DashboardLinkOptions {
  /** Jupyter's base URL ("/", or "/node/gadi-cpu-1/12345/" under ARE): the dashboard goes through its proxy. Null: direct. */
  baseUrl: string | null;
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
 * How a user reaches a dashboard on 127.0.0.1:PORT of this node: through Jupyter's
 * authenticated proxy ({base_url}proxy/PORT/status, jupyter-server-proxy), or from a laptop
 * by an ssh tunnel that jumps through the login node to this node's loopback (the dashboard
 * does not listen on the node's network, so seed 000's single-hop tunnel would not reach it).
 */
export function dashboardLinks(httpAddress: string, options: DashboardLinkOptions) {
  const port = new URL(httpAddress).port;
  const base = options.baseUrl === null ? null : options.baseUrl.replace(/\/*$/, '/');
  return {
    dashboard_url: base === null ? `${httpAddress}/status` : `${base}proxy/${port}/status`,
    tunnel_command: `ssh -N -L 8787:127.0.0.1:${port} -J ${loginHost(options.resources, options.env)} ${options.resources.hostname}`
  };
}

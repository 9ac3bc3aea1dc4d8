/**
 * Node reads the file named by NODE_EXTRA_CA_CERTS when it starts, before any code runs:
 * a site's bundle of some 140 certificates took 36 ms of a 60 ms start here (bench/). The
 * Node processes dask-hpc starts itself (a detached owner, the Jupyter sidecar) never verify
 * a public host (their only TLS peers carry a cluster's own CA), so they start without it
 * and put it back at once: the Dask processes and batch commands they start inherit the
 * user's environment unchanged. jupyterlab_dask_hpc/paths.py does the same for the sidecar.
 */
export const DEFERRED_CA_VARIABLE = 'DASK_HPC_DEFERRED_NODE_EXTRA_CA_CERTS';

/** The environment to start one of our Node processes with. */
export function nodeStartEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: certificates, ...rest } = env;
  return certificates === undefined ? env : { ...rest, [DEFERRED_CA_VARIABLE]: certificates };
}

/** In the started process, first thing: the user's NODE_EXTRA_CA_CERTS back, for its children. */
export function restoreDeferredVariables(env: NodeJS.ProcessEnv): void {
  const certificates = env[DEFERRED_CA_VARIABLE];
  if (certificates === undefined) return;
  env.NODE_EXTRA_CA_CERTS = certificates;
  delete env[DEFERRED_CA_VARIABLE];
}

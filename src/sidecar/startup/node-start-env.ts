/**
 * Our Node processes start without NODE_EXTRA_CA_CERTS (Node parses it before any code runs)
 * and put it back at once, for the processes they start (README.md in this folder).
 * jupyterlab_dask_hpc/paths.py does the same for the sidecar.
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

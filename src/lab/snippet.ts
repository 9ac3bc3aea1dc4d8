import type { ClusterState } from '../common/protocol';

/** The default code a cell gets to reach a cluster; {id}, {name} and {local_directory} are filled in. */
export const DEFAULT_SNIPPET_TEMPLATE = [
  'from jupyterlab_dask_hpc import connect',
  '',
  'client = connect("{id}")  # cluster {name}',
  '# Temp and spill live here, on the job filesystem: reuse it, e.g. as Rechunker\'s temp_store.',
  'dask_local_dir = "{local_directory}"',
  'client'
].join('\n');

export function clientSnippet(cluster: ClusterState, template = DEFAULT_SNIPPET_TEMPLATE): string {
  return template
    .replace(/\{id\}/g, cluster.id)
    .replace(/\{name\}/g, cluster.name)
    .replace(/\{local_directory\}/g, cluster.local_directory);
}

/** What autoConnect runs, silently, in a new kernel: never an error the user did not ask for. */
export function autoConnectCode(cluster: ClusterState): string {
  return [
    'try:',
    '    from jupyterlab_dask_hpc import connect as _dask_hpc_connect',
    `    client = _dask_hpc_connect(${JSON.stringify(cluster.id)})`,
    `    dask_local_dir = ${JSON.stringify(cluster.local_directory)}`,
    'except Exception as _dask_hpc_error:',
    '    print("Dask HPC could not connect this kernel:", _dask_hpc_error)'
  ].join('\n');
}

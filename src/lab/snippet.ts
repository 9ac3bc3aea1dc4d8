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

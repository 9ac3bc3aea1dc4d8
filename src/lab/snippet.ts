import type { ClusterState } from '../common/protocol';

/**
 * The default code a cell gets to reach a cluster; {id}, {name} and {local_directory} are
 * filled in as Python string literals.
 */
export const DEFAULT_SNIPPET_TEMPLATE = [
  'from jupyterlab_dask_hpc import connect',
  '',
  'client = connect({id})  # cluster {name}',
  "# Temp and spill live here, on the job filesystem: reuse it, e.g. as Rechunker's temp_store.",
  'dask_local_dir = {local_directory}',
  'client'
].join('\n');

/**
 * A Python str literal of any JavaScript string. JSON's escapes (\" \\ \n \uXXXX, lone
 * surrogates too) all mean the same in a Python literal, and nothing is left raw that could end
 * the literal or the line: a name cannot break out of a comment or a string into code.
 */
export function pythonString(value: string): string {
  return JSON.stringify(value).replace(/[\u2028\u2029]/g, c => `\\u${c.charCodeAt(0).toString(16)}`);
}

// A placeholder with the quotes a template of older versions put around it ("{id}") is
// replaced quotes and all, so those templates still give one literal, not ""abcd"".
const PLACEHOLDER = /(["']?)\{(id|name|local_directory)\}\1/g;

export function clientSnippet(cluster: ClusterState, template = DEFAULT_SNIPPET_TEMPLATE): string {
  const values: Record<string, string> = { id: cluster.id, name: cluster.name, local_directory: cluster.local_directory };
  // One pass with a function: a value is never scanned again, and `$&` in it stays text.
  return template.replace(PLACEHOLDER, (_match, _quote, key: string) => pythonString(values[key]));
}

/** What autoConnect runs, silently, in a new kernel: never an error the user did not ask for. */
export function autoConnectCode(cluster: ClusterState): string {
  return [
    'try:',
    '    from jupyterlab_dask_hpc import connect as _dask_hpc_connect',
    `    client = _dask_hpc_connect(${pythonString(cluster.id)})`,
    `    dask_local_dir = ${pythonString(cluster.local_directory)}`,
    'except Exception as _dask_hpc_error:',
    '    print("Dask HPC could not connect this kernel:", _dask_hpc_error)'
  ].join('\n');
}

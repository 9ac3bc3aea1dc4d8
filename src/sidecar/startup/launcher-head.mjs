// The command's first lines (startup/README.md): sh and JavaScript at once (to node, a string
// and a comment). Run as a command, sh starts node without NODE_EXTRA_CA_CERTS, kept under the
// name the engine restores it from (node-start-env.ts); the arguments pass through "$@" untouched.
export const LAUNCHER_HEAD = [
  '#!/bin/sh',
  '":" //; [ -n "${NODE_EXTRA_CA_CERTS+x}" ] && export DASK_HPC_DEFERRED_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS" && unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"'
].join('\n');

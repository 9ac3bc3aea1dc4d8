#!/usr/bin/env bash
# Sets up, then shows what the product does today: this node's resources, the plan, and a
# real Dask cluster (scheduler and workers, spill under the job filesystem or /tmp), owned by
# this terminal until Ctrl-C. JupyterLab with the sidebar comes with the server extension.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dask_hpc() { node lib/dask-hpc.mjs "$@"; }
dask_hpc detect
echo
dask_hpc plan --workload "${WORKLOAD:-cpu}"
echo
echo "Starting the cluster; Ctrl-C stops it and removes its files."
exec node lib/dask-hpc.mjs up --workload "${WORKLOAD:-cpu}" --python "$PWD/.venv/bin/python"

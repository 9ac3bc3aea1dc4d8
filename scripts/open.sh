#!/usr/bin/env bash
# Sets up, then opens JupyterLab with the extension: the server extension starts the dask-hpc
# sidecar, which plans for this machine (no batch system needed) and puts spill under the
# job filesystem or /tmp. Open the URL it prints. Extra arguments go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=(--no-browser)
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)  # containers and CI machines often run as root
exec .venv/bin/jupyter lab "${args[@]}" "$@"

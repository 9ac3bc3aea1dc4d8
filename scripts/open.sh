#!/usr/bin/env bash
# Opens JupyterLab with the extension: the server extension starts the dask-hpc sidecar, which
# plans for this machine (no batch system needed) and puts spill under the job filesystem or
# /tmp. Open the URL it prints. Extra arguments go to `jupyter lab`.
# Notebooks live in $DASK_HPC_NOTEBOOKS (default: notebooks/ here, which git ignores), so user
# files and .ipynb_checkpoints never land in the checkout. The build is redone only when a
# source changed since the last one.
set -euo pipefail
cd "$(dirname "$0")/.."
notebooks="${DASK_HPC_NOTEBOOKS:-$PWD/notebooks}"
mkdir -p "$notebooks"

stamp_file=.venv/.build-stamp  # written by setup.sh after each build
if [ -x .venv/bin/jupyter ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$(bash scripts/build-stamp.sh)" ]; then
  echo "open.sh: the build is current (no source changed since the last one): not rebuilding" >&2
else
  bash scripts/setup.sh
fi
args=(--no-browser "--ServerApp.root_dir=$notebooks")
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)  # containers and CI machines often run as root
exec .venv/bin/jupyter lab "${args[@]}" "$@"

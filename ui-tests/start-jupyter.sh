#!/usr/bin/env bash
# The server the UI tests drive: JupyterLab from the repository's .venv, with the extension
# installed by scripts/setup.sh, and a state directory of its own.
set -euo pipefail
cd "$(dirname "$0")"
export DASK_HPC_STATE_DIR="${DASK_HPC_STATE_DIR:-$(mktemp -d)}"
exec ../.venv/bin/jupyter lab --config jupyter_server_test_config.py

#!/usr/bin/env bash
# The server the UI tests drive: JupyterLab from the repository's .venv, with the extension
# installed by scripts/setup.sh, and a state directory of its own.
set -euo pipefail
cd "$(dirname "$0")"
# Settings and workspaces of its own too: a theme, autoConnect or the tabs left by an earlier
# run must not leak in.
export JUPYTERLAB_SETTINGS_DIR="$(mktemp -d)"
export JUPYTERLAB_WORKSPACES_DIR="$(mktemp -d)"
export DASK_HPC_STATE_DIR="${DASK_HPC_STATE_DIR:-$(mktemp -d)}"
exec ../.venv/bin/jupyter lab --config jupyter_server_test_config.py

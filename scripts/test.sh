#!/usr/bin/env bash
# Sets up, then runs every test: jest (detect, plan, the CLI's parsing), pytest (real
# dask-hpc clusters, the server extension in a real Jupyter server, real Dask processes and
# Clients), and the UI tests (real JupyterLab in Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
npm test --silent || status=$?
.venv/bin/python -m pytest -q -p no:cacheprovider tests || status=$?
bash scripts/ui-test.sh || status=$?
exit $status

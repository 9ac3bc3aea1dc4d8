#!/usr/bin/env bash
# Sets up, then runs every test: jest (detect, plan, the CLI's parsing) and pytest (real
# dask-hpc clusters with real Dask processes and a real distributed.Client).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
npm test --silent || status=$?
.venv/bin/python -m pytest -q -p no:cacheprovider tests || status=$?
exit $status

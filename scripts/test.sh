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
# A real PBS Pro on three hosts (root only: its daemons and namespaces need it). The pbs tests
# run on its login node, where qsub reaches the server; elsewhere they are skipped and say why.
if [ "$(id -u)" -eq 0 ]; then
  trap 'bash scripts/pbs-down.sh >/dev/null 2>&1 || true' EXIT
  if bash scripts/pbs-up.sh; then
    bash scripts/pbs-exec.sh .venv/bin/python -m pytest -q -p no:cacheprovider -m pbs tests/test_pbs.py || status=$?
  else
    echo "test: PBS did not start" >&2; status=1
  fi
  bash scripts/pbs-down.sh || status=$?
fi
bash scripts/ui-test.sh || status=$?
exit $status

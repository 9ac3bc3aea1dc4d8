#!/usr/bin/env bash
# The UI tests: real JupyterLab (from .venv, set up by scripts/setup.sh) driven by Playwright
# in Debian's Chromium. Afterwards, nothing the server started may be left running.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "ui-test: Debian's chromium is needed at /usr/bin/chromium (sudo apt-get install chromium)" >&2
    exit 1
  fi
fi
(cd ui-tests && npm ci --no-audit --no-fund --silent)

export DASK_HPC_STATE_DIR
DASK_HPC_STATE_DIR=$(mktemp -d)
status=0
(cd ui-tests && npx playwright test) || status=$?

# Playwright kills the server; its sidecar must stop every cluster and leave within 30 s.
for _ in $(seq 60); do
  pgrep -f "dask-hpc.mjs serve --socket $DASK_HPC_STATE_DIR" >/dev/null || break
  sleep 0.5
done
if pgrep -af "dask-hpc.mjs serve --socket $DASK_HPC_STATE_DIR"; then
  echo "ui-test: the sidecar outlived the Jupyter server" >&2
  status=1
fi
exit $status

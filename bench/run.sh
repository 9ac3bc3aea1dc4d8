#!/usr/bin/env bash
# The benchmark: ready and teardown times of this product against its peers, alternating in
# one run, and the sidecar's own cost. Prints a table and writes bench/results.json.
# `--user-session [--repeats 5] [--workers 1,2,4,8]`: a notebook user's session instead
# (bench/user_session.py: a fresh Python from import to close, phase by phase).
# `--sidebar`: from the click on Launch to a running card, in JupyterLab and Chromium
# (ui-tests/bench/sidebar-launch.spec.ts).
# Not part of the tests: machines here are noisy, so it reports medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The peer from seed 000, pinned; its dependencies are already in .venv.
.venv/bin/python -m pip install --quiet --no-deps dask-setup==2.3.0
if [ "${1:-}" = "--sidebar" ]; then
  # Real JupyterLab in Debian's Chromium (as scripts/ui-test.sh); BENCH_REPEATS, BENCH_WORKERS.
  (cd ui-tests && npm ci --no-audit --no-fund --silent)
  export DASK_HPC_STATE_DIR
  DASK_HPC_STATE_DIR=$(mktemp -d)
  trap 'rm -rf "$DASK_HPC_STATE_DIR"' EXIT
  UI_TESTS_PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export UI_TESTS_PORT
  cd ui-tests && npx playwright test -c playwright.bench.config.js
  exit
fi
if [ "${1:-}" = "--user-session" ]; then
  shift
  exec .venv/bin/python bench/user_session.py "$@"
fi
exec .venv/bin/python bench/bench.py "$@"

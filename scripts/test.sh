#!/usr/bin/env bash
# Sets up, then runs every test: jest (detect, plan, the CLI's parsing), pytest (real
# dask-hpc clusters, the server extension in a real Jupyter server, real Dask processes and
# Clients, real Slurm worker jobs and runner mode across hosts), and the UI tests (real
# JupyterLab in Debian's Chromium).
# As root this changes the machine: it installs the Debian packages slurm-wlm, munge and
# chromium if they are missing (kept afterwards), and for the Slurm tests a bridge (slurmbr0,
# 192.168.253.0/24), an unreachable route for that subnet and three network namespaces, which
# it removes again with everything it started (scripts/slurm-down.sh), and the unprivileged
# users slurmuser and pbsuser, which it keeps; for the PBS tests it
# builds OpenPBS into /opt/pbs (scripts/pbs-up.sh) and stops it again. As another user the
# Slurm tests are left out (they need root) and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
# House rules first (fast): Prettier and ESLint for TypeScript, Ruff for Python.
npm run lint --silent || status=$?
.venv/bin/ruff check . || status=$?
.venv/bin/ruff format --check . || status=$?
npm test --silent || status=$?
if [ "$(id -u)" -eq 0 ]; then
  .venv/bin/python -m pytest -q -p no:cacheprovider tests || status=$?
else
  echo "test: the Slurm tests need root (slurmd, namespaces); running the rest" >&2
  .venv/bin/python -m pytest -q -p no:cacheprovider -m "not slurm" tests || status=$?
fi
# A real PBS Pro on four hosts (root only: its daemons and namespaces need it). The pbs tests
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

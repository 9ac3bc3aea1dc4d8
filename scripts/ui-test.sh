#!/usr/bin/env bash
# The UI tests: real JupyterLab (from .venv, set up by scripts/setup.sh) driven by Playwright
# in Debian's Chromium. Afterwards, nothing the server started may be left running.
# As root it also installs Debian's chromium if missing and starts the test Slurm
# (scripts/slurm-up.sh: slurm-wlm and munge packages, a bridge and three namespaces), which it
# stops again at the end; it ends no process it did not start.
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
slurm_node_state=$(mktemp -d)
pbs_node_state=$(mktemp -d)
pbs_node_jobfs=$(mktemp -d)
cleanup() {
  [ -z "${DASK_HPC_SLURM_DIR:-}" ] || bash scripts/slurm-down.sh "$DASK_HPC_SLURM_DIR"
  rm -rf "$DASK_HPC_STATE_DIR" "$slurm_node_state" "$pbs_node_state" "$pbs_node_jobfs"
}
trap cleanup EXIT

# A real Slurm, so the sidebar's "workers on other nodes" launches real worker jobs on other
# hosts (slurmd needs root; elsewhere that one test is skipped and says so).
if [ "$(id -u)" -eq 0 ]; then
  slurm_exports=$(bash scripts/slurm-up.sh)
  eval "$slurm_exports"
  export DASK_HPC_UI_SLURM=1
fi

# A port free now, unless one is given: another server may hold any fixed one.
export UI_TESTS_PORT="${UI_TESTS_PORT:-$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

status=0
(cd ui-tests && npx playwright test) || status=$?
# Again, with the server inside a pretend Slurm job (its own state directory).
(cd ui-tests && DASK_HPC_STATE_DIR=$slurm_node_state SLURM_JOB_ID=5 SLURM_CPUS_ON_NODE=2 SLURM_MEM_PER_NODE=4096 \
  npx playwright test -c playwright.slurm-node.config.js) || status=$?
# And inside a pretend Gadi job whose qstat (pbs-node/bin) reports its project, queue, storage
# and jobfs request, with a job directory of its own (PBS_JOBFS) the jobfs spec fills, and a
# one-hour walltime that started now (in qstat's own form of a time).
(cd ui-tests && DASK_HPC_STATE_DIR=$pbs_node_state PBS_JOBID=12.gadi-pbs PBS_NCPUS=2 PBS_VMEM=4gb PBS_JOBFS=$pbs_node_jobfs \
  DASK_HPC_UI_JOB_STIME="$(LC_ALL=C date '+%a %b %e %H:%M:%S %Y')" PATH="$PWD/pbs-node/bin:$PATH" \
  npx playwright test -c playwright.pbs-node.config.js) || status=$?

# Every job in this Slurm was submitted by these tests.
if [ -n "${DASK_HPC_UI_SLURM:-}" ] && [ -n "$(squeue -h -o %i)" ]; then
  echo "ui-test: worker jobs were left in Slurm's queue:" >&2; squeue >&2
  status=1
fi

# Playwright kills the server; its sidecar must stop every cluster and leave within 30 s.
for _ in $(seq 60); do
  pgrep -f "dask-hpc.mjs serve --socket ($DASK_HPC_STATE_DIR|$slurm_node_state|$pbs_node_state)" >/dev/null || break
  sleep 0.5
done
if pgrep -af "dask-hpc.mjs serve --socket ($DASK_HPC_STATE_DIR|$slurm_node_state|$pbs_node_state)"; then
  echo "ui-test: the sidecar outlived the Jupyter server" >&2
  status=1
fi
exit $status

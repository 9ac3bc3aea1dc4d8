#!/usr/bin/env bash
# Stops what slurm-up.sh started (jobs first, so no worker outlives the test run).
set -u
dir="${1:-/tmp/dask-hpc-slurm}"
export SLURM_CONF="$dir/slurm.conf"
scancel --user "$(id -un)" 2>/dev/null || true
for f in slurmd slurmctld; do
  [ -f "$dir/$f.pid" ] && kill "$(cat "$dir/$f.pid")" 2>/dev/null
done
sleep 1; pkill -x slurmstepd 2>/dev/null || true
exit 0

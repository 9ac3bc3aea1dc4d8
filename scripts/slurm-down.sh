#!/usr/bin/env bash
# Stops what slurm-up.sh started, and only that: its jobs, slurmd and slurmctld, any process
# left in its namespaces, its munged; then removes the namespaces, the bridge, the route and
# (if slurm-up.sh made it) the directory. Safe to run when nothing is up.
# Usage: bash scripts/slurm-down.sh [DIR]   (default: the directory slurm-up.sh recorded)
set -u
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/slurm-lib.sh"
[ "$(id -u)" = 0 ] || { echo "slurm-down: needs root, as slurm-up" >&2; exit 2; }
dir="${1:-$(cat "$SLURM_RECORD" 2>/dev/null || true)}"
[ -n "$dir" ] && [ -d "$dir" ] || { echo "slurm-down: no test Slurm is up" >&2; rm -f "$SLURM_RECORD"; exit 0; }
export SLURM_CONF="$dir/slurm.conf"

alive() { kill -0 "$1" 2>/dev/null; }
# stop PID…: SIGTERM, then SIGKILL what is still there after 10 s.
stop() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null
  for _ in $(seq 50); do
    local any=0 p
    for p in "$@"; do alive "$p" && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.2
  done
  kill -KILL "$@" 2>/dev/null
}
pid_of() { [ -s "$1" ] && tr -dc '0-9' < "$1"; }

# Jobs first (every job in this Slurm was submitted by the tests), so no worker outlives the run.
if [ -f "$SLURM_CONF" ] && [ -s "$dir/slurmctld.pid" ]; then
  jobs=$(timeout 20 squeue -h -o %i 2>/dev/null || true)
  [ -z "$jobs" ] || timeout 20 scancel $jobs 2>/dev/null
  for _ in $(seq 40); do [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.25; done
fi
namespaces=$(cat "$dir/namespaces" 2>/dev/null || true)
daemons=""
for f in "$dir"/slurmd.*.pid "$dir/slurmctld.pid"; do
  p=$(pid_of "$f") && alive "$p" && daemons="$daemons $p"
done
stop $daemons
# What is still inside our hosts (job steps, workers): by pid, namespace by namespace.
for n in $namespaces; do
  [ -e "/run/netns/$n" ] || continue
  left=$(ip netns pids "$n" 2>/dev/null | grep -vx "$$" | tr '\n' ' ')
  [ -z "${left// /}" ] || { echo "slurm-down: ending processes left on $n: $left" >&2; stop $left; }
done
p=$(pid_of "$dir/munge/munged.pid") && alive "$p" && stop "$p"

for n in $namespaces; do
  ip netns del "$n" 2>/dev/null
  umount "$dir/ns/$n.uts" 2>/dev/null
done
mountpoint -q "$dir/ns" && umount "$dir/ns"
ip link del "$SLURM_BRIDGE" 2>/dev/null
[ -f "$dir/route" ] && ip route del unreachable "$SLURM_SUBNET.0/24" metric 4000 2>/dev/null
rm -f "$dir/route" "$dir/namespaces"
[ "$(cat "$SLURM_RECORD" 2>/dev/null)" = "$dir" ] && rm -f "$SLURM_RECORD"
if [ -f "$dir/.made-by-slurm-up" ] && [ -z "${DASK_HPC_SLURM_KEEP:-}" ] && ! mountpoint -q "$dir/ns"; then rm -rf "$dir"; fi
exit 0

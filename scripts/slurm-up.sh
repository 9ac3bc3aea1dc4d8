#!/usr/bin/env bash
# A real Slurm on this machine for the batch tests: Debian's slurm-wlm and munge, one
# controller and one slurmd (node "$(hostname -s)"), configured in their own directory so
# nothing under /etc/slurm changes. Prints the `export SLURM_CONF=…` line clients need.
# Usage: bash scripts/slurm-up.sh [DIR]   (default /tmp/dask-hpc-slurm); slurm-down.sh stops it.
set -euo pipefail
dir="${1:-/tmp/dask-hpc-slurm}"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -q slurm-wlm munge >/dev/null; }
  else
    echo "slurm-up: install Debian's slurm-wlm and munge first (needs root)" >&2; exit 2
  fi
fi
[ "$(id -u)" = 0 ] || { echo "slurm-up: slurmd must run as root" >&2; exit 2; }
node="$(hostname -s)"
mkdir -p "$dir"/{state,spool,log}
# Four slots on however many cores: enough single-core worker jobs to scale up and down.
cat > "$dir/slurm.conf" <<CONF
ClusterName=daskhpc
SlurmctldHost=$node
SlurmUser=root
SlurmctldPort=6917
SlurmdPort=6918
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=1
MinJobAge=60
KillWait=5
InactiveLimit=0
NodeName=$node CPUs=4 RealMemory=16000 TmpDisk=1000 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
: > "$dir/cgroup.conf"
# munged runs as the munge user with its key from the package.
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || mungekey --create
  mkdir -p /run/munge && chown munge:munge /run/munge
  runuser -u munge -- /usr/sbin/munged
fi
export SLURM_CONF="$dir/slurm.conf"
pkill -x slurmctld 2>/dev/null || true; pkill -x slurmd 2>/dev/null || true; sleep 0.5
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"; exit 0
  fi
  sleep 0.5
done
echo "slurm-up: node $node did not become idle; see $dir/log" >&2
sinfo -N -l >&2 || true; tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1

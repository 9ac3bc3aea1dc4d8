#!/usr/bin/env bash
# A real Slurm of four hosts on this machine for the batch tests: Debian's slurm-wlm 22.05.
# slurmctld runs here (root network namespace) on the address 192.168.253.1 of a private bridge
# (slurmbr0); three slurmd hosts, slurm-node-1..3, each in a network and UTS namespace of its own
# (192.168.253.11..13, hostname = node name), reach it over that bridge. Clients (sbatch, squeue,
# scancel) work from here as from a login node. A munged of our own (its own key, socket and
# pid file in DIR) authenticates every host; the system's munge, /etc/slurm and /etc/hosts are
# left alone. An `unreachable` route for the subnet means nothing for it ever leaves the machine.
# The unprivileged user DASK_HPC_SLURM_USER (slurmuser) is created if missing and kept (like
# pbs-up.sh's PBS_GADI_USER): the hosts share this machine's /etc/passwd, so Slurm runs its jobs as it.
# Prints the `export …` lines clients need (eval them). slurm-down.sh DIR stops all of it.
# Usage: bash scripts/slurm-up.sh [DIR]   (default: a new mktemp -d directory)
# Knobs: DASK_HPC_SLURM_SUBNET (default 192.168.253), DASK_HPC_SLURM_NODES (3),
#        DASK_HPC_SLURM_CPUS (per node, 2), DASK_HPC_SLURM_MEM_MB (per node, 6000).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/slurm-lib.sh"
[ "$(id -u)" = 0 ] || { echo "slurm-up: slurmd and namespaces need root" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -q slurm-wlm munge >/dev/null; }
fi
for c in ip nsenter unshare python3; do command -v $c >/dev/null || { echo "slurm-up: $c is missing" >&2; exit 2; }; done

if [ -e "/sys/class/net/$SLURM_BRIDGE" ] || [ -s "$SLURM_RECORD" ]; then
  up_already=$(cat "$SLURM_RECORD" 2>/dev/null || echo "bridge $SLURM_BRIDGE exists")
  echo "slurm-up: a test Slurm is already up ($up_already); stop it with scripts/slurm-down.sh" >&2
  exit 2
fi
existing=$(ip route show "$SLURM_SUBNET.0/24" | grep -v '^unreachable' || true)
[ -z "$existing" ] || { echo "slurm-up: $SLURM_SUBNET.0/24 is in use here ($existing); set DASK_HPC_SLURM_SUBNET" >&2; exit 2; }

id "$SLURM_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SLURM_USER"

if [ -n "${1:-}" ]; then dir="$1"; mkdir -p "$dir"; else dir=$(mktemp -d /tmp/dask-hpc-slurm.XXXXXX); touch "$dir/.made-by-slurm-up"; fi
dir=$(cd "$dir" && pwd)
# Job processes of any user read the config and reach munged's socket through it.
chmod 755 "$dir"
echo "$dir" > "$SLURM_RECORD"
# From here on, a failure takes down whatever was started.
on_exit() {
  local status=$?
  [ $status = 0 ] && return
  echo "slurm-up: failed; logs in $dir/log" >&2
  tail -n 5 "$dir"/log/*.log >&2 2>/dev/null
  DASK_HPC_SLURM_KEEP=1 bash "$here/slurm-down.sh" "$dir" >&2
}
trap on_exit EXIT
mkdir -p "$dir"/{state,spool,log,munge,ns}

# --- network: the bridge here, one namespace per slurmd host ------------------------------
# Belt and braces: should the bridge go, the subnet still goes nowhere (the bridge's own route wins while it exists).
ip route add unreachable "$SLURM_SUBNET.0/24" metric 4000
echo route > "$dir/route"
ip link add "$SLURM_BRIDGE" type bridge
ip addr add "$SLURM_SUBNET.1/24" dev "$SLURM_BRIDGE"
ip link set "$SLURM_BRIDGE" up
# UTS namespaces are kept alive by a bind mount on a file, which needs a private mount point.
mount --bind "$dir/ns" "$dir/ns"
mount --make-private "$dir/ns"
: > "$dir/namespaces"
node_lines=""
for i in $(seq 1 "$SLURM_NODES"); do
  n=$(slurm_node_name "$i")
  ip netns add "$n"
  echo "$n" >> "$dir/namespaces"
  touch "$dir/ns/$n.uts"
  unshare --uts="$dir/ns/$n.uts" hostname "$n"
  ip -n "$n" link set lo up
  ip link add "slurmv$i" type veth peer name eth0 netns "$n"
  ip link set "slurmv$i" master "$SLURM_BRIDGE" up
  ip -n "$n" addr add "$SLURM_SUBNET.$((10 + i))/24" dev eth0
  ip -n "$n" link set eth0 up
  node_lines="$node_lines
NodeName=$n NodeAddr=$SLURM_SUBNET.$((10 + i)) NodeHostname=$n CPUs=$SLURM_CPUS RealMemory=$SLURM_MEM_MB TmpDisk=1000 State=UNKNOWN"
done

# --- munge: a key and a daemon of our own --------------------------------------------------
mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
chmod 600 "$dir/munge/munge.key"
munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" --force
for _ in $(seq 40); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.25; done

# --- Slurm -----------------------------------------------------------------------------------
# slurmctld listens on a port free now (the hosts reach it at the bridge address).
ctld_port=$(python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$SLURM_SUBNET.1")
cat > "$dir/slurm.conf" <<CONF
ClusterName=daskhpc
SlurmctldHost=$(hostname -s)($SLURM_SUBNET.1)
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.%n.log
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
MinJobAge=120
KillWait=5
InactiveLimit=0
$node_lines
# LLN: each new job goes to the least loaded host, so three one-core jobs land on three hosts.
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP LLN=YES
CONF
echo "# no cgroups here: proctrack/linuxproc and task/none" > "$dir/cgroup.conf"
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
for i in $(seq 1 "$SLURM_NODES"); do
  n=$(slurm_node_name "$i")
  mkdir -p "$dir/spool/$n"
  slurm_in_node "$dir" "$n" slurmd -f "$SLURM_CONF" -N "$n"
done
for _ in $(seq 120); do
  if [ "$(timeout 5 sinfo -h -N -o '%N %T' 2>/dev/null | grep -cE ' (idle|mixed|allocated)$')" = "$SLURM_NODES" ]; then
    echo "export SLURM_CONF=$SLURM_CONF"
    echo "export DASK_HPC_SLURM_DIR=$dir"
    # Where workers on the other hosts reach a scheduler started here.
    echo "export DASK_HPC_SLURM_INTERFACE=$SLURM_BRIDGE"
    echo "export DASK_HPC_SLURM_ADDRESS=$SLURM_SUBNET.1"
    echo "export DASK_HPC_SLURM_USER=$SLURM_USER"
    exit 0
  fi
  sleep 0.5
done
echo "slurm-up: the $SLURM_NODES slurmd hosts did not all become idle" >&2
timeout 5 sinfo -N -l >&2 || true
exit 1

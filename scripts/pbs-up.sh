#!/usr/bin/env bash
# A real PBS Pro (OpenPBS 23.06), Gadi-like, on four compute hosts, for the batch tests.
# Wraps the recipe in ../shared/openpbs beside the clone (DASK_HPC_OPENPBS_DIR elsewhere):
# builds it once into /opt/pbs (5-9 min; skipped when installed), then starts server
# gadi-pbs and hosts gadi-cpu-clx-0001..0004, each in its own network and UTS namespace on
# a private bridge (192.168.254.0/24, unreachable from the root namespace). Needs root.
# Clients run on the "login node" through scripts/pbs-exec.sh; scripts/pbs-down.sh stops it all.
set -euo pipefail
recipe="$(bash "$(dirname "$0")/pbs-recipe.sh")"
[ "$(id -u)" = 0 ] || { echo "pbs-up: OpenPBS's daemons and the namespaces need root" >&2; exit 2; }
if [ ! -x /opt/pbs/sbin/pbs_server.bin ] || [ ! -x /opt/pbs/sbin/pbs_mom ]; then
  bash "$recipe/pbs-build.sh"
fi
# Two cores each, as many as this machine has: a select=3 job takes one chunk per host.
PBS_GADI_NODES="${PBS_GADI_NODES:-4}" PBS_GADI_NCPUS="${PBS_GADI_NCPUS:-2}" \
  PBS_GADI_USER="${PBS_GADI_USER:-pbsuser}" bash "$recipe/pbs-up.sh"

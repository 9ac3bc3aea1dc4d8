#!/usr/bin/env bash
# Prints the directory of the OpenPBS recipe (pbs-build.sh, pbs-up.sh, …): ../shared/openpbs
# beside the clone, as CI has it, or DASK_HPC_OPENPBS_DIR.
set -euo pipefail
dir="${DASK_HPC_OPENPBS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/openpbs}"
[ -x "$dir/pbs-up.sh" ] || { echo "pbs: no OpenPBS recipe at $dir (set DASK_HPC_OPENPBS_DIR)" >&2; exit 2; }
cd "$dir" && pwd

#!/usr/bin/env bash
# Past one node: dask-hpc's worker jobs against dask-jobqueue's PBSCluster on the test OpenPBS
# with NODES hosts of NCPUS cores (default 4 × 2), alternating (bench/scale_out.py; its flags
# pass through: --jobs 2,4 --repeats 3). Brings the test PBS up and down again; needs root.
# Not part of the tests: it prints medians and ratios and writes bench/scale-out.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The peer, pinned: pure Python, its dependencies are already in .venv.
.venv/bin/python -m pip install --quiet --no-deps dask-jobqueue==0.9.0
export PBS_GADI_NODES="${NODES:-4}" PBS_GADI_NCPUS="${NCPUS:-2}"
trap 'bash scripts/pbs-down.sh >/dev/null 2>&1' EXIT
bash scripts/pbs-up.sh >/dev/null
bash scripts/pbs-exec.sh env PBS_GADI_NCPUS="$PBS_GADI_NCPUS" .venv/bin/python bench/scale_out.py "$@"

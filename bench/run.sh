#!/usr/bin/env bash
# The benchmark: ready and teardown times of this product against its peers, alternating in
# one run, and the sidecar's own cost. Prints a table and writes bench/results.json.
# Not part of the tests: machines here are noisy, so it reports medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The peer from seed 000, pinned; its dependencies are already in .venv.
.venv/bin/python -m pip install --quiet --no-deps dask-setup==2.3.0
exec .venv/bin/python bench/bench.py "$@"

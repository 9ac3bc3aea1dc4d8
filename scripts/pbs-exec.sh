#!/usr/bin/env bash
# Runs a command on the PBS "login node" (the head host's namespace, PBS's commands on PATH),
# as the pbs tests must: e.g. bash scripts/pbs-exec.sh .venv/bin/python -m pytest -m pbs tests/test_pbs.py
set -euo pipefail
exec bash "$(bash "$(dirname "$0")/pbs-recipe.sh")/pbs-exec.sh" "$@"

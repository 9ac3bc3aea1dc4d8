#!/usr/bin/env bash
# Stops what scripts/pbs-up.sh started: PBS's daemons, every job process on every host, the
# namespaces, the bridge, the /etc/hosts lines and the root namespace's unreachable route.
set -euo pipefail
bash "$(bash "$(dirname "$0")/pbs-recipe.sh")/pbs-down.sh"

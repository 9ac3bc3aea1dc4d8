#!/usr/bin/env bash
# Prints a digest of everything the build reads, by content (an edit not yet committed counts):
# setup.sh records it after a build, open.sh skips a build whose digest has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  find src style schema jupyterlab_dask_hpc -type f \
    -not -path 'jupyterlab_dask_hpc/labextension/*' -not -path 'jupyterlab_dask_hpc/_sidecar/*' \
    -not -name '*.pyc' -not -name '_version.py' -print0 | sort -z | xargs -0 sha256sum
  sha256sum package.json package-lock.json pyproject.toml requirements-dev.lock scripts/setup.sh scripts/bundle-sidecar.mjs
} | sha256sum | cut -c1-16

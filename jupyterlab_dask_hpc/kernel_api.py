"""The kernel side: reach a cluster the sidebar or `dask-hpc` started, or start one.

`setup_dask_client` keeps seed 000's signature and return value, so a notebook written for
`dask_setup` changes one import line; the cluster is planned and run by the same engine as
the sidebar's (through the sidecar inside JupyterLab, through `dask-hpc up` elsewhere).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .paths import SIDECAR_SCRIPT, find_node, node_start_environment, recorded_here, state_dir, this_host
from .unix_http import DaskHpcError, call


def _alive(pid) -> bool:
    """As the engine's processAlive: a zombie has ended, though signal 0 still reaches it."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        # "PID (COMMAND) STATE ...": the command may hold spaces and parentheses.
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "Z"


def _records() -> list[dict]:
    directory = state_dir()
    if not directory.is_dir():
        return []
    records = []
    for record in directory.glob("*.json"):
        try:
            records.append(json.loads(record.read_text()))
        except (OSError, ValueError):
            continue
    return records


def running_clusters() -> list[dict]:
    """This user's running clusters on this node, from the dask-hpc state directory, oldest first.
    Other nodes' records (the directory may be in a shared $HOME) are not judged: their pids are theirs."""
    here = this_host()
    clusters = [
        cluster for cluster in _records()
        if recorded_here(cluster, here) and cluster.get("status") == "running" and _alive(cluster.get("scheduler_pid"))
    ]
    return sorted(clusters, key=lambda c: c.get("created_at", ""))


def _find(name_or_id: str | None) -> dict:
    clusters = running_clusters()
    if name_or_id is not None:
        clusters = [c for c in clusters if name_or_id in (c["id"], c["name"])]
    if not clusters and name_or_id is not None:
        here = this_host()["host"]
        for other in _records():
            if name_or_id in (other.get("id"), other.get("name")) and other.get("host") != here:
                raise LookupError(
                    f"cluster {other.get('id')} runs on host {other.get('host') or '(unknown)'}, not on {here}: "
                    "connect from a kernel on that node"
                )
    if not clusters:
        wanted = f" named {name_or_id!r}" if name_or_id else ""
        raise LookupError(
            f"no running Dask cluster{wanted}: start one in the Dask HPC sidebar, "
            "with setup_dask_client(), or with `dask-hpc up`"
        )
    return clusters[-1]  # the newest, when several run


class HpcCluster:
    """A dask-hpc cluster as seed 000's `cluster`: scale, adapt, close, dashboard_link."""

    def __init__(self, state: dict):
        self.state = state

    def _ask(self, method: str, body: dict | None = None) -> dict:
        socket_path = self.state.get("control_socket")
        if not socket_path:
            raise DaskHpcError(f"cluster {self.id} has no owner to ask")
        result = call(socket_path, method, f"/api/clusters/{self.id}", body)
        self.state = result
        return result

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def name(self) -> str:
        return self.state["name"]

    @property
    def scheduler_address(self) -> str:
        return self.state["scheduler_address"]

    @property
    def dashboard_link(self) -> str:
        return self.state["dashboard_url"]

    @property
    def local_directory(self) -> str:
        return self.state["local_directory"]

    def scale(self, n: int) -> None:
        self._ask("PATCH", {"n_workers": n})

    def adapt(self, minimum: int = 0, maximum: int | None = None) -> None:
        maximum = self.state["plan"]["n_workers"] if maximum is None else maximum
        self._ask("PATCH", {"adaptive": {"minimum": minimum, "maximum": maximum}})

    def close(self) -> None:
        if self.state.get("status") not in ("stopped", "failed"):
            self._ask("DELETE")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<HpcCluster {self.name} ({self.id}) {self.state.get('status')} {len(self.state.get('workers', []))} workers>"


def security(cluster: dict):
    """The `distributed.Security` that opens a cluster: its CA, certificate and key (tls:// only)."""
    from distributed.security import Security

    files = cluster.get("security")
    if not files:
        return Security()
    return Security(
        tls_ca_file=files["tls_ca_file"],
        tls_client_cert=files["tls_cert"],
        tls_client_key=files["tls_key"],
        require_encryption=True,
    )


class VersionMismatchWarning(UserWarning):
    """The kernel's `distributed` is not the cluster's: results may break in odd ways."""


def check_versions(client, cluster: dict) -> None:
    """Warns, in words a user can act on, when this kernel's distributed differs from the
    scheduler's: client and workers must share one Python environment (seed 002)."""
    import warnings

    import distributed

    theirs = client.run_on_scheduler(lambda: __import__("distributed").__version__)
    if theirs != distributed.__version__:
        warnings.warn(
            f"this kernel has distributed {distributed.__version__}, but cluster {cluster['name']} runs "
            f"distributed {theirs} from {cluster.get('python')}: start the cluster with this kernel's Python "
            f"({sys.executable}: dask-hpc up --python, or the server's DaskHpcApp.python)",
            VersionMismatchWarning,
            stacklevel=3,
        )


def connect(name_or_id: str | None = None, **client_kwargs):
    """A `distributed.Client` for a running cluster (the newest, unless one is named)."""
    from distributed import Client

    cluster = _find(name_or_id)
    client_kwargs.setdefault("security", security(cluster))
    client = Client(cluster["scheduler_address"], **client_kwargs)
    check_versions(client, cluster)
    return client


SIDECAR_WAIT_SECONDS = 30


def _wait_for_sidecar(socket_path: str) -> None:
    """A sidecar starting or restarting has not made its socket yet: give it a moment."""
    deadline = time.monotonic() + SIDECAR_WAIT_SECONDS
    while not os.path.exists(socket_path):
        if time.monotonic() > deadline:
            raise DaskHpcError(f"the dask-hpc sidecar has not opened {socket_path}; see the Jupyter server's log")
        time.sleep(0.1)


def _start(body: dict) -> dict:
    sidecar_socket = os.environ.get("DASK_HPC_SIDECAR_SOCKET")
    if sidecar_socket:
        # Inside JupyterLab: the sidecar starts it, so it shows in the sidebar.
        _wait_for_sidecar(sidecar_socket)
        return call(sidecar_socket, "POST", "/api/clusters?wait=ready", body)
    flags = []
    for field, flag in (
        ("workload", "--workload"),
        ("max_workers", "--max-workers"),
        ("reserve_mem_gb", "--reserve-mem-gb"),
        ("max_mem_gb", "--max-mem-gb"),
        ("name", "--name"),
    ):
        if body.get(field) is not None:
            flags += [flag, str(body[field])]
    command = [find_node(), str(SIDECAR_SCRIPT), "up", "--detach", "--python", sys.executable, *flags]
    result = subprocess.run(command, capture_output=True, text=True, env=node_start_environment())
    message = result.stderr.strip().removeprefix("dask-hpc: ")
    if result.returncode == 2:
        raise ValueError(message)
    if result.returncode != 0:
        raise DaskHpcError(message)
    return json.loads(result.stdout)


def setup_dask_client(
    workload_type: str = "io",
    max_workers: int | None = None,
    reserve_mem_gb: float | None = None,
    max_mem_gb: float | None = None,
    dashboard: bool = True,
    adaptive: bool = False,
    min_workers: int | None = None,
    *,
    name: str | None = None,
):
    """Seed 000's helper on the dask-hpc engine: returns (client, cluster, dask_local_dir).

    reserve_mem_gb=None keeps back what the node needs (1 GiB + 10%, at most 50 GiB)
    rather than the seed's fixed 50 GiB, which leaves nothing of a 16 GiB ARE session.
    """
    from distributed import Client

    body = {
        "workload": workload_type,
        "max_workers": max_workers,
        "reserve_mem_gb": reserve_mem_gb,
        "max_mem_gb": max_mem_gb,
        "name": name,
    }
    cluster = HpcCluster(_start({k: v for k, v in body.items() if v is not None}))
    if adaptive:
        cluster.adapt(minimum=min_workers or 1, maximum=max_workers or cluster.state["plan"]["n_workers"])
    client = Client(cluster.scheduler_address, security=security(cluster.state))
    check_versions(client, cluster.state)
    if dashboard:
        print(f"Dask dashboard: {cluster.dashboard_link}")
        print(f"From your laptop: {cluster.state['tunnel_command']}  then open http://localhost:8787/status")
        print(f"Temp and spill: {cluster.local_directory}")
    return client, cluster, cluster.local_directory

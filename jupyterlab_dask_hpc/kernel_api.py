"""The kernel side: reach a cluster the sidebar or `dask-hpc` started (`connect`), or start
one (`setup_dask_client`, in setup_client.py)."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

from .paths import recorded_here, state_dir, this_host


def __getattr__(name):
    # Imported on first use: the server extension imports this package, and needs no distributed.
    if name == "HpcCluster":
        from .hpc_cluster import HpcCluster

        return HpcCluster
    if name == "setup_dask_client":
        from .setup_client import setup_dask_client

        return setup_dask_client
    raise AttributeError(name)


def _alive(pid, start_time=None) -> bool:
    """As the engine's recordedProcessRuns (process-identity.ts): a live process of this user
    holds the pid and, where recorded, started then (a pid reused since names another process).
    A zombie has ended; another user's process at the pid is not the recorded one."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid < 1:
        return False
    try:
        # "PID (COMMAND) STATE ...": the command may hold spaces and parentheses.
        stat = Path(f"/proc/{pid}/stat").read_text()
        owner = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X") or owner != os.getuid():
        return False
    return start_time is None or fields[19] == str(start_time)


def _records() -> list[dict]:
    directory = state_dir()
    if not directory.is_dir():
        return []
    records = []
    for record in directory.glob("*.json"):
        try:
            value = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        # Another shape (a newer version's, a broken disk's): the engine warns of it; here it is skipped.
        if _usable(value, record.stem):
            records.append(value)
    return records


def _pid_or_none(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


def _usable(value, stem: str) -> bool:
    """What the kernel side reads of a record has the types the engine writes (cluster-record.ts checks it all)."""
    return (
        isinstance(value, dict)
        and value.get("id") == stem
        and all(isinstance(value.get(key), str) for key in ("name", "status", "created_at"))
        and all(isinstance(value.get(key, ""), str) for key in ("host", "boot_id", "machine_id"))
        and value.get("owner_pid") is not None
        and all(_pid_or_none(value.get(key)) for key in ("owner_pid", "scheduler_pid"))
        and all(value.get(key) is None or isinstance(value.get(key), int) for key in ("scheduler_start_time",))
        and isinstance(value.get("workers"), list)
        and (value.get("security") is None or isinstance(value.get("security"), dict))
    )


def running_clusters() -> list[dict]:
    """This user's running clusters on this node, from the dask-hpc state directory, oldest first.
    Other nodes' records (the directory may be in a shared $HOME) are not judged: their pids are theirs."""
    here = this_host()
    clusters = [
        cluster
        for cluster in _records()
        if recorded_here(cluster, here)
        and cluster.get("status") == "running"
        and _alive(cluster.get("scheduler_pid"), cluster.get("scheduler_start_time"))
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
            f"no running Dask cluster{wanted}: start one in the Dask HPC sidebar, with setup_dask_client(), or with `dask-hpc up`"
        )
    return clusters[-1]  # the newest, when several run


def dashboard_route(cluster_id: str) -> str | None:
    """The cluster's own dashboard route under the Jupyter server that started this kernel
    (it sets DASK_HPC_BASE_URL), or None outside one. The route names the cluster, never a port."""
    base_url = os.environ.get("DASK_HPC_BASE_URL")
    return f"{base_url.rstrip('/')}/dask-hpc/dashboard/{cluster_id}/status" if base_url else None


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


def shut_down(cluster_id: str) -> bool:
    """Whether the cluster is being or has been shut down on purpose: its record says
    "stopping" (written before its processes are ended) or is gone. A crash is not this."""
    here = this_host()
    for record in _records():
        if record.get("id") == cluster_id and recorded_here(record, here):
            return record.get("status") in ("stopping", "stopped")
    return True


@functools.cache
def _client_class():
    from distributed import Client

    class ClusterClient(Client):
        """A client that closes quietly when its cluster is shut down (from the sidebar, `dask-hpc
        down`), as `Client(cluster)` does when its cluster closes, instead of trying to reconnect
        for 30 s and then logging an error in every notebook connected to it."""

        def __init__(self, address, *, cluster_id: str, **kwargs):
            self._dask_hpc_cluster_id = cluster_id
            super().__init__(address, **kwargs)

        @property
        def dashboard_link(self):
            return dashboard_route(self._dask_hpc_cluster_id) or super().dashboard_link

        async def _reconnect(self):
            if not shut_down(self._dask_hpc_cluster_id):
                return await super()._reconnect()
            for future in self.futures.values():
                future.cancel(reason="cluster-shut-down", msg=f"cluster {self._dask_hpc_cluster_id} was shut down")
            self.futures.clear()
            self.scheduler_comm = None  # nothing more to read: the report loop ends
            await self._close(fast=True)

    return ClusterClient


def connect(name_or_id: str | None = None, **client_kwargs):
    """A `distributed.Client` for a running cluster (the newest, unless one is named). It closes
    itself, without an error, when the cluster is shut down."""
    cluster = _find(name_or_id)
    client_kwargs.setdefault("security", security(cluster))
    client = _client_class()(cluster["scheduler_address"], cluster_id=cluster["id"], **client_kwargs)
    check_versions(client, cluster)
    return client

"""setup_dask_client: seed 000's helper (dask-setup 2.3.0's signature) on the dask-hpc engine.

A notebook or batch script written for `dask_setup` changes one import line. The cluster is
planned and run by the same engine as the sidebar's: through the sidecar inside JupyterLab (it
shows in the sidebar and lives as long as the server), through a `dask-hpc up` tied to this
process elsewhere (it ends when this process ends, unless `detached=True`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor

from .arguments import checked
from .chunk_advice import describe, recommend_chunks
from .errors import ConfigurationError, DaskHpcError
from .owner_process import Owner
from .paths import SIDECAR_SCRIPT, find_node, node_start_environment
from .unix_http import call

SIDECAR_WAIT_SECONDS = 30


def _wait_for_sidecar(socket_path: str) -> None:
    """A sidecar starting or restarting has not made its socket yet: give it a moment."""
    deadline = time.monotonic() + SIDECAR_WAIT_SECONDS
    while not os.path.exists(socket_path):
        if time.monotonic() > deadline:
            raise DaskHpcError(f"the dask-hpc sidecar has not opened {socket_path}; see the Jupyter server's log")
        time.sleep(0.1)


def _planned_workers(body: dict) -> int:
    """The workers the engine would plan for the request (`dask-hpc plan --json`), starting nothing."""
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in body.items() if key != "name"]
    result = subprocess.run(
        [find_node(), str(SIDECAR_SCRIPT), "plan", "--json", *flags],
        capture_output=True,
        text=True,
        env=node_start_environment(),
        timeout=60,
    )
    if result.returncode != 0:
        from .owner_process import _failure

        raise _failure(result.returncode, result.stderr)
    return json.loads(result.stdout)["n_workers"]


def _start(body: dict, detached: bool, dashboard: bool) -> Owner:
    sidecar_socket = os.environ.get("DASK_HPC_SIDECAR_SOCKET")
    if sidecar_socket:
        # Inside JupyterLab: the sidecar starts it, so it shows in the sidebar (with its
        # dashboard, behind Jupyter's login, whatever `dashboard` says).
        _wait_for_sidecar(sidecar_socket)
        return Owner(call(sidecar_socket, "POST", "/api/clusters?wait=ready", body), None)
    return Owner.start(body, detached=detached, dashboard=dashboard)


def _stop_once_started(starting: Future) -> None:
    """A setup given up while its cluster was starting (an import failed, Ctrl-C) stops that cluster."""
    try:
        owner = starting.result()
    except BaseException:
        return  # it did not start: nothing runs
    owner.stop()


def setup_dask_client(
    workload_type: str | None = None,
    max_workers: int | None = None,
    reserve_mem_gb: float | None = None,
    max_mem_gb: float | None = None,
    dashboard: bool | None = None,
    adaptive: bool | None = None,
    min_workers: int | None = None,
    profile: str | None = None,
    suggest_chunks: bool | None = None,
    config=None,
    ds=None,
    fallback_on_detection_failure: bool = False,
    adaptive_memory: bool = False,
    mode: str = "interactive",
    multi_node_config=None,
    *,
    name: str | None = None,
    detached: bool = False,
):
    """Starts a cluster planned for this node or job; returns (client, cluster, dask_local_dir),
    and a fourth element, chunk lengths for `ds.chunk(...)`, when `ds` is given.

    As in dask-setup: workload_type "cpu", "io" (default) or "mixed"; max_workers, reserve_mem_gb,
    max_mem_gb (GiB), dashboard, adaptive with min_workers, profile (dask-setup's built-in
    profiles), suggest_chunks and ds. Unlike it: reserve_mem_gb=None keeps back what the node
    needs (1 GiB + 10%, at most 50 GiB), and 0 is refused; `config`, `mode` other than
    "interactive"/"local", `multi_node_config`, `adaptive_memory` and
    `fallback_on_detection_failure` are refused with what to use instead.

    Outside JupyterLab the cluster ends when this process ends, however it ends, unless
    `detached=True` (then `dask-hpc down NAME` ends it). `cluster.close()` stops it and removes
    what Dask wrote under dask_local_dir; files of your own there (a Rechunker temp_store) stay.
    TMPDIR, DASK_TEMPORARY_DIRECTORY and Dask's temporary-directory point at dask_local_dir
    until the cluster closes. Errors are `DaskHpcError`s; wrong arguments raise
    `ConfigurationError` (also a ValueError) before anything starts.
    """
    extra = {
        "config": config,
        "fallback_on_detection_failure": fallback_on_detection_failure,
        "adaptive_memory": adaptive_memory,
        "mode": mode,
        "multi_node_config": multi_node_config,
    }
    arguments = checked(
        dict(
            workload_type=workload_type,
            max_workers=max_workers,
            reserve_mem_gb=reserve_mem_gb,
            max_mem_gb=max_mem_gb,
            dashboard=dashboard,
            adaptive=adaptive,
            min_workers=min_workers,
            profile=profile,
            suggest_chunks=suggest_chunks,
            ds=ds,
            name=name,
            detached=detached,
        ),
        extra,
    )
    body = {
        "workload": arguments["workload_type"],
        "max_workers": arguments["max_workers"],
        "reserve_mem_gb": arguments["reserve_mem_gb"],
        "max_mem_gb": arguments["max_mem_gb"],
        "name": arguments["name"],
    }
    body = {key: value for key, value in body.items() if value is not None}
    minimum = arguments["min_workers"]
    if arguments["adaptive"] and minimum is not None and arguments["max_workers"] is None:
        planned = _planned_workers(body)
        if minimum > planned:
            raise ConfigurationError(
                f"min_workers={minimum} is above the {planned} workers this node has room for; use max_workers to say more"
            )

    # The engine starts the scheduler and workers while this process imports distributed (a
    # third of a second and more): the one does not need the other.
    with ThreadPoolExecutor(1, thread_name_prefix="dask-hpc-start") as pool:
        starting = pool.submit(_start, body, arguments["detached"], arguments["dashboard"])
        try:
            from distributed import Client

            from .calling_process import TemporaryFilesHere
            from .hpc_cluster import HpcCluster
            from .kernel_api import check_versions

            owner = starting.result()
        except BaseException:
            _stop_once_started(starting)
            raise
    temporary_files = TemporaryFilesHere(owner.state["local_directory"])
    cluster = client = None
    try:
        cluster = HpcCluster(owner, on_close=temporary_files.restore)
        if arguments["adaptive"]:
            cluster.adapt(minimum=minimum or 1, maximum=arguments["max_workers"] or owner.state["plan"]["n_workers"])
        client = Client(cluster)
        check_versions(client, owner.state)
        chunks = None
        target = owner.state["plan"]["recommended_chunk_bytes"]
        if ds is not None:
            chunks = recommend_chunks(ds, target)
    except BaseException:
        # Nothing is left running by a setup that failed.
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        else:
            owner.stop()
            temporary_files.restore()
        raise
    if arguments["dashboard"]:
        print(f"Dask dashboard: {cluster.dashboard_link}")
        print(f"From your laptop: {owner.state['tunnel_command']}  then open http://localhost:8787/status")
    print(f"Temp and spill: {cluster.local_directory}")
    if arguments["suggest_chunks"]:
        print(describe(chunks, target))
    if ds is not None:
        return client, cluster, cluster.local_directory, chunks
    return client, cluster, cluster.local_directory

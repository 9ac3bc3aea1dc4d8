"""A whole `jupyter server` process with the extension, as a user runs it; and the package as pip installs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import psutil
import pytest

from conftest import REPO, jupyter_server, process_tree, wait_until_gone

JUPYTER = Path(sys.executable).parent / "jupyter"
TOKEN = "test-token"


def request(base: str, method: str, path: str, body: dict | None = None, timeout: float = 120):
    req = urllib.request.Request(
        f"{base}/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.mark.timeout(120)
def test_sigkill_of_the_jupyter_server_leaves_nothing_after_30_seconds(dask_hpc, tmp_path):
    site_bundle = str(tmp_path / "site-ca.pem")  # a site's NODE_EXTRA_CA_CERTS: see below
    Path(site_bundle).write_text("")
    with jupyter_server(dask_hpc, TOKEN, NODE_EXTRA_CA_CERTS=site_bundle) as (base, server):
        try:
            cluster = request(base, "POST", "clusters?wait=ready", {"workload": "cpu"})
            assert cluster["status"] == "running"
            tree = process_tree(server.pid)
            assert len(tree) >= 6  # server, sidecar, scheduler, two nannies and their workers
            # The sidecar starts without the bundle (Node would read it first thing), and
            # gives it back to the Dask processes it starts.
            (sidecar,) = [p for p in tree if "serve" in p.cmdline() and p.name() == "node"]
            assert "NODE_EXTRA_CA_CERTS" not in sidecar.environ()
            scheduler_environ = psutil.Process(cluster["scheduler_pid"]).environ()
            assert scheduler_environ["NODE_EXTRA_CA_CERTS"] == site_bundle
            assert not any(name.startswith("DASK_HPC_DEFERRED") for name in scheduler_environ)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait()
    assert wait_until_gone(tree, 30) == []
    assert not os.path.exists(cluster["local_directory"])


def test_jupyter_lists_both_extensions_enabled():
    servers = subprocess.run([str(JUPYTER), "server", "extension", "list"], capture_output=True, text=True)
    assert (
        "jupyterlab_dask_hpc \x1b[32menabled" in servers.stderr + servers.stdout
        or "jupyterlab_dask_hpc enabled" in servers.stderr + servers.stdout
    )
    labs = subprocess.run([str(JUPYTER), "labextension", "list"], capture_output=True, text=True)
    assert "jupyterlab-dask-hpc v" in labs.stderr + labs.stdout and "enabled" in labs.stderr + labs.stdout


def test_the_wheel_carries_everything(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", str(REPO), "-w", str(tmp_path)],
        check=True,
    )
    (wheel,) = tmp_path.glob("jupyterlab_dask_hpc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in [
        "jupyterlab_dask_hpc/_sidecar/dask-hpc.mjs",
        "jupyterlab_dask_hpc/_sidecar/dask-hpc-engine.mjs",
        "jupyterlab_dask_hpc/_sidecar/python/lifeline.py",
        "jupyterlab_dask_hpc/_sidecar/python/deferred_dashboard.py",
        "jupyterlab_dask_hpc/app.py",
        "jupyterlab_dask_hpc/kernel_api.py",
    ]:
        assert expected in names
    # The engine loads the TLS library and ws from chunks beside it, on first use.
    engine = (REPO / "jupyterlab_dask_hpc" / "_sidecar" / "dask-hpc-engine.mjs").read_text()
    chunks = set(re.findall(r"\./(engine-chunks/[\w.-]+\.mjs)", engine))
    assert len(chunks) >= 2
    for chunk in chunks:
        assert f"jupyterlab_dask_hpc/_sidecar/{chunk}" in names
    data = [n for n in names if ".data/data/" in n]
    assert any(n.endswith("etc/jupyter/jupyter_server_config.d/jupyterlab_dask_hpc.json") for n in data)
    assert any(n.endswith("share/jupyter/labextensions/jupyterlab-dask-hpc/package.json") for n in data)
    assert any("labextensions/jupyterlab-dask-hpc/static/remoteEntry" in n for n in data)

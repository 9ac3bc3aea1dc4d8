"""Every cluster speaks TLS with a certificate authority of its own: only this user's clients,
holding the cluster's key, get in (a shared node's other users must not run code as us)."""

from __future__ import annotations

import socket
import ssl
import stat
from pathlib import Path

import pytest
from distributed import Client

from conftest import client_of, wait_for
from jupyterlab_dask_hpc.kernel_api import security


def mode(path: str | Path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


@pytest.fixture
def two_clusters(dask_hpc):
    first = dask_hpc.up("--workload", "cpu", "--max-workers", "1", "--name", "first")
    second = dask_hpc.up("--workload", "cpu", "--max-workers", "1", "--name", "second")
    yield first, second
    dask_hpc("down", "--all")


def test_the_cluster_speaks_tls_with_private_files_of_its_own(dask_hpc, two_clusters):
    first, second = two_clusters
    assert first["scheduler_address"].startswith("tls://")
    files = first["security"]
    assert mode(Path(files["tls_key"]).parent) == 0o700
    for path in files.values():
        assert mode(path) == 0o600
    assert Path(files["tls_ca_file"]).read_text() != Path(second["security"]["tls_ca_file"]).read_text(), "one authority per cluster"
    with client_of(first) as client:
        assert client.submit(sum, range(10)).result() == 45
        # The workers joined over TLS too.
        assert all(address.startswith("tls://") for address in client.scheduler_info()["workers"])


def test_a_plain_tcp_client_is_refused(two_clusters):
    first, _ = two_clusters
    plain = first["scheduler_address"].replace("tls://", "tcp://")
    with pytest.raises((OSError, TimeoutError)):
        Client(plain, timeout=5)


def test_a_client_without_the_cluster_certificate_is_refused(two_clusters):
    first, second = two_clusters
    # TLS, trusting the right authority, but presenting no certificate of its own: the
    # scheduler ends the handshake (a scheduler that let it in would leave recv waiting).
    host, port = first["scheduler_address"].removeprefix("tls://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=first["security"]["tls_ca_file"])
    context.check_hostname = False
    with socket.create_connection((host, int(port)), timeout=5) as raw, context.wrap_socket(raw) as tls:
        try:
            answer = tls.recv(1)  # a scheduler that accepted us would wait for our first message
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            answer = b""  # refused: the handshake or the connection ended
    assert answer == b""
    # Another cluster's certificate (signed by another authority) does not open this one.
    with pytest.raises((OSError, TimeoutError)):
        Client(first["scheduler_address"], security=security(second), timeout=5)


def test_the_files_go_with_the_cluster(dask_hpc):
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    directory = Path(cluster["security"]["tls_key"]).parent
    assert directory.is_dir()
    assert dask_hpc("down", cluster["id"]).returncode == 0
    assert not directory.exists()


def test_the_next_clusters_files_are_made_ahead_and_taken_by_one_cluster(dask_hpc):
    """Once a cluster runs, its owner makes the next cluster's TLS files (off the next start's
    critical path); the next cluster takes them whole, so they serve no other."""
    first = dask_hpc.up("--workload", "cpu", "--max-workers", "1", "--name", "first")
    ahead = dask_hpc.state_dir / "tls-ahead"
    (waiting,) = wait_for(lambda: [p.parent for p in ahead.glob("[0-9]*/key.pem")], 15, "a set made ahead")
    assert mode(ahead) == mode(waiting) == 0o700
    assert mode(waiting / "key.pem") == 0o600
    made_ahead = (waiting / "ca.pem").read_text()
    assert made_ahead != Path(first["security"]["tls_ca_file"]).read_text()

    second = dask_hpc.up("--workload", "cpu", "--max-workers", "1", "--name", "second")
    assert Path(second["security"]["tls_ca_file"]).read_text() == made_ahead
    assert not waiting.exists()
    with client_of(second) as client:
        assert client.submit(sum, [1, 2]).result() == 3
    with pytest.raises((OSError, TimeoutError)):  # the first cluster's key does not open the second
        Client(second["scheduler_address"], security=security(first), timeout=5)
    assert dask_hpc("down", "--all").returncode == 0

"""What a cluster's processes serve over HTTP to the other users of the node: the scheduler's
dashboard port (loopback, open to every local user) relays nothing onward, and workers serve
no HTTP route, on loopback only."""

from __future__ import annotations

import http.server
import threading

import psutil
import requests

from conftest import ANY_ADDRESS, client_of, listening_in_its_network_namespace, processes_mentioning, wait_for


class _Marker(http.server.BaseHTTPRequestHandler):
    """Another user's server on a loopback port: it records every request that reaches it."""

    seen: list[str] = []

    def do_GET(self):
        _Marker.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"reached the other user's server")

    def log_message(self, *args):
        pass


def test_the_scheduler_relays_nothing_and_its_dashboard_still_renders(dask_hpc):
    """distributed.http.proxy on the scheduler's port would relay (with jupyter-server-proxy
    installed, as it is here) HTTP and WebSockets to any host:port, as the user's process."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Marker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    _Marker.seen.clear()
    try:
        cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
        dashboard = cluster["dashboard_address"]
        # The dashboard renders (once the deferred Bokeh app is attached): the route stays usable.
        status = wait_for(lambda: (r := requests.get(f"{dashboard}/status", timeout=30)).ok and r, 60, "the dashboard")
        assert "bokeh" in status.text.lower()
        for path in (f"/proxy/{port}/127.0.0.1/", f"/proxy/{port}/localhost/anything"):
            answer = requests.get(f"{dashboard}{path}", timeout=10)
            assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
            assert b"other user's server" not in answer.content
        assert _Marker.seen == [], "the scheduler's port reached the other server"
        assert dask_hpc("down", "--all").returncode == 0
    finally:
        server.shutdown()


def test_no_worker_listens_beyond_loopback_and_workers_serve_no_http(dask_hpc):
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "2")
    with client_of(cluster) as client:
        client.wait_for_workers(2, timeout=30)
        workers = client.scheduler_info()["workers"]
        pids = client.run(lambda: __import__("os").getpid())
        for address, info in workers.items():
            http_port = info["services"]["dashboard"]  # Dask's name for the worker's HTTP server
            listening = listening_in_its_network_namespace(pids[address])
            assert ("127.0.0.1", http_port) in listening, listening
            for route in ("/metrics", "/health", "/info/main/workers.html"):
                assert requests.get(f"http://127.0.0.1:{http_port}{route}", timeout=10).status_code == 404, route
    # No process of the cluster (scheduler, nannies, workers) listens on every interface.
    processes = processes_mentioning(cluster["local_directory"])
    assert len(processes) >= 4  # the scheduler, a worker process's nannies and their workers
    for process in processes:
        try:
            listening = listening_in_its_network_namespace(process.pid)
        except (FileNotFoundError, psutil.Error):
            continue
        assert not [a for a in listening if a[0] in ANY_ADDRESS], (process.cmdline(), listening)
    assert dask_hpc("down", "--all").returncode == 0

"""Ready and teardown times of dask-hpc against the bare `dask` CLI, LocalCluster and dask-setup,
alternating in one run; and the sidecar's latency, memory and idle CPU through Jupyter.

Every method starts the same topology: N workers with one thread each and the same memory
limit. "Ready" is from the request to every worker registered with the scheduler.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CLI = [shutil.which("node") or "node", str(REPO / "lib" / "dask-hpc.mjs")]
PYTHON = sys.executable
GiB = 2**30
RESERVE_GB = 2


def memory_limit_bytes(n_workers: int) -> int:
    return (psutil.virtual_memory().total - RESERVE_GB * GiB) // n_workers


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    procs = [psutil.Process(p) for p in pids if psutil.pid_exists(p)]
    psutil.wait_procs(procs, timeout=max(0.0, deadline - time.monotonic()))


# --- the methods: each returns (ready_seconds, teardown_seconds) -------------------------


def dask_hpc_cli(n: int, env: dict) -> tuple[float, float]:
    with Timer() as ready:
        out = subprocess.run(
            [*CLI, "up", "--detach", "--workload", "cpu", "--max-workers", str(n), "--reserve-mem-gb", str(RESERVE_GB), "--python", PYTHON],
            env=env, capture_output=True, text=True, check=True,
        )
    cluster = json.loads(out.stdout)
    tree = [cluster["owner_pid"], cluster["scheduler_pid"], *[w["pid"] for w in cluster["workers"]]]
    with Timer() as teardown:
        subprocess.run([*CLI, "down", cluster["id"]], env=env, capture_output=True, check=True)
        wait_gone(tree)
    return ready.seconds, teardown.seconds


class JupyterServer:
    """A `jupyter server` with the extension, for the REST path and the sidecar's cost."""

    def __init__(self, env: dict):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = "bench"
        self.process = subprocess.Popen(
            [str(Path(PYTHON).parent / "jupyter"), "server", "--no-browser", "--allow-root", f"--port={self.port}",
             f"--IdentityProvider.token={self.token}", f"--DaskHpcApp.python={PYTHON}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.call("GET", "resources")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/dask-hpc/api/{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())

    def sidecar(self) -> psutil.Process:
        return next(p for p in psutil.Process(self.process.pid).children() if "serve" in p.cmdline())

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def dask_hpc_rest(server: JupyterServer):
    def method(n: int, env: dict) -> tuple[float, float]:
        with Timer() as ready:
            cluster = server.call("POST", "clusters?wait=ready", {"workload": "cpu", "max_workers": n, "reserve_mem_gb": RESERVE_GB})
        tree = [cluster["scheduler_pid"], *[w["pid"] for w in cluster["workers"]]]
        with Timer() as teardown:
            server.call("DELETE", f"clusters/{cluster['id']}")
            wait_gone(tree)
        return ready.seconds, teardown.seconds

    return method


def bare_cli(n: int, env: dict) -> tuple[float, float]:
    """The floor: a shell starting `dask scheduler` and N `dask worker`s at once, same options."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="bench-bare-")
    registered = threading.Semaphore(0)

    def watch(process):
        for line in process.stderr:
            if "Registered to:" in line:
                registered.release()

    with Timer() as ready:
        scheduler = subprocess.Popen(
            [PYTHON, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        workers = [
            subprocess.Popen(
                [PYTHON, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                 "--memory-limit", str(memory_limit_bytes(n)), "--local-directory", directory, "--nanny", "--host", "127.0.0.1"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(n)
        ]
        for worker in workers:
            threading.Thread(target=watch, args=(worker,), daemon=True).start()
        for _ in range(n):
            registered.acquire()
    with Timer() as teardown:
        for process in [*workers, scheduler]:
            process.send_signal(signal.SIGTERM)
        for process in [*workers, scheduler]:
            process.wait(30)
    shutil.rmtree(directory, ignore_errors=True)
    return ready.seconds, teardown.seconds


def python_peer(setup_code: str):
    """A peer that runs in a fresh Python, as a notebook kernel would: ready when it prints so."""

    def method(n: int, env: dict) -> tuple[float, float]:
        code = (
            "import sys\n"
            f"{setup_code.format(n=n, limit=memory_limit_bytes(n), reserve=RESERVE_GB)}\n"
            # A peer that plans fewer workers than asked (dask-setup caps at the cores) is waited for as it is.
            "client.wait_for_workers(len(cluster.workers))\n"
            "assert len(cluster.workers) == " + str(n) + ", f'started {len(cluster.workers)} workers'\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "client.close(); cluster.close()\n"
        )
        with Timer() as ready:
            process = subprocess.Popen([PYTHON, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in process.stdout:  # a peer may print its own summary first
                if line.strip() == "ready":
                    break
            else:
                raise RuntimeError("the peer exited before it was ready")
        with Timer() as teardown:
            process.stdin.write("\n")
            process.stdin.flush()
            process.wait(60)
        return ready.seconds, teardown.seconds

    return method


LOCAL_CLUSTER = python_peer(
    "from distributed import Client, LocalCluster\n"
    "cluster = LocalCluster(n_workers={n}, threads_per_worker=1, processes=True, memory_limit={limit}, dashboard_address='127.0.0.1:0')\n"
    "client = Client(cluster)"
)
DASK_SETUP = python_peer(
    "from dask_setup import setup_dask_client\n"
    "client, cluster, _ = setup_dask_client('cpu', max_workers={n}, reserve_mem_gb={reserve}, dashboard=False)"
)


def sidecar_cost(server: JupyterServer, requests: int = 200) -> dict:
    latencies = []
    for _ in range(requests):
        with Timer() as t:
            server.call("GET", "clusters")
        latencies.append(t.seconds * 1000)
    latencies.sort()
    sidecar = server.sidecar()
    rss_idle = sidecar.memory_info().rss
    cpu_before = sum(sidecar.cpu_times()[:2])
    time.sleep(10)
    cpu_idle_seconds = sum(sidecar.cpu_times()[:2]) - cpu_before
    clusters = [server.call("POST", "clusters?wait=ready", {"workload": "cpu", "max_workers": 1, "reserve_mem_gb": RESERVE_GB, "max_mem_gb": 12}) for _ in range(10)]
    rss_ten = sidecar.memory_info().rss
    for cluster in clusters:
        server.call("DELETE", f"clusters/{cluster['id']}")
    return {
        "requests": requests,
        "latency_ms_p50": latencies[len(latencies) // 2],
        "latency_ms_p99": latencies[int(len(latencies) * 0.99) - 1],
        "rss_mb_idle": rss_idle / 2**20,
        "rss_mb_10_clusters": rss_ten / 2**20,
        "cpu_seconds_in_10s_idle": cpu_idle_seconds,
    }


def main() -> None:
    # Ctrl-C or SIGTERM still runs the finally blocks that stop the Jupyter server and clusters.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__)
    # dask-hpc never plans more workers than cores, so larger counts need a larger machine.
    default_counts = ",".join(str(2**i) for i in range(8) if 2**i <= (os.cpu_count() or 1))
    parser.add_argument("--workers", default=default_counts, help="worker counts, at most the cores (default: powers of two up to the cores)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    if max(counts) > (os.cpu_count() or 1):
        parser.error(f"--workers: at most {os.cpu_count()} on this machine (dask-hpc plans at most a worker per core)")

    state = tempfile.mkdtemp(prefix="bench-state-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PBS_", "SLURM_", "DASK_"))}
    env.update(DASK_HPC_STATE_DIR=state, DASK_HPC_LOGIN_HOST="login")
    server = JupyterServer(env)
    methods = {
        "dask-hpc up": dask_hpc_cli,
        "dask-hpc REST": dask_hpc_rest(server),
        "bare dask CLI": bare_cli,
        "LocalCluster": LOCAL_CLUSTER,
        "dask-setup": DASK_SETUP,
    }
    samples = {(name, n): [] for name in methods for n in counts}
    try:
        for repeat in range(args.repeats):
            for n in counts:
                names = list(methods)
                rotation = repeat % len(names)  # alternate who goes first
                for name in names[rotation:] + names[:rotation]:
                    samples[(name, n)].append(methods[name](n, env))
                    print(f"repeat {repeat + 1} n={n} {name}: ready {samples[(name, n)][-1][0]:.2f}s", file=sys.stderr, flush=True)
        cost = sidecar_cost(server)
    finally:
        server.stop()

    rows = []
    for n in counts:
        ours = statistics.median(s[0] for s in samples[("dask-hpc up", n)])
        for name in methods:
            ready = statistics.median(s[0] for s in samples[(name, n)])
            teardown = statistics.median(s[1] for s in samples[(name, n)])
            rows.append({"workers": n, "method": name, "ready_s": ready, "teardown_s": teardown, "ready_vs_dask_hpc_up": ready / ours})
    print(f"\nmedians of {args.repeats} runs on {platform.node()} ({os.cpu_count()} cores, {psutil.virtual_memory().total / GiB:.1f} GiB)")
    print(f"{'workers':>7}  {'method':<14} {'ready s':>8} {'teardown s':>10} {'ready ÷ dask-hpc up':>20}")
    for row in rows:
        print(f"{row['workers']:>7}  {row['method']:<14} {row['ready_s']:>8.2f} {row['teardown_s']:>10.2f} {row['ready_vs_dask_hpc_up']:>20.2f}")
    print(
        f"\nsidecar through Jupyter: GET clusters p50 {cost['latency_ms_p50']:.1f} ms, p99 {cost['latency_ms_p99']:.1f} ms "
        f"({cost['requests']} requests); RSS {cost['rss_mb_idle']:.0f} MB idle, {cost['rss_mb_10_clusters']:.0f} MB with 10 clusters; "
        f"CPU {cost['cpu_seconds_in_10s_idle']:.3f} s in 10 s idle"
    )
    results = {
        "machine": {"host": platform.node(), "cores": os.cpu_count(), "memory_gib": psutil.virtual_memory().total / GiB, "python": platform.python_version()},
        "repeats": args.repeats,
        "ready_and_teardown": rows,
        "sidecar": cost,
    }
    (REPO / "bench" / "results.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()

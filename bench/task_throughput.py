"""Task throughput: seed 003's difference-of-Gaussians graph on a dask-hpc cluster
(setup_dask_client) against LocalCluster with TLS, the same topology, alternating.

The graph is seed 003's: a (32, 64, 64)-chunked volume, two `map_overlap` filters of depth
40 and their difference, here reduced to a sum (no Zarr store) and with a NumPy box filter in
place of scipy's Gaussian (no SciPy in .venv): the same tasks, a like share of work in each.
Prints wall time per compute (median), the scheduler's and client's CPU seconds per compute
and the workers', and writes bench/task-throughput-GRAPH.json.

    .venv/bin/python bench/task_throughput.py [--repeats 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
GRAPH = "dog"


def box_filter(block: np.ndarray, size: int) -> np.ndarray:
    """A separable mean filter of `size` along every axis: cumulative sums, no SciPy."""
    out = block.astype("float32")
    for axis in range(out.ndim):
        padded = np.concatenate([np.take(out, [0] * size, axis=axis), out], axis=axis)
        summed = np.cumsum(padded, axis=axis, dtype="float64")
        upper = np.take(summed, range(size, summed.shape[axis]), axis=axis)
        lower = np.take(summed, range(0, summed.shape[axis] - size), axis=axis)
        out = ((upper - lower) / size).astype("float32")
    return out


def difference_of_gaussians(shape=(64, 128, 128)):
    data = da.random.default_rng(3).random(shape, chunks=(32, 64, 64), dtype="float32")
    high = data.map_overlap(box_filter, size=3, depth=40, boundary="nearest")
    low = data.map_overlap(box_filter, size=10, depth=40, boundary="nearest")
    return da.map_blocks(np.subtract, high, low).sum()


def tiny_tasks(n: int = 3000):
    """Per-task overhead alone: n one-element chunks, summed (about 2n tasks, each nothing)."""
    return da.ones((n,), chunks=1).sum()


GRAPHS = {"dog": difference_of_gaussians, "tiny": tiny_tasks}


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def measure(client, scheduler: list[psutil.Process], workers: list[psutil.Process], repeats: int) -> dict:
    graph = GRAPHS[GRAPH]()
    client.compute(graph).result()  # warm: imports, first connections
    walls, scheduler_cpu, worker_cpu = [], [], []
    for _ in range(repeats):
        before = (cpu_seconds(scheduler), cpu_seconds(workers))
        start = time.perf_counter()
        client.compute(graph).result()
        walls.append(time.perf_counter() - start)
        scheduler_cpu.append(cpu_seconds(scheduler) - before[0])
        worker_cpu.append(cpu_seconds(workers) - before[1])
    return {
        "tasks": len(graph.__dask_graph__()),
        "wall_seconds": statistics.median(walls),
        "scheduler_and_client_cpu_seconds": statistics.median(scheduler_cpu),
        "worker_cpu_seconds": statistics.median(worker_cpu),
    }


def worker_processes(client) -> list[psutil.Process]:
    return [psutil.Process(pid) for pid in client.run(os.getpid).values()]


def run_dask_hpc(n_workers: int, repeats: int, certificates: str, dashboard: bool) -> dict:
    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, _ = setup_dask_client("cpu", max_workers=n_workers, reserve_mem_gb=2, dashboard=dashboard)
    try:
        if not os.path.exists(certificates):  # LocalCluster's TLS, of the same kind (no `cryptography` here)
            shutil.copytree(Path(cluster.state["security"]["tls_ca_file"]).parent, certificates)
        # Its scheduler and this process, the client: LocalCluster's figure holds both too.
        scheduler = [psutil.Process(cluster.state["scheduler_pid"]), psutil.Process()]
        return measure(client, scheduler, worker_processes(client), repeats)
    finally:
        client.close()
        cluster.close()


def run_local_cluster(n_workers: int, repeats: int, certificates: str) -> dict:
    from distributed import Client, LocalCluster
    from distributed.security import Security

    files = {f"tls_{role}_{kind}": f"{certificates}/{kind}.pem" for role in ("scheduler", "worker", "client") for kind in ("cert", "key")}
    security = Security(tls_ca_file=f"{certificates}/ca.pem", require_encryption=True, **files)
    # The scheduler runs in this process, the client's.
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, protocol="tls", security=security, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        return measure(client, [psutil.Process()], worker_processes(client), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two methods")
    parser.add_argument("--graph", choices=sorted(GRAPHS), default="dog", help="dog: seed 003's; tiny: per-task overhead")
    parser.add_argument("--no-dashboard", action="store_true", help="dask-hpc's cluster without its dashboard")
    args = parser.parse_args()
    global GRAPH
    GRAPH = args.graph
    results: dict[str, list[dict]] = {"dask-hpc": [], "LocalCluster(TLS)": []}
    with tempfile.TemporaryDirectory() as jobfs:
        os.environ.setdefault("PBS_JOBFS", jobfs)
        certificates = os.path.join(jobfs, "tls")
        for _ in range(args.rounds):
            results["dask-hpc"].append(run_dask_hpc(args.workers, args.repeats, certificates, not args.no_dashboard))
            results["LocalCluster(TLS)"].append(run_local_cluster(args.workers, args.repeats, certificates))
    summary = {}
    for method, runs in results.items():
        summary[method] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(f"{method:20} " + "  ".join(f"{key} {value:.3f}" for key, value in summary[method].items()))
    ratio = summary["dask-hpc"]["wall_seconds"] / summary["LocalCluster(TLS)"]["wall_seconds"]
    print(f"dask-hpc / LocalCluster(TLS) wall time: {ratio:.2f}")
    (REPO / "bench" / f"task-throughput-{args.graph}.json").write_text(
        json.dumps({"summary": summary, "runs": results, "ratio": ratio}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()

"""The memory-pressure workload, run inside a job-sized memory cgroup: a real Dask array
computation whose data is larger than the workers' memory, under one way of making the cluster.

    python memory_pressure.py dask-hpc | local-cluster | dask-setup

(dask-hpc: run under `dask-hpc run … --`, whose cluster `Client()` reaches.)

Prints one JSON line: whether it completed with the right answer, how long it took, how many
workers the scheduler lost (killed by the cgroup's OOM killer, say), how much was spilled, and
where the workers keep their spill files.
"""

from __future__ import annotations

import json
import sys
import time

import dask.array as da
from distributed import Client, wait

DATA_BYTES = 5 * 2**30
CHUNK = 4096  # 4096 × 4096 float64 = 128 MiB chunks
TIMEOUT_SECONDS = 120


def make_client(how: str):
    if how == "dask-hpc":
        return Client(), None  # `dask-hpc run` gives the address and certificates through Dask's config
    if how == "local-cluster":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1)  # its defaults for memory
        return Client(cluster), cluster
    if how == "dask-setup":
        from dask_setup import setup_dask_client

        client, cluster, _ = setup_dask_client("cpu", max_workers=2, reserve_mem_gb=1, dashboard=False)
        return client, cluster
    raise SystemExit(f"unknown method {how!r}")


def main() -> None:
    how = sys.argv[1]
    client, cluster = make_client(how)
    client.wait_for_workers(2, timeout=120)
    workers = client.scheduler_info()["workers"].values()
    result = {
        "memory_limit_per_worker": min(w["memory_limit"] for w in workers),
        "spill_directories": sorted({w["local_directory"] for w in workers}),
    }
    rows = DATA_BYTES // 8 // CHUNK
    started = time.perf_counter()
    try:
        x = da.random.RandomState(0).random((rows, CHUNK), chunks=(CHUNK, CHUNK))
        y = (x + 1).persist()  # all of it held at once: more than the workers have
        wait(y, timeout=TIMEOUT_SECONDS)
        spilled = sum(w["metrics"].get("spilled_bytes", {}).get("disk", 0) for w in client.scheduler_info()["workers"].values())
        mean = float(y.mean().compute(timeout=TIMEOUT_SECONDS))
        result.update(completed=abs(mean - 1.5) < 0.01, error=None, spilled_bytes_at_peak=spilled)
    except Exception as error:  # KilledWorker, a timeout: the answer is that it did not complete
        result.update(completed=False, error=f"{type(error).__name__}: {str(error)[:200]}", spilled_bytes_at_peak=None)
    result["seconds"] = time.perf_counter() - started
    events = client.get_events("all")
    result["workers_lost"] = sum(1 for _, event in events if event.get("action") == "remove-worker")
    print(json.dumps(result), flush=True)
    client.close()
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()

"""Task throughput with the sidebar open against without: does polling the figures slow the scheduler?

A cluster started through the REST API of a real Jupyter server with the extension runs a graph
of about 100 000 tiny tasks, again and again; every other run, a separate process polls as the
open sidebar does (src/lab/model.ts): the events WebSocket held open, and every 2 s `GET
resources` and `GET clusters/ID/metrics` at once, through Jupyter, its proxy and the sidecar to
the scheduler's lifeline socket. The order alternates each round; it prints the medians, their
ratio, and the CPU the sidecar and Jupyter spent, and writes bench/sidebar-load.json.

    .venv/bin/python bench/sidebar_load.py [--tasks 100000] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import RESERVE_GB, JupyterServer, node_description  # noqa: E402

# The poller, as the sidebar's model polls (REFRESH_INTERVAL_MS, model.refresh, the events socket).
POLLER = """
import asyncio, sys
from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import websocket_connect

port, token, cluster, interval = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
base = f"http://127.0.0.1:{port}/dask-hpc/api/"
headers = {"Authorization": f"token {token}"}

async def main():
    events = await websocket_connect(f"ws://127.0.0.1:{port}/dask-hpc/api/events?token={token}")
    client = AsyncHTTPClient()
    polls = 0
    while True:
        started = asyncio.get_running_loop().time()
        answers = await asyncio.gather(
            client.fetch(base + "resources", headers=headers),
            client.fetch(base + f"clusters/{cluster}/metrics", headers=headers),
        )
        polls += 1
        assert all(a.code == 200 for a in answers)
        print(polls, answers[1].body.decode(), flush=True)
        await asyncio.sleep(max(0.0, interval - (asyncio.get_running_loop().time() - started)))

asyncio.run(main())
"""


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def tiny_tasks(n_tasks: int):
    """About n_tasks tasks that each do nothing: one-element chunks, summed (a chunk and its share of the tree each)."""
    return da.ones((max(1, n_tasks * 3 // 7),), chunks=1).sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of with and without the sidebar's polling")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=2.0, help="the sidebar's poll interval, seconds (model.ts: 2)")
    args = parser.parse_args()

    from distributed import Client

    from jupyterlab_dask_hpc.kernel_api import security

    state = tempfile.mkdtemp(prefix="bench-state-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PBS_", "SLURM_", "DASK_"))}
    env.update(DASK_HPC_STATE_DIR=state, DASK_HPC_LOGIN_HOST="login")
    root = node_description(os.cpu_count() or 1, psutil.virtual_memory().total)
    server = JupyterServer(env, root)
    poller = None
    walls: dict[str, list[float]] = {"without": [], "with the sidebar": []}
    cpu: dict[str, list[dict]] = {"without": [], "with the sidebar": []}
    try:
        cluster = server.call("POST", "clusters?wait=ready", {"workload": "cpu", "max_workers": args.workers, "reserve_mem_gb": RESERVE_GB})
        sidecar, jupyter = server.sidecar(), psutil.Process(server.process.pid)
        scheduler = psutil.Process(cluster["scheduler_pid"])
        with Client(cluster["scheduler_address"], security=security(cluster)) as client:
            graph = tiny_tasks(args.tasks)
            ones = max(1, args.tasks * 3 // 7)
            n_tasks = len(graph.__dask_graph__())
            client.compute(graph).result()  # warm: imports, connections
            for round_ in range(args.rounds):
                order = ["without", "with the sidebar"] if round_ % 2 == 0 else ["with the sidebar", "without"]
                for condition in order:
                    if condition == "with the sidebar":
                        poller = subprocess.Popen(
                            [sys.executable, "-c", POLLER, str(server.port), server.token, cluster["id"], str(args.interval)],
                            stdout=subprocess.PIPE,
                            text=True,
                        )
                        poller.stdout.readline()  # its first poll answered: the sidebar is open
                    before = {p: cpu_seconds(proc) for p, proc in (("sidecar", sidecar), ("jupyter", jupyter), ("scheduler", scheduler))}
                    start = time.perf_counter()
                    assert client.compute(graph).result() == ones
                    walls[condition].append(time.perf_counter() - start)
                    used = {
                        p: cpu_seconds(proc) - before[p]
                        for p, proc in (("sidecar", sidecar), ("jupyter", jupyter), ("scheduler", scheduler))
                    }
                    cpu[condition].append(used)
                    polls = None
                    if poller:
                        poller.terminate()
                        polls = len(poller.communicate()[0].splitlines()) + 1
                        poller = None
                    print(
                        f"round {round_ + 1} {condition}: {walls[condition][-1]:.2f} s"
                        + (f" ({polls} polls)" if polls else "")
                        + "; CPU s "
                        + ", ".join(f"{k} {v:.2f}" for k, v in used.items()),
                        file=sys.stderr,
                        flush=True,
                    )
        server.call("DELETE", f"clusters/{cluster['id']}")
    finally:
        if poller:
            poller.terminate()
            poller.wait()
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)

    medians = {condition: statistics.median(values) for condition, values in walls.items()}
    ratio = medians["with the sidebar"] / medians["without"]
    print(f"{n_tasks} tasks on {args.workers} workers, medians of {args.rounds}, load average {os.getloadavg()[0]:.1f}")
    for condition, median in medians.items():
        share = {k: statistics.median(c[k] for c in cpu[condition]) for k in cpu[condition][0]}
        print(
            f"  {condition:<17} {median:7.2f} s  ({n_tasks / median:,.0f} tasks/s); CPU s "
            + ", ".join(f"{k} {v:.2f}" for k, v in share.items())
        )
    print(f"with ÷ without: {ratio:.3f}")
    (REPO / "bench" / "sidebar-load.json").write_text(
        json.dumps({"tasks": n_tasks, "workers": args.workers, "walls": walls, "cpu": cpu, "ratio": ratio}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()

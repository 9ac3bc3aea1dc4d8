"""A notebook user's session, as the user feels it: a fresh Python process that imports the
setup code, starts a cluster of N single-thread workers and a Client, waits for the workers, runs
one task, closes; for this product (outside Jupyter, and inside it through the sidecar, as a
kernel does), `LocalCluster` and `dask-setup` 2.3.0, alternating, in a pretend PBS job
(PBS_JOBID, PBS_NCPUS, PBS_VMEM, PBS_JOBFS on a temporary directory).

Each trial times its phases inside the process (import, setup to a Client with N workers, the
first task, close) and the whole process from outside (exec to exit). Between trials the bench
waits, untimed, until no process of the last trial's job is left, and says if one had to be killed.
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
import textwrap
import time
from pathlib import Path

import psutil

from bench import PYTHON, REPO, JupyterServer, node_description

PHASES = ("import", "setup", "first_task", "close")
LEFTOVER_SECONDS = 30

# The peers' code is what their users type; "{n}" is the worker count. The timestamps are the
# bench's. `ROOT`, for this product outside Jupyter, describes a node with the job's cores (as
# bench.py's `--root`): the only line a user would not write.
PRELUDE = "import time\nt0 = time.perf_counter()\n"
EPILOGUE = textwrap.dedent(
    """
    t3 = time.perf_counter()
    assert client.submit(sum, [1, 2]).result() == 3
    t4 = time.perf_counter()
    client.close(); cluster.close()
    t5 = time.perf_counter()
    import json
    print("PHASES " + json.dumps({{"import": t1 - t0, "setup": t3 - t1, "first_task": t4 - t3, "close": t5 - t4}}), flush=True)
    """
)
SESSIONS = {
    "dask-hpc": (
        "from jupyterlab_dask_hpc import setup_dask_client\n"
        "t1 = time.perf_counter()\n"
        "import jupyterlab_dask_hpc.owner_process as _owner\n"
        "_up = _owner.up_command\n"
        "_owner.up_command = lambda body, how: [*_up(body, how), '--root', {root!r}]\n"
        "client, cluster, dask_local_dir = setup_dask_client('cpu', max_workers={n})\n"
        "client.wait_for_workers({n})\n"
    ),
    "dask-hpc in Jupyter": (
        "from jupyterlab_dask_hpc import setup_dask_client\n"
        "t1 = time.perf_counter()\n"
        "client, cluster, dask_local_dir = setup_dask_client('cpu', max_workers={n})\n"
        "client.wait_for_workers({n})\n"
    ),
    "LocalCluster": (
        "from distributed import Client, LocalCluster\n"
        "t1 = time.perf_counter()\n"
        "cluster = LocalCluster(n_workers={n}, threads_per_worker=1, dashboard_address='127.0.0.1:0')\n"
        "client = Client(cluster)\n"
        "client.wait_for_workers({n})\n"
    ),
    "dask-setup": (
        "from dask_setup import setup_dask_client\n"
        "t1 = time.perf_counter()\n"
        "client, cluster, dask_local_dir = setup_dask_client('cpu', max_workers={n})\n"
        "client.wait_for_workers({n})\n"
    ),
}


def job_processes(marker: str) -> list[psutil.Process]:
    """The processes of one trial's job: those whose environment or command line names its jobfs."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
                continue
            environ = process.info["environ"] or {}
            if marker in " ".join(process.info["cmdline"] or []) or marker in environ.get("PBS_JOBFS", ""):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_for_no_leftovers(still_running, method: str) -> float:
    """Untimed between trials: until nothing of the trial runs; kills and reports what outlives 30 s."""
    start = time.monotonic()
    while (left := still_running()) and time.monotonic() - start < LEFTOVER_SECONDS:
        time.sleep(0.05)
    for process in left:
        print(f"{method}: pid {process.pid} still running {LEFTOVER_SECONDS} s after its session; killed", file=sys.stderr)
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    return time.monotonic() - start


def trial(method: str, n: int, env: dict, root: str, server: JupyterServer | None) -> dict:
    jobfs = tempfile.mkdtemp(prefix="bench-session-jobfs-")
    code = PRELUDE + SESSIONS[method].format(n=n, root=root) + EPILOGUE.format()
    job_env = {**env, "PBS_JOBFS": jobfs, "TMPDIR": jobfs}
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-c", code], env=job_env, capture_output=True, text=True, timeout=300)
    whole = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{method} with {n} workers exited with {done.returncode}:\n{done.stderr[-2000:]}")
    phases = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("PHASES ")).removeprefix("PHASES "))
    phases["whole"] = whole
    # A kernel's cluster is the sidecar's child, in the server's job; a script's is in its own.
    if method == "dask-hpc in Jupyter":
        phases["leftover_s"] = wait_for_no_leftovers(lambda: server.sidecar().children(recursive=True), method)
    else:
        phases["leftover_s"] = wait_for_no_leftovers(lambda: job_processes(jobfs), method)
    shutil.rmtree(jobfs, ignore_errors=True)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts (default 1,2,4,8)")
    parser.add_argument("--repeats", type=int, default=5, help="trials per method and count (default 5)")
    parser.add_argument("--methods", default=",".join(SESSIONS), help=f"which (default all: {','.join(SESSIONS)})")
    parser.add_argument("--json", help="also write the samples and medians to this file")
    parser.add_argument(
        "--baseline",
        help="a directory holding another build's jupyterlab_dask_hpc package (with its _sidecar): its two paths run "
        "too, as 'dask-hpc (before)' and 'dask-hpc in Jupyter (before)'",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    methods = args.methods.split(",")
    if set(methods) - set(SESSIONS):
        parser.error(f"--methods: some of {', '.join(SESSIONS)}, not {args.methods}")
    # This checkout's package, or the baseline's: which one a child imports is its PYTHONPATH.
    builds = {"": str(REPO)}
    if args.baseline:
        if not (Path(args.baseline) / "jupyterlab_dask_hpc" / "_sidecar").is_dir():
            parser.error(f"--baseline: no built jupyterlab_dask_hpc package in {args.baseline}")
        builds[" (before)"] = str(Path(args.baseline).resolve())
        methods = [f"{m}{suffix}" for m in methods for suffix in builds if m.startswith("dask-hpc") or not suffix]

    cores = max(counts + [os.cpu_count() or 1])
    root = node_description(cores, psutil.virtual_memory().total)
    state = tempfile.mkdtemp(prefix="bench-session-state-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PBS_", "SLURM_", "DASK_"))}
    env.update(
        PBS_JOBID="4242.bench",
        PBS_NCPUS=str(cores),  # dask-setup's NCPUS reading; this product's is clamped by ROOT's cpus
        NCPUS=str(cores),
        PBS_VMEM=str(psutil.virtual_memory().total),
        DASK_HPC_STATE_DIR=state,
        DASK_HPC_RUNTIME_DIR=os.path.join(state, "run"),
        DASK_HPC_LOGIN_HOST="login",
    )
    servers: dict[str, tuple[JupyterServer, str]] = {}
    for suffix, build in builds.items():
        if f"dask-hpc in Jupyter{suffix}" in methods:
            runtime = os.path.join(state, f"run{len(servers)}")
            server_env = {**env, "PBS_JOBFS": tempfile.mkdtemp(prefix="bench-session-server-jobfs-"), "PYTHONPATH": build}
            server = JupyterServer({**server_env, "DASK_HPC_RUNTIME_DIR": runtime}, root)
            (socket_path,) = Path(runtime).glob("sidecar-*.sock")
            servers[suffix] = (server, str(socket_path))
    samples: dict[tuple[str, int], list[dict]] = {(m, n): [] for m in methods for n in counts}
    load = []
    try:
        for repeat in range(args.repeats):
            for n in counts:
                rotation = repeat % len(methods)  # who goes first alternates
                for method in methods[rotation:] + methods[:rotation]:
                    kind, suffix = method.removesuffix(" (before)"), " (before)" if method.endswith(" (before)") else ""
                    trial_env = {**env, "PYTHONPATH": builds[suffix]} if kind.startswith("dask-hpc") else env
                    server = None
                    if kind == "dask-hpc in Jupyter":
                        server, socket_path = servers[suffix]
                        trial_env["DASK_HPC_SIDECAR_SOCKET"] = socket_path
                    load.append(os.getloadavg()[0])
                    sample = trial(kind, n, trial_env, root, server)
                    samples[(method, n)].append(sample)
                    print(
                        f"repeat {repeat + 1} n={n} {method}: whole {sample['whole']:.2f}s "
                        + " ".join(f"{p} {sample[p]:.3f}" for p in PHASES),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for server, _ in servers.values():
            server.stop()
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)

    medians = {key: {p: statistics.median(s[p] for s in runs) for p in (*PHASES, "whole")} for key, runs in samples.items()}
    print(
        f"\n{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB; medians of {args.repeats}; "
        f"1-minute load average during the run {min(load):.1f}-{max(load):.1f}"
    )
    peers = [m for m in ("LocalCluster", "dask-setup") if m in methods]
    header = f"{'workers':>7}  {'method':<29} {'import':>7} {'setup':>7} {'task':>7} {'close':>7} {'whole':>7}"
    print(header + "".join(f"  {'÷ ' + p:>15}" for p in peers))
    for n in counts:
        for method in methods:
            row = medians[(method, n)]
            ratios = "".join(f"  {row['whole'] / medians[(p, n)]['whole']:>15.2f}" for p in peers)
            print(
                f"{n:>7}  {method:<29} {row['import']:>7.2f} {row['setup']:>7.2f} {row['first_task']:>7.3f} {row['close']:>7.3f} {row['whole']:>7.2f}{ratios}"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "repeats": args.repeats,
                    "load_average": [min(load), max(load)],
                    "samples": [{"method": m, "workers": n, **s} for (m, n), runs in samples.items() for s in runs],
                    "medians": [{"method": m, "workers": n, **row} for (m, n), row in medians.items()],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

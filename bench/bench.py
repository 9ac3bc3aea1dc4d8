"""Ready and teardown times of dask-hpc against the bare `dask` CLI, LocalCluster and dask-setup,
alternating in one run; the sidecar's latency, memory and idle CPU through Jupyter; and a
memory-pressure workload in a job-sized memory cgroup under this product, LocalCluster's
defaults and dask-setup.

Every method starts the same topology: N workers with one thread each and the same memory
limit. "Ready" is from the request to every worker registered with the scheduler. Worker
counts above this machine's cores run on a node described as having that many (`--root`):
the same oversubscription for every method.
"""

from __future__ import annotations

import argparse
import contextlib
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
CLI = [str(REPO / "lib" / "dask-hpc.mjs")]  # the command as npm installs it (its first lines are sh)
PYTHON = sys.executable
GiB = 2**30
RESERVE_GB = 2
# Where the bare floor's TLS files are (borrow_certificates).
TLS_FILES = os.path.join(tempfile.gettempdir(), f"bench-tls-{os.getpid()}")
# The memory-pressure job: 4 GiB and 2 cores, as a PBS job would be given (cgroup + PBS_*).
PRESSURE_JOB_BYTES = 4 * GiB


# The node's memory as every method is told it: this machine's, or more where the largest count
# would leave a worker under a peer's floor (dask-setup fits workers to 1 GiB each, dask-hpc to
# 512 MiB). Workers started here use far less than their limit, so a larger figure changes only
# the limit each is given, the same for every method.
NODE_MEMORY_BYTES = psutil.virtual_memory().total


def node_memory_for(max_workers: int) -> int:
    return max(psutil.virtual_memory().total, (max_workers + 1 + RESERVE_GB) * GiB)


def memory_limit_bytes(n_workers: int) -> int:
    return (NODE_MEMORY_BYTES - RESERVE_GB * GiB) // n_workers


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    """Until every process has ended. A zombie has ended: here an orphan (a detached owner, whose
    parent was the `dask-hpc` command) stays one for about a second until this VM's init reaps it."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.005)


# --- the methods: each returns (ready_seconds, teardown_seconds) -------------------------


def node_description(cores: int, memory_bytes: int) -> str:
    """A `--root` tree describing this node with `cores` cores (dask-hpc plans a worker per core at
    most) and `memory_bytes` of memory."""
    root = Path(tempfile.mkdtemp(prefix="bench-node-"))
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "status").write_text(f"Name:\tbench\nCpus_allowed_list:\t0-{cores - 1}\n")
    (root / "proc" / "meminfo").write_text(f"MemTotal:       {memory_bytes // 1024} kB\n")
    return str(root)


def dask_hpc_cli(root: str):
    def method(n: int, env: dict) -> tuple[float, float]:
        with Timer() as ready:
            out = subprocess.run(
                [
                    *CLI,
                    "up",
                    "--detach",
                    "--workload",
                    "cpu",
                    "--max-workers",
                    str(n),
                    "--reserve-mem-gb",
                    str(RESERVE_GB),
                    "--python",
                    PYTHON,
                    "--root",
                    root,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
        cluster = json.loads(out.stdout)
        assert len(cluster["workers"]) == n, f"dask-hpc up started {len(cluster['workers'])} workers, not {n}"
        tree = [cluster["owner_pid"], cluster["scheduler_pid"], *[w["pid"] for w in cluster["workers"]]]
        with Timer() as teardown:
            subprocess.run([*CLI, "down", cluster["id"]], env=env, capture_output=True, check=True)
            wait_gone(tree)
        return ready.seconds, teardown.seconds

    return method


class JupyterServer:
    """A `jupyter server` with the extension, for the REST path and the sidecar's cost."""

    def __init__(self, env: dict, root: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = "bench"
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "jupyter"),
                "server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                f"--IdentityProvider.token={self.token}",
                f"--DaskHpcApp.python={PYTHON}",
                f"--DaskHpcApp.node_root={root}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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
            f"http://127.0.0.1:{self.port}/dask-hpc/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
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
        assert len(cluster["workers"]) == n, f"the REST API started {len(cluster['workers'])} workers, not {n}"
        tree = [cluster["scheduler_pid"], *[w["pid"] for w in cluster["workers"]]]
        with Timer() as teardown:
            server.call("DELETE", f"clusters/{cluster['id']}")
            wait_gone(tree)
        return ready.seconds, teardown.seconds

    return method


def borrow_certificates(env: dict, into: str) -> None:
    """A CA, certificate and key for the bare floor's TLS: those of a dask-hpc cluster, copied
    before it stops (the floor needs the same kind; this Python has no `cryptography`)."""
    cluster = json.loads(
        subprocess.run(
            [*CLI, "up", "--detach", "--max-workers", "1", "--python", PYTHON], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    shutil.copytree(Path(cluster["security"]["tls_ca_file"]).parent, into)
    subprocess.run([*CLI, "down", cluster["id"]], env=env, capture_output=True, check=True)


def stop_within(process: subprocess.Popen, seconds: float) -> None:
    """Waits for a process; past `seconds`, SIGKILLs it and its children (seen once: a worker
    process whose scheduler was stopped with it still running after 30 s)."""
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        print(f"bare dask CLI: pid {process.pid} still running {seconds} s after SIGTERM; killed", file=sys.stderr)
        for child in [*psutil.Process(process.pid).children(recursive=True), psutil.Process(process.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.wait()


def bare_cli(n: int, env: dict) -> tuple[float, float]:
    """The floor: a shell starting `dask scheduler` and the workers at once, with dask-hpc's
    options (TLS with a cluster's certificate, the dashboard from its preload once the
    scheduler is up, one `dask worker --nworkers N` whose nannies fork, no worker dashboards,
    the scheduler file as rendezvous), but no lifeline and no bookkeeping."""
    tls = ["--tls-ca-file", f"{TLS_FILES}/ca.pem", "--tls-cert", f"{TLS_FILES}/cert.pem", "--tls-key", f"{TLS_FILES}/key.pem"]
    directory = tempfile.mkdtemp(prefix="bench-bare-")
    scheduler_file = os.path.join(directory, "scheduler.json")
    registered = threading.Semaphore(0)

    def watch(process):
        for line in process.stderr:
            if "Registered to:" in line:
                registered.release()

    with Timer() as ready:
        scheduler = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                "--no-dashboard",
                "--preload",
                str(REPO / "lib" / "python" / "deferred_dashboard.py"),
                "--scheduler-file",
                scheduler_file,
                "--protocol",
                "tls",
                *tls,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers = [
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "distributed.cli.dask_worker",
                    "--scheduler-file",
                    scheduler_file,
                    "--nworkers",
                    str(n),
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    str(memory_limit_bytes(n)),
                    "--local-directory",
                    directory,
                    "--nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    *tls,
                ],
                env={**env, "DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD": "fork", "MALLOC_TRIM_THRESHOLD_": "65536"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        ]
        for worker in workers:
            threading.Thread(target=watch, args=(worker,), daemon=True).start()
        for _ in range(n):
            registered.acquire()
    with Timer() as teardown:
        for process in [*workers, scheduler]:
            process.send_signal(signal.SIGTERM)
        for process in [*workers, scheduler]:
            stop_within(process, 30)
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
            process = subprocess.Popen(
                [PYTHON, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
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
    clusters = [
        server.call(
            "POST",
            "clusters?wait=ready",
            {"workload": "cpu", "max_workers": 1, "reserve_mem_gb": RESERVE_GB, "max_mem_gb": 12, "overcommit": True},
        )
        for _ in range(10)
    ]
    rss_ten = sidecar.memory_info().rss
    cpu_before = sum(sidecar.cpu_times()[:2])
    time.sleep(10)
    cpu_idle_ten = sum(sidecar.cpu_times()[:2]) - cpu_before
    for cluster in clusters:
        server.call("DELETE", f"clusters/{cluster['id']}")
    return {
        "requests": requests,
        "latency_ms_p50": latencies[len(latencies) // 2],
        "latency_ms_p99": latencies[int(len(latencies) * 0.99) - 1],
        "rss_mb_idle": rss_idle / 2**20,
        "rss_mb_10_clusters": rss_ten / 2**20,
        "cpu_seconds_in_10s_idle": cpu_idle_seconds,
        "cpu_seconds_in_10s_idle_10_clusters": cpu_idle_ten,
    }


def job_cgroup(limit: int) -> tuple[Path, str] | None:
    """A memory cgroup of `limit` bytes under this process's own, as PBS and Slurm give a job,
    and its limit file; None where this machine allows none (not root, no memory controller)."""
    base = limit_file = None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            base, limit_file = Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "memory.limit_in_bytes"
            break
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            base, limit_file = Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.max"
    if base is None:
        print("memory pressure skipped: no memory cgroup controller here", file=sys.stderr)
        return None
    cgroup = base / f"dask-hpc-bench-{os.getpid()}"
    try:
        cgroup.mkdir()
        (cgroup / limit_file).write_text(str(limit))
    except OSError as error:
        print(f"memory pressure skipped: cannot make a memory cgroup here ({error})", file=sys.stderr)
        return None
    return cgroup, limit_file


def oom_kills(cgroup: Path) -> int:
    """The cgroup's OOM kills so far (v1 memory.oom_control, v2 memory.events)."""
    for name in ("memory.oom_control", "memory.events"):
        if (cgroup / name).exists():
            for line in (cgroup / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    return 0


def empty_cgroup(cgroup: Path, seconds: float = 30) -> None:
    """Waits for the cgroup's processes to end; kills what is left after `seconds`."""
    deadline = time.monotonic() + seconds
    while (pids := (cgroup / "cgroup.procs").read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        print(f"memory pressure: killing leftover process {pid}", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    while (cgroup / "cgroup.procs").read_text().split():
        time.sleep(0.1)


def memory_pressure(env: dict) -> list[dict]:
    """The workload of memory_pressure.py in a 4 GiB, 2-core PBS-like job, three ways."""
    made = job_cgroup(PRESSURE_JOB_BYTES)
    if made is None:
        return []
    cgroup, _ = made
    jobfs = tempfile.mkdtemp(prefix="bench-jobfs-")
    job_env = {**env, "PBS_JOBID": "4242.bench", "PBS_NCPUS": "2", "PBS_VMEM": str(PRESSURE_JOB_BYTES), "PBS_JOBFS": jobfs, "TMPDIR": jobfs}
    workload = [PYTHON, str(REPO / "bench" / "memory_pressure.py")]
    commands = {
        "dask-hpc": [
            *CLI,
            "run",
            "--workload",
            "cpu",
            "--max-workers",
            "2",
            "--reserve-mem-gb",
            "1",
            "--python",
            PYTHON,
            "--",
            *workload,
            "dask-hpc",
        ],
        "LocalCluster defaults": [*workload, "local-cluster"],
        "dask-setup": [*workload, "dask-setup"],
    }

    def enter_job():
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    rows = []
    try:
        for name, command in commands.items():
            kills_before = oom_kills(cgroup)
            try:
                done = subprocess.run(command, env=job_env, preexec_fn=enter_job, capture_output=True, text=True, timeout=600)
                output = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("{")), None)
                result = (
                    json.loads(output) if output else {"completed": False, "error": f"exit status {done.returncode}: {done.stderr[-300:]}"}
                )
            except subprocess.TimeoutExpired:
                result = {"completed": False, "error": "no answer in 600 s"}
            empty_cgroup(cgroup)
            directories = result.get("spill_directories") or []
            result.update(
                method=name,
                oom_kills=oom_kills(cgroup) - kills_before,
                spill_under_jobfs=bool(directories) and all(d.startswith(jobfs) for d in directories),
            )
            rows.append(result)
            print(f"memory pressure, {name}: completed {result['completed']}, {result['oom_kills']} OOM kills", file=sys.stderr, flush=True)
    finally:
        empty_cgroup(cgroup, 0)
        cgroup.rmdir()
        shutil.rmtree(jobfs, ignore_errors=True)
    return rows


def print_pressure(rows: list[dict]) -> None:
    print("\nmemory pressure: 5 GiB of array data on 2 workers in a 4 GiB, 2-core job (memory cgroup, PBS_VMEM, PBS_JOBFS)")
    print(
        f"{'method':<22} {'completed':>9} {'seconds':>8} {'limit/worker':>12} {'spilled GiB':>11} {'OOM kills':>9} {'workers lost':>12}  spill on jobfs"
    )
    for row in rows:
        spilled = row.get("spilled_bytes_at_peak")
        limit = row.get("memory_limit_per_worker")
        print(
            f"{row['method']:<22} {str(row['completed']):>9} {row.get('seconds', float('nan')):>8.1f} "
            f"{(limit or 0) / GiB:>10.2f}Gi {'-' if spilled is None else f'{spilled / GiB:.2f}':>11} {row['oom_kills']:>9} "
            f"{row.get('workers_lost', '-'):>12}  {row['spill_under_jobfs']}"
        )
        if row.get("error"):
            print(f"{'':<22} {row['error'][:150]}")


def growth_per_worker(rows: list[dict], names: list[str], counts: list[int]) -> dict:
    """Seconds each added worker costs, ready and teardown: the least-squares slope of the medians
    over the counts; dask-hpc's also as ratios to the peers' (below 1: it grows more slowly)."""
    mean_n = statistics.fmean(counts)
    spread = sum((n - mean_n) ** 2 for n in counts)

    def slope(name: str, key: str) -> float:
        ys = [next(r[key] for r in rows if r["workers"] == n and r["method"] == name) for n in counts]
        mean_y = statistics.fmean(ys)
        return sum((n - mean_n) * (y - mean_y) for n, y in zip(counts, ys, strict=True)) / spread

    growth = {name: {key: slope(name, key) for key in ("ready_s", "teardown_s")} for name in names}
    for name in names:
        if name.startswith("dask-hpc"):
            for peer in [peer for peer in ("LocalCluster", "dask-setup") if peer in growth]:
                for key in ("ready_s", "teardown_s"):
                    theirs = growth[peer][key]
                    growth[name][f"{key.removesuffix('_s')}_vs_{peer}"] = growth[name][key] / theirs if theirs else float("nan")
    return growth


def main() -> None:
    # Ctrl-C or SIGTERM still runs the finally blocks that stop the Jupyter server and clusters.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts (default 1,2,4,8)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="ready,sidecar,pressure", help="which parts to run (default all: ready,sidecar,pressure)")
    parser.add_argument("--methods", help="a comma-separated subset of the methods (default all)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    parts = set(args.parts.split(","))
    if parts - {"ready", "sidecar", "pressure"}:
        parser.error(f"--parts: ready, sidecar and pressure, not {args.parts}")

    state = tempfile.mkdtemp(prefix="bench-state-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PBS_", "SLURM_", "DASK_"))}
    env.update(DASK_HPC_STATE_DIR=state, DASK_HPC_LOGIN_HOST="login")
    node_cores = max(counts + [os.cpu_count() or 1])
    global NODE_MEMORY_BYTES
    NODE_MEMORY_BYTES = node_memory_for(max(counts))
    root = node_description(node_cores, NODE_MEMORY_BYTES)
    results = {
        "machine": {
            "host": platform.node(),
            "cores": os.cpu_count(),
            "memory_gib": psutil.virtual_memory().total / GiB,
            "node_memory_described_gib": NODE_MEMORY_BYTES / GiB,
            "python": platform.python_version(),
        },
        "repeats": args.repeats,
    }
    if "ready" in parts:
        borrow_certificates(env, TLS_FILES)
    server = JupyterServer(env, root) if parts & {"ready", "sidecar"} else None
    methods = {
        "dask-hpc up": dask_hpc_cli(root),
        "dask-hpc REST": dask_hpc_rest(server),
        "bare dask CLI": bare_cli,
        "LocalCluster": LOCAL_CLUSTER,
        # The same node, told the way dask-setup reads it (a PBS job's NCPUS and PBS_VMEM).
        "dask-setup": lambda n, env: DASK_SETUP(n, {**env, "NCPUS": str(node_cores), "PBS_VMEM": str(NODE_MEMORY_BYTES)}),
    }
    if args.methods:
        chosen = args.methods.split(",")
        if unknown := set(chosen) - set(methods):
            parser.error(f"--methods: {', '.join(sorted(unknown))} unknown; the methods are {', '.join(methods)}")
        methods = {name: methods[name] for name in chosen}
    samples = {(name, n): [] for name in methods for n in counts}
    try:
        if "ready" in parts:
            for repeat in range(args.repeats):
                for n in counts:
                    names = list(methods)
                    rotation = repeat % len(names)  # alternate who goes first
                    for name in names[rotation:] + names[:rotation]:
                        samples[(name, n)].append(methods[name](n, env))
                        print(f"repeat {repeat + 1} n={n} {name}: ready {samples[(name, n)][-1][0]:.2f}s", file=sys.stderr, flush=True)
        if "sidecar" in parts:
            results["sidecar"] = sidecar_cost(server)
    finally:
        if server:
            server.stop()
    if "pressure" in parts:
        results["memory_pressure"] = memory_pressure(env)

    print(f"\non {platform.node()} ({os.cpu_count()} cores, {psutil.virtual_memory().total / GiB:.1f} GiB)")
    if "ready" in parts:
        rows = []
        for n in counts:
            reference = "dask-hpc up" if "dask-hpc up" in methods else next(iter(methods))
            ours = statistics.median(s[0] for s in samples[(reference, n)])
            for name in methods:
                ready = statistics.median(s[0] for s in samples[(name, n)])
                teardown = statistics.median(s[1] for s in samples[(name, n)])
                rows.append({"workers": n, "method": name, "ready_s": ready, "teardown_s": teardown, "ready_vs_dask_hpc_up": ready / ours})
        results["ready_and_teardown"] = rows
        print(f"medians of {args.repeats} runs")
        print(f"{'workers':>7}  {'method':<14} {'ready s':>8} {'teardown s':>10} {'ready ÷ dask-hpc up':>20}")
        for row in rows:
            print(
                f"{row['workers']:>7}  {row['method']:<14} {row['ready_s']:>8.2f} {row['teardown_s']:>10.2f} {row['ready_vs_dask_hpc_up']:>20.2f}"
            )
        print("\ncost curve, ready s at " + ", ".join(f"{n}" for n in counts) + " workers:")
        for name in methods:
            curve = [next(r["ready_s"] for r in rows if r["workers"] == n and r["method"] == name) for n in counts]
            print(
                f"  {name:<14} "
                + "  ".join(f"{t:.2f}" for t in curve)
                + f"   ({curve[-1] / curve[0]:.2f}× from {counts[0]} to {counts[-1]})"
            )
        if len(counts) > 1:
            results["growth_per_worker"] = growth = growth_per_worker(rows, list(methods), counts)
            print(f"\ngrowth per added worker, {counts[0]} to {counts[-1]} (slope of the medians), and ÷ each peer's:")
            for name, slope in growth.items():
                print(
                    f"  {name:<14} ready {slope['ready_s'] * 1000:6.1f} ms  teardown {slope['teardown_s'] * 1000:6.1f} ms"
                    + "".join(
                        f"   ÷ {peer}: ready {slope['ready_vs_' + peer]:.2f}, teardown {slope['teardown_vs_' + peer]:.2f}"
                        for peer in ("LocalCluster", "dask-setup")
                        if name.startswith("dask-hpc") and peer in growth
                    )
                )
    if "sidecar" in parts:
        cost = results["sidecar"]
        print(
            f"\nsidecar through Jupyter: GET clusters p50 {cost['latency_ms_p50']:.1f} ms, p99 {cost['latency_ms_p99']:.1f} ms "
            f"({cost['requests']} requests); RSS {cost['rss_mb_idle']:.0f} MB idle, {cost['rss_mb_10_clusters']:.0f} MB with 10 clusters; "
            f"CPU {cost['cpu_seconds_in_10s_idle']:.3f} s in 10 s idle, {cost['cpu_seconds_in_10s_idle_10_clusters']:.3f} s with the 10 clusters"
        )
    if results.get("memory_pressure"):
        print_pressure(results["memory_pressure"])
    (REPO / "bench" / "results.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(state, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(TLS_FILES, ignore_errors=True)


if __name__ == "__main__":
    main()

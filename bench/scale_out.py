"""Past one node: this product's worker jobs against dask-jobqueue's PBSCluster on the test
OpenPBS (scripts/pbs-up.sh), alternating in one run, medians and ratios.

Both start the same jobs: J jobs of C cores and M GB, W workers of one thread each, Gadi's
directives (-P, -l storage, -l jobfs), spill on $PBS_JOBFS. "Ready" is from the request to
every worker registered; "teardown" from the stop to no job of the cluster in `qstat` and no
process of it on any host. dask-jobqueue is configured as NCI's guide does (resource_spec
ncpus/mem/jobfs, job_extra_directives for -P and storage, local_directory $PBS_JOBFS).

Run it through bench/scale_out.sh, on the head host of the test PBS; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CLI = str(REPO / "lib" / "dask-hpc.mjs")
QSTAT = "/opt/pbs/bin/qstat"
PROJECT, STORAGE = "proj", "scratch/proj"
# The test PBS's unprivileged user (scripts/pbs-up.sh): the server lets it see every job.
WATCHER_USER = os.environ.get("PBS_GADI_USER", "pbsuser")
WATCHER = ["setpriv", f"--reuid={WATCHER_USER}", f"--regid={WATCHER_USER}", "--clear-groups"]


def queued_or_running(job_name: str) -> list[str]:
    """Jobs of that name in PBS, not finished (qstat without -x), asked as another user: a PBS
    Pro qstat sleeps 200 ms when the same user's last one was in the same second (libpbs's
    delay_query), so the bench's questions as root slowed every question of dask-hpc's owner."""
    out = subprocess.run([*WATCHER, QSTAT, "-f", "-F", "json"], capture_output=True, text=True, timeout=60).stdout
    jobs = json.loads(out or "{}").get("Jobs", {})
    return [jid for jid, job in jobs.items() if job.get("Job_Name") == job_name]


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.pid != os.getpid() and text in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            pass
    return found


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


def wait_for_workers(address: str, count: int, security=None) -> None:
    from distributed import Client

    with Client(address, security=security, timeout=60) as client:
        client.wait_for_workers(count, timeout=300)


class Ours:
    name = "dask-hpc"

    def __init__(self, workdir: Path):
        self.env = {**os.environ, "DASK_HPC_STATE_DIR": str(workdir / "state")}
        for name in [n for n in self.env if n.startswith("PBS_")]:
            del self.env[name]

    def run(self, jobs: int, cores: int, mem_gb: int, workers: int) -> tuple[float, float]:
        from jupyterlab_dask_hpc.kernel_api import security

        start = time.monotonic()
        up = subprocess.run(
            ["node", CLI, "up", "--detach", "--python", sys.executable, "--system", "pbs", "--dialect", "gadi"]
            + ["--job-cores", str(cores), "--job-mem-gb", str(mem_gb), "--walltime", "00:20:00", "--account", PROJECT]
            + ["--storage", STORAGE, "--jobfs-gb", "1", "--workload", "cpu", "--max-workers", str(workers), "--jobs", str(jobs)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if up.returncode != 0:
            raise RuntimeError(up.stderr)
        cluster = json.loads(up.stdout)
        wait_for_workers(cluster["scheduler_address"], jobs * workers, security(cluster))
        ready = time.monotonic() - start
        start = time.monotonic()
        down = subprocess.run(["node", CLI, "down", cluster["id"]], env=self.env, capture_output=True, text=True, timeout=300)
        if down.returncode != 0:
            raise RuntimeError(down.stderr)
        name = f"dask-{cluster['id']}"
        wait_until(lambda: not queued_or_running(name) and not processes_mentioning(cluster["id"]), 120, "dask-hpc's teardown")
        return ready, time.monotonic() - start


class JobQueue:
    name = "dask-jobqueue"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.count = 0

    def run(self, jobs: int, cores: int, mem_gb: int, workers: int) -> tuple[float, float]:
        from dask_jobqueue import PBSCluster
        from distributed import Client

        self.count += 1
        name = f"jq{os.getpid()}x{self.count}"
        start = time.monotonic()
        cluster = PBSCluster(
            cores=cores,
            processes=workers,
            memory=f"{mem_gb}GB",
            queue="normal",
            walltime="00:20:00",
            resource_spec=f"ncpus={cores},mem={mem_gb}GB,jobfs=1GB",
            job_extra_directives=[f"-P {PROJECT}", f"-l storage={STORAGE}", "-l wd"],
            local_directory="$PBS_JOBFS",
            log_directory=str(self.workdir / "jq-logs"),
            python=sys.executable,
            job_name=name,
            scheduler_options={"interface": "pbsbr0"},
        )
        client = Client(cluster)
        cluster.scale(jobs=jobs)
        client.wait_for_workers(jobs * workers, timeout=300)
        ready = time.monotonic() - start
        port = cluster.scheduler_address.rsplit(":", 1)[1]
        start = time.monotonic()
        client.close()
        cluster.close()
        wait_until(lambda: not queued_or_running(name) and not processes_mentioning(f":{port}"), 120, "dask-jobqueue's teardown")
        return ready, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default="2,4", help="job counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=int(os.environ.get("PBS_GADI_NCPUS", "2")), help="cores per job (a whole host)")
    parser.add_argument(
        "--mem-gb", type=int, default=4, help="memory per job: 2 GB per worker leaves each above the 512 MiB a worker needs"
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "scale-out.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    workdir.chmod(0o755)
    methods = [Ours(workdir), JobQueue(workdir)]
    results: dict[str, dict[str, dict[str, list[float]]]] = {m.name: {} for m in methods}
    for jobs in [int(j) for j in args.jobs.split(",")]:
        for repeat in range(args.repeats):
            # Alternating, the order turned each round: neither always runs on a warmer machine.
            for method in methods if repeat % 2 == 0 else methods[::-1]:
                ready, teardown = method.run(jobs, args.cores, args.mem_gb, workers=args.cores)
                entry = results[method.name].setdefault(str(jobs), {"ready": [], "teardown": []})
                entry["ready"].append(ready)
                entry["teardown"].append(teardown)
                print(f"{method.name:14} {jobs} jobs: ready {ready:6.2f} s, teardown {teardown:5.2f} s", flush=True)
    load = os.getloadavg()
    print(f"\n{args.cores} cores × {args.mem_gb} GB per job, {args.cores} workers of one thread each; medians of {args.repeats}")
    print("| jobs | workers | ready, dask-hpc | ready, dask-jobqueue | ratio | teardown, dask-hpc | teardown, dask-jobqueue | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for jobs, ours in results["dask-hpc"].items():
        theirs = results["dask-jobqueue"][jobs]
        med = {k: (statistics.median(ours[k]), statistics.median(theirs[k])) for k in ("ready", "teardown")}
        print(
            f"| {jobs} | {int(jobs) * args.cores} | {med['ready'][0]:.2f} s | {med['ready'][1]:.2f} s | {med['ready'][0] / med['ready'][1]:.2f} "
            f"| {med['teardown'][0]:.2f} s | {med['teardown'][1]:.2f} s | {med['teardown'][0] / med['teardown'][1]:.2f} |"
        )
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    Path(args.out).write_text(json.dumps({"cores": args.cores, "mem_gb": args.mem_gb, "results": results, "load": load}, indent=1))


if __name__ == "__main__":
    main()

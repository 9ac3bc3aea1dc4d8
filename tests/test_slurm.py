"""Worker jobs and runner mode through a real Slurm of four hosts (Debian's slurm-wlm, started by
scripts/slurm-up.sh): slurmctld and the scheduler here, three slurmd hosts each in a network and
UTS namespace of its own on a private bridge. Workers run on those hosts and reach the
scheduler over TLS on the bridge; a real Client computes. Run alone with `pytest -m slurm`."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from conftest import (
    REPO,
    WALLTIME_CLIENT,
    DaskHpc,
    assert_run_stopped_before_the_end,
    assert_worker_jobs_private_with_http_on_loopback,
    client_of,
    processes_mentioning,
    wait_for,
    wait_until_gone,
    yield_then_end_all,
)

pytestmark = pytest.mark.slurm


def job_options(mem_gb: int = 2) -> list[str]:
    return ["--system", "slurm", "--job-cores", "1", "--job-mem-gb", str(mem_gb), "--walltime", "00:10:00", "--workload", "cpu"]


JOB_OPTIONS = job_options()


class Slurm:
    """The running test Slurm: its config, the scheduler's interface on the bridge, its hosts."""

    def __init__(self, exports: dict[str, str]):
        self.conf = exports["SLURM_CONF"]
        self.dir = Path(exports["DASK_HPC_SLURM_DIR"])
        self.interface = exports["DASK_HPC_SLURM_INTERFACE"]
        self.head_address = exports["DASK_HPC_SLURM_ADDRESS"]  # this host's address on the bridge
        self.user = exports["DASK_HPC_SLURM_USER"]  # an unprivileged user that every host knows
        self.env = {**os.environ, "SLURM_CONF": self.conf}
        # host name → address on the bridge, as slurmctld knows them.
        self.hosts = dict(line.split() for line in self.run("sinfo", "-h", "-N", "-o", "%N %o").splitlines())

    def run(self, *command: str) -> str:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True, timeout=30).stdout

    def queue(self, name: str | None = None) -> dict[str, str]:
        """Jobs in the queue (of this job name): id → Slurm's state."""
        out = self.run("squeue", "-h", *(["-n", name] if name else []), "-o", "%i %T")
        return dict(line.split() for line in out.splitlines())

    def processes_on(self, host: str) -> set[int]:
        """Every process on that host (its network namespace) but its slurmd."""
        pids = {int(p) for p in subprocess.run(["ip", "netns", "pids", host], capture_output=True, text=True, check=True).stdout.split()}
        slurmd = int((self.dir / f"slurmd.{host}.pid").read_text().strip())
        return pids - {slurmd}


@pytest.fixture(scope="session")
def slurm() -> Slurm:
    started = subprocess.run(["bash", str(REPO / "scripts" / "slurm-up.sh")], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, f"a real Slurm is needed for these tests: {started.stderr}"
    exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines() if line.startswith("export "))
    yield Slurm(exports)
    subprocess.run(["bash", str(REPO / "scripts" / "slurm-down.sh"), exports["DASK_HPC_SLURM_DIR"]], timeout=120)


def in_a_slurm_job(tool: DaskHpc, slurm: Slurm) -> DaskHpc:
    """dask-hpc inside a Slurm job of 2 cores and 6 GiB on the head host, as JupyterLab would be."""
    for name in [n for n in tool.env if n.startswith("PBS_")]:
        del tool.env[name]
    tool.env.update(
        SLURM_CONF=slurm.conf,
        SLURM_JOB_ID="77",
        SLURM_CPUS_ON_NODE="2",
        SLURM_MEM_PER_NODE="6144",
        SLURM_TMPDIR=str(tool.jobfs),
    )
    return tool


@pytest.fixture
def slurm_node(dask_hpc, slurm):
    yield in_a_slurm_job(dask_hpc, slurm)
    # Nothing of the test may stay on any host.
    for host in slurm.hosts:
        assert not wait_for_empty(lambda host=host: slurm.processes_on(host), 30), f"processes left on {host}"


@pytest.fixture
def slurm_user_node(slurm):
    """The same, as the unprivileged user: their sidecar, scheduler and sbatch, in a directory of theirs."""
    directory = Path(tempfile.mkdtemp(prefix="dask-hpc-slurm-user-"))
    directory.chmod(0o755)
    shutil.chown(directory, slurm.user, slurm.user)
    tool = in_a_slurm_job(DaskHpc.as_user(directory, slurm.user), slurm)
    yield from yield_then_end_all(tool, directory)
    for host in slurm.hosts:
        assert not wait_for_empty(lambda host=host: slurm.processes_on(host), 30), f"processes left on {host}"


def wait_for_empty(probe, seconds: float):
    deadline = time.monotonic() + seconds
    while (left := probe()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def host_of(address: str) -> str:
    return address.split("://")[1].rsplit(":", 1)[0]


def test_slurm_worker_jobs_on_three_hosts_compute_scale_down_and_leave_nothing(slurm_node, slurm):
    cluster = slurm_node.up("--name", "sl", "--jobs", "3", "--interface", slurm.interface, *JOB_OPTIONS)
    cid = cluster["id"]
    assert cluster["worker_jobs"]["system"] == "slurm"
    # The other hosts reach the scheduler over TLS on the bridge.
    assert cluster["scheduler_address"].startswith(f"tls://{slurm.head_address}:")
    job_ids = {w["job_id"] for w in cluster["workers"]}
    assert len(job_ids) == 3 and set(slurm.queue(f"dask-{cid}")) == job_ids

    with client_of(cluster) as client:
        client.wait_for_workers(3, timeout=90)
        import socket

        import dask.array as da

        # One worker job on each host (Slurm's least-loaded placement), each registered by its host's address.
        addresses = list(client.scheduler_info()["workers"])
        assert {host_of(a) for a in addresses} == set(slurm.hosts.values())
        # A computation on every host: each worker computes its part where it runs.
        where = client.gather([client.submit(socket.gethostname, pure=False, workers=[a]) for a in addresses])
        assert sorted(where) == sorted(slurm.hosts)
        assert int(da.ones((2000, 2000), chunks=500).sum().compute()) == 4_000_000
        # Each worker runs inside its own Slurm job, on that job's disk, with the job's plan.
        seen = client.run(lambda: (socket.gethostname(), os.environ.get("SLURM_JOB_ID"), os.environ["TMPDIR"]))
        assert {job for _, job, _ in seen.values()} == job_ids
        assert {slurm.hosts[host] for host, _, _ in seen.values()} == {host_of(a) for a in seen}
        for _, _, tmpdir in seen.values():
            assert f"/dask-hpc-{os.getuid()}/{cid}-sl-job-" in tmpdir
            assert not tmpdir.startswith(str(slurm_node.jobfs)), "the kernel's job filesystem leaked into the worker job"
        limits = {w["memory_limit"] for w in client.scheduler_info()["workers"].values()}
        assert limits == {cluster["plan"]["memory_limit_bytes"]}

        assert set(slurm.queue(f"dask-{cid}").values()) == {"RUNNING"}
        listed = wait_for(
            lambda: [c for c in slurm_node.ls() if c["id"] == cid and all(w["job_state"] == "running" for w in c["workers"])],
            20,
            "the jobs reported running",
        )
        assert all(w["registered"] == 1 and w["status"] == "running" for w in listed[0]["workers"])

        scaled = slurm_node("scale", cid, "2")
        assert scaled.returncode == 0, scaled.stderr
        wait_for(lambda: len(slurm.queue(f"dask-{cid}")) == 2, 30, "scale down cancelling a job")
        wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 30, "the client seeing two workers")

    down = slurm_node("down", cid)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not slurm.queue(f"dask-{cid}"), 30, "shutdown emptying the queue")
    assert not wait_until_gone(processes_mentioning(cid), 30)
    assert not list(Path("/tmp/dask-hpc").glob(f"{cid}-*")), "a worker job left its spill directory"


def running_job_other_than(tool: DaskHpc, cid: str, job_id: str | None) -> dict | None:
    """The cluster's job record whose workers all run, other than `job_id`, if any."""
    for cluster in tool.ls():
        if cluster["id"] == cid:
            return next((w for w in cluster["workers"] if w["status"] == "running" and w["job_id"] != job_id), None)
    return None


def test_slurm_two_node_job_computes_on_both_hosts_and_a_lost_host_or_scancel_replaces_the_whole_job(slurm_node, slurm):
    """Issue 24: one job of 2 nodes (--nodes=2, one srun task per node) runs the plan's workers on
    each host; one host's workers killed ends the job (--kill-on-bad-exit) and a new one takes its
    place; scancel the same; nothing is left on any host (the fixture checks)."""
    options = [*JOB_OPTIONS, "--job-nodes", "2", "--max-workers", "1"]
    cluster = slurm_node.up("--name", "sn", "--jobs", "1", "--interface", slurm.interface, *options)
    cid = cluster["id"]
    (first,) = {w["job_id"] for w in cluster["workers"]}
    with client_of(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        import socket

        seen = client.run(lambda: (socket.gethostname(), os.environ.get("SLURM_JOB_ID"), os.getpid()))
        assert len({host for host, _, _ in seen.values()}) == 2, seen
        assert {job for _, job, _ in seen.values()} == {first}, "both hosts' workers run in the one job"
        names = sorted(w["name"] for w in client.scheduler_info()["workers"].values())
        assert names == ["sn-job-0-0", "sn-job-0-1"], names
        assert sum(client.gather(client.map(lambda x: x + 1, range(10)))) == 55
        unit = wait_for(lambda: running_job_other_than(slurm_node, cid, None), 30, "the job's record running")
        assert unit["registered"] == 2
        # One host's dask worker (the nanny, parent of the worker process) killed.
        _, _, pid = sorted(seen.values())[1]
        psutil.Process(pid).parent().kill()
        second = wait_for(lambda: running_job_other_than(slurm_node, cid, first), 120, "a new 2-node job running in place of the first")
        assert second["replaces"]["job_id"] == first and second["replaces"]["reason"] == "ended", second
        assert first not in slurm.queue(f"dask-{cid}")
        assert not wait_until_gone(processes_mentioning(unit["name"] + "-"), 30), "a process of the first job outlived it"
        client.wait_for_workers(2, timeout=60)
        subprocess.run(["scancel", second["job_id"]], env=slurm.env, check=True, timeout=30)
        wait_for(lambda: running_job_other_than(slurm_node, cid, second["job_id"]), 120, "a third job in place of the cancelled one")
        assert not wait_until_gone(processes_mentioning(second["name"] + "-"), 30), "a cancelled job's process outlived it"
    assert slurm_node("down", cid).returncode == 0
    wait_for(lambda: not slurm.queue(f"dask-{cid}"), 30, "shutdown emptying the queue")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def test_slurm_queued_jobs_are_shown_queued_and_owner_sigkill_cancels_them_all(slurm_node, slurm):
    # Jobs of 5 GB fill a host's 6000 MB each: three run, one waits in the queue when the owner dies.
    options = job_options(mem_gb=5)
    result = slurm_node(
        "up", "--detach", "--python", slurm_node.python, "--jobs", "4", "--interface", slurm.interface, *options, "--adoption-grace", "2"
    )
    assert result.returncode == 0, result.stderr
    cluster = json.loads(result.stdout)
    cid = cluster["id"]
    three_running_one_pending = ["PENDING", "RUNNING", "RUNNING", "RUNNING"]
    wait_for(lambda: sorted(slurm.queue(f"dask-{cid}").values()) == three_running_one_pending, 60, "three jobs running, one pending")

    def job_states_listed() -> list[str]:
        return sorted(w["job_state"] for c in slurm_node.ls() if c["id"] == cid for w in c["workers"])

    wait_for(lambda: job_states_listed() == ["queued", "running", "running", "running"], 20, "ls showing three jobs running and one queued")
    os.kill(cluster["owner_pid"], signal.SIGKILL)
    wait_for(lambda: not slurm.queue(f"dask-{cid}"), 30, "every job, queued or running, leaving the queue")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def test_slurm_job_whose_workers_cannot_start_is_an_error_with_the_job_log(slurm_node, slurm):
    """A job that runs but whose workers die before joining (here a broken Python environment on
    the compute host) becomes the cluster's error, with the tail of the job's log, not a wait."""
    up = subprocess.Popen(
        [
            "node",
            str(REPO / "lib" / "dask-hpc.mjs"),
            "up",
            "--detach",
            "--python",
            slurm_node.python,
            "--name",
            "broken",
            "--jobs",
            "1",
            "--interface",
            slurm.interface,
            *JOB_OPTIONS,
            "--prologue",
            "export PYTHONHOME=/nonexistent",
        ],
        env=slurm_node.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        failed = wait_for(
            lambda: [c for c in slurm_node.ls() if c["name"] == "broken" and "ended before its workers joined" in (c.get("error") or "")],
            120,
            "the cluster reporting that its job ended before its workers joined",
        )[0]
        assert re.search(r"encodings|PYTHONHOME|Fatal Python error", failed["error"]), f"the job's log tail is missing: {failed['error']}"
        assert not slurm.queue(f"dask-{failed['id']}"), "the failed job is still queued"
        # The user ends the failed cluster as any other.
        down = slurm_node("down", failed["id"])
        assert down.returncode == 0, down.stderr
    finally:
        for c in slurm_node.ls():
            slurm_node("down", c["id"])
        up.wait(timeout=60)
    assert not slurm.queue(f"dask-{failed['id']}")
    assert not wait_until_gone(processes_mentioning(failed["id"]), 30)


def test_slurm_worker_jobs_submitted_by_an_unprivileged_user_compute_and_leave_nothing(slurm_user_node, slurm):
    """The user's own sidecar submits the worker jobs with sbatch: Slurm runs them as that user on
    the other hosts (its environment, with the Python's packages, goes with them, as sbatch
    does), their workers reach the user's scheduler over TLS, and shutdown cancels them."""
    tool = slurm_user_node
    uid = pwd.getpwnam(slurm.user).pw_uid
    cluster = tool.up("--name", "su", "--jobs", "2", "--interface", slurm.interface, *JOB_OPTIONS)
    cid = cluster["id"]
    job_ids = {w["job_id"] for w in cluster["workers"]}
    owners = dict(line.split() for line in slurm.run("squeue", "-h", "-n", f"dask-{cid}", "-o", "%i %u").splitlines())
    assert owners == {jid: slurm.user for jid in job_ids}, "the jobs are the user's"
    scheduler = [p for p in processes_mentioning(cid) if "distributed.cli.dask_scheduler" in " ".join(p.cmdline())]
    assert scheduler and {p.uids().real for p in scheduler} == {uid}, "the scheduler runs as the user"

    with client_of(cluster) as client:
        client.wait_for_workers(2, timeout=90)
        import socket

        seen = client.run(lambda: (os.getuid(), os.environ.get("SLURM_JOB_ID"), socket.gethostname()))
        assert {who for who, _, _ in seen.values()} == {uid}, "the workers run as the user"
        assert {job for _, job, _ in seen.values()} == job_ids
        assert {host for _, _, host in seen.values()} <= set(slurm.hosts)
        assert client.submit(sum, range(10), pure=False).result(timeout=30) == 45

    down = tool("down", cid)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not slurm.queue(f"dask-{cid}"), 30, "shutdown emptying the queue")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def seconds_of(duration: str) -> int:
    hours, minutes, seconds = (int(part) for part in duration.split(":"))
    return hours * 3600 + minutes * 60 + seconds


@pytest.mark.timeout(600)  # the walltime is 5 minutes
def test_slurm_worker_job_retires_before_its_time_limit_and_a_new_job_takes_its_place(slurm_node, slurm):
    """Walltime: the job's worker retires (--lifetime) before Slurm's time limit, the job
    completes by itself, and the cluster, which still wants a worker, gets a new job whose worker
    computes. 5 minutes is the shortest walltime dask-hpc accepts: the worker retires 60 s before."""
    options = job_options()
    options[options.index("--walltime") + 1] = "00:05:00"
    cluster = slurm_node.up("--name", "wt", "--jobs", "1", "--interface", slurm.interface, *options)
    cid = cluster["id"]
    (first,) = {w["job_id"] for w in cluster["workers"]}
    assert "TimeLimit=00:05:00" in slurm.run("scontrol", "show", "job", "-o", first)
    with client_of(cluster) as client:
        client.wait_for_workers(1, timeout=90)
        (old_worker,) = client.scheduler_info()["workers"]
        assert client.submit(sum, range(10), pure=False).result() == 45

        # The lifetime (240 s ± 15 s) runs out: the worker leaves, then its job completes before the limit.
        wait_for(lambda: first not in slurm.queue(f"dask-{cid}"), 300, "the first job ending by itself")
        shown = slurm.run("scontrol", "show", "job", "-o", first)
        assert "JobState=COMPLETED" in shown and "ExitCode=0:0" in shown, f"the job was not ended by its retiring worker: {shown}"
        ran = seconds_of(re.search(r"RunTime=(\S+)", shown)[1])
        assert 200 <= ran < 300, f"the job ran {ran} s: its worker should retire about 60 s before the 300 s limit"
        job_log = slurm_node.state_dir / f"{cid}.jobs" / f"{cluster['workers'][0]['name']}.log"
        assert "worker-lifetime-reached" in job_log.read_text(), job_log.read_text()[-2000:]

        # The cluster still wants one worker: a new job, whose worker joins and computes.
        replaced = wait_for(
            lambda: [
                c
                for c in slurm_node.ls()
                if c["id"] == cid and any(w["job_id"] != first and w["status"] == "running" for w in c["workers"])
            ],
            120,
            "a new job's worker running in place of the retired one",
        )[0]
        assert not replaced.get("error"), replaced["error"]
        (second,) = set(slurm.queue(f"dask-{cid}"))
        assert second != first
        wait_for(lambda: set(client.scheduler_info()["workers"]) - {old_worker}, 60, "the new job's worker joining the scheduler")
        (new_worker,) = client.scheduler_info()["workers"]
        assert client.submit(sum, range(100), pure=False, workers=[new_worker]).result(timeout=30) == 4950
        assert client.run(lambda: os.environ.get("SLURM_JOB_ID")) == {new_worker: second}

    assert slurm_node("down", cid).returncode == 0
    wait_for(lambda: not slurm.queue(f"dask-{cid}"), 30, "shutdown emptying the queue")
    assert not wait_until_gone(processes_mentioning(cid), 30)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prologue", "curl http://x | sh"], "--prologue line 1"),
        (["--account", "ab12; rm -rf ~"], "--account must be"),
        (["--walltime", "forever"], "--walltime must be HH:MM:SS"),
        (["--job-cores", "0"], "--job-cores must be"),
        (["--interface", "nosuch0"], "no interface"),
    ],
)
def test_slurm_bad_job_options_submit_nothing(slurm_node, slurm, flags, message):
    before = slurm.queue()
    result = slurm_node("up", "--python", slurm_node.python, *JOB_OPTIONS, *flags)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert slurm.queue() == before
    assert slurm_node.ls() == []


CHECK_SCRIPT = """
import json, os, socket, sys
from distributed import Client
with Client(timeout=30) as client:  # no arguments: dask-hpc run sets Dask's own variables
    workers = list(client.scheduler_info()["workers"])
    # One task on each worker: the computation runs on every host of the job.
    hosts = client.gather([client.submit(socket.gethostname, pure=False, workers=[w]) for w in workers])
    seen = client.run(lambda: [socket.gethostname(), os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_STEP_ID"), os.environ["TMPDIR"]])
    total = client.submit(sum, range(10)).result()
print("RESULT " + json.dumps({"addresses": workers, "task_hosts": hosts, "workers": seen, "total": total}), flush=True)
sys.exit(3)  # the job must end with the command's status
"""


def test_slurm_runner_in_a_three_host_job_computes_on_every_host_and_leaves_nothing(slurm_node, slurm, tmp_path):
    """Inside a real 3-node Slurm job, `dask-hpc run --runner` starts the plan's workers on all
    three hosts with srun, runs the command, exits with its status, and leaves no process."""
    script = tmp_path / "check.py"
    script.write_text(CHECK_SCRIPT)
    output = tmp_path / "job.out"
    env = {k: v for k, v in slurm_node.env.items() if not k.startswith("SLURM_")} | {"SLURM_CONF": slurm.conf}
    python = slurm_node.python
    command = f"node {REPO / 'lib' / 'dask-hpc.mjs'} run --runner --workload cpu --python {python} -- {python} {script}"
    submitted = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "-N3",
            "--ntasks-per-node=1",
            "-c2",
            "--mem=3G",
            "-J",
            "dask-hpc-runner-test",
            "-o",
            str(output),
            "--wrap",
            command,
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    wait_for(lambda: job_id not in slurm.queue(), 180, "the runner job finishing")
    text = output.read_text()
    assert "RESULT " in text, text[-3000:]
    result = json.loads(next(line for line in text.splitlines() if line.startswith("RESULT ")).removeprefix("RESULT "))
    assert result["total"] == 45
    assert set(result["task_hosts"]) == set(slurm.hosts), "a computation on every host of the job"
    assert {host_of(a) for a in result["addresses"]} == set(slurm.hosts.values())
    for address, (host, worker_job, step, tmpdir) in result["workers"].items():
        assert slurm.hosts[host] == host_of(address)
        assert worker_job == job_id and step not in (None, "batch"), "workers run in an srun step of the same job"
        assert f"/dask-hpc-{os.getuid()}/" in tmpdir
    # The job's exit status is the command's.
    shown = slurm.run("scontrol", "show", "job", "-o", job_id)
    assert "ExitCode=3:0" in shown, shown
    cluster_id = tmpdir.split(f"/dask-hpc-{os.getuid()}/")[1].split("/")[0]
    assert not wait_until_gone(processes_mentioning(cluster_id), 30)


def test_detect_in_a_real_slurm_job_reads_its_account_time_limit_and_tmp(slurm_node, slurm, tmp_path):
    """Issue 23: inside a real job of --account, --time and --tmp, `dask-hpc detect` reads them
    from scontrol (this Slurm has no accounting: --account is taken as given)."""
    output = tmp_path / "job.out"
    env = {k: v for k, v in slurm_node.env.items() if not k.startswith("SLURM_")} | {"SLURM_CONF": slurm.conf}
    command = f"node {REPO / 'lib' / 'dask-hpc.mjs'} detect --json"
    options = ["--account=ab12", "--time=00:07:00", "--tmp=100M", "-c1", "--mem=1G", "-J", "dask-hpc-detect-test"]
    submitted = subprocess.run(
        ["sbatch", "--parsable", *options, "-o", str(output), "--wrap", command], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    wait_for(lambda: job_id not in slurm.queue() and output.exists() and output.read_text().strip().endswith("}"), 90, "the job finishing")
    resources = json.loads(output.read_text())
    job = resources["job"]
    assert job["id"] == job_id and job["project"] == "ab12" and job["queue"] == "debug" and job["storage"] is None, job
    assert job["walltime_seconds"] == 7 * 60 and job["jobfs_request_bytes"] == 100 * 2**20, job
    ends = datetime.fromisoformat(job["ends_at"].replace("Z", "+00:00"))
    assert timedelta(0) < ends - datetime.now(timezone.utc) < timedelta(minutes=7), job["ends_at"]
    assert not [w for w in resources["warnings"] if "scontrol" in w], resources["warnings"]


def test_runner_outside_a_batch_job_is_refused_before_anything_starts(dask_hpc):
    env = {k: v for k, v in dask_hpc.env.items() if not k.startswith("PBS_")}
    result = subprocess.run(
        ["node", str(REPO / "lib" / "dask-hpc.mjs"), "up", "--runner", "--python", dask_hpc.python], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "--runner uses the nodes of the current PBS or Slurm job" in result.stderr
    assert dask_hpc.ls() == []


def test_slurm_worker_job_under_a_group_writable_tmpdir_keeps_its_files_private_and_its_http_on_loopback(
    slurm_node, slurm, other_user, project_scratch
):
    """A job whose SLURM_TMPDIR and TMPDIR are a project's scratch at 2770 (the other user in its
    group): the job script passes them over for /tmp, saying so in the job's log; the worker's
    directory is out of the other user's reach; its HTTP server listens on its host's loopback."""
    project = project_scratch
    try:
        prologue = ["--prologue", f"export SLURM_TMPDIR={project}", "--prologue", f"export TMPDIR={project}"]
        cluster = slurm_node.up("--name", "gw", "--jobs", "1", "--interface", slurm.interface, *JOB_OPTIONS, *prologue)
        cid = cluster["id"]
        with client_of(cluster) as client:
            client.wait_for_workers(1, timeout=90)
            assert_worker_jobs_private_with_http_on_loopback(client, cid, other_user, project)
            log = "".join(p.read_text() for p in slurm_node.state_dir.glob(f"{cid}.jobs/*.log"))
            assert f"dask-hpc: passed over {project} for temp and spill: {project} (mode 2770" in log, log
        down = slurm_node("down", cid)
        assert down.returncode == 0, down.stderr
        wait_for(lambda: not slurm.queue(f"dask-{cid}"), 30, "shutdown emptying the queue")
    finally:
        slurm_node("down", "--all")  # a test that failed half-way leaves its cluster


@pytest.mark.timeout(480)  # the time limit is 4 minutes
def test_slurm_dask_hpc_run_stops_before_its_time_limit_with_workers_retired_and_exits_124(slurm_node, slurm, tmp_path):
    """Issue 23: in a real job of --time=4, a `dask-hpc run` whose command would run forever
    retires the workers, stops the command a minute before the end and exits 124; Slurm ends the
    job as COMPLETED, not TIMEOUT, and no process of it is left on any host. The job's --tmp=600M
    caps the worker's spill (max-spill) under the request less the margin for Dask's own files."""
    script = tmp_path / "walltime_client.py"
    script.write_text(WALLTIME_CLIENT)
    output = tmp_path / "job.out"
    env = {k: v for k, v in slurm_node.env.items() if not k.startswith("SLURM_")} | {"SLURM_CONF": slurm.conf}
    python = slurm_node.python
    command = (
        f"node {REPO / 'lib' / 'dask-hpc.mjs'} run --workload cpu --max-workers 1 --python {python} -- {python} {script}; echo EXIT $?"
    )
    options = ["--time=4", "--tmp=600M", "-c1", "--mem=2G", "-J", "dask-hpc-time-limit-test"]
    submitted = subprocess.run(
        ["sbatch", "--parsable", *options, "-o", str(output), "--wrap", command], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    wait_for(lambda: job_id not in slurm.queue(), 300, "the job finishing")
    wait_for(lambda: "EXIT " in output.read_text(), 20, "the job's output")
    text = output.read_text()
    started = assert_run_stopped_before_the_end(text, job_id)
    assert len(started["caps"]) == 1 and 0 < started["caps"][0] <= 600 * 2**20 - 256 * 2**20, started
    shown = slurm.run("scontrol", "show", "job", "-o", job_id)
    assert "JobState=COMPLETED" in shown, shown
    assert not wait_until_gone(processes_mentioning(started["cluster"]), 30)

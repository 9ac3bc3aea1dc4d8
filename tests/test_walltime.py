"""The job's walltime (issue 23): `dask-hpc run` in a pretend PBS job whose end is near retires
its workers and stops the command before the end; worker jobs made there default to the time
left. The job's end comes from a stand-in `qstat` on PATH (as in test_job_request.py) whose
start time is set so that the end falls where the test needs it."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

from test_job_request import fake_qstat


def job_ending_in(tmp_path: Path, seconds: float, walltime: str = "00:10:00") -> dict:
    """A stand-in qstat for 4242.gadi-pbs whose start is set so that its walltime ends `seconds` from now."""
    h, m, s = (int(part) for part in walltime.split(":"))
    start = time.time() + seconds - (h * 3600 + m * 60 + s)
    answer = {
        "Jobs": {
            "4242.gadi-pbs": {
                "queue": "normal",
                "project": "proj",
                "Resource_List": {"ncpus": 2, "mem": "6gb", "walltime": walltime},
                # qstat prints local time, without a zone, to the second.
                "stime": time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(start)),
            }
        }
    }
    (tmp_path / "qstat.json").write_text(json.dumps(answer))
    return fake_qstat(tmp_path / "bin", f"cat {tmp_path}/qstat.json")


def iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# The command: computes until told to stop; then says when it was told and how many workers the
# scheduler still had, and which tasks it had finished, and whether any failed.
COMMAND = """
import json, os, signal, sys, time
from distributed import Client

report = {"ends_at": os.environ.get("DASK_HPC_JOB_ENDS_AT"), "retire_at": os.environ.get("DASK_HPC_RETIRE_AT"), "errors": []}
def told(signum, frame):
    report["told_at"] = time.time()
    raise SystemExit(0)
signal.signal(signal.SIGTERM, told)
client = Client()
report["workers_at_start"] = len(client.scheduler_info()["workers"])
done = 0
try:
    while True:
        future = client.submit(time.sleep, 0.2, pure=False)
        try:
            future.result()
            done += 1
        except Exception as error:
            report["errors"].append(repr(error))
finally:
    report["done"] = done
    report["workers_when_told"] = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.workers))
    with open(sys.argv[1], "w") as out:
        json.dump(report, out)
"""


def test_run_retires_the_workers_and_stops_the_command_before_the_jobs_end(dask_hpc, tmp_path):
    # A 10-minute job with 80 s left: run keeps a 60 s margin, so it stops in about 20 s.
    env = job_ending_in(tmp_path, 80)
    script, report_file = tmp_path / "work.py", tmp_path / "report.json"
    script.write_text(COMMAND)
    started = time.time()
    result = dask_hpc(
        "run", "--workload", "cpu", "--python", dask_hpc.python, "--", dask_hpc.python, str(script), str(report_file), env=env
    )
    finished = time.time()
    assert result.returncode == 124, result.stderr
    report = json.loads(report_file.read_text())
    ends_at, retire_at = iso(report["ends_at"]), iso(report["retire_at"])
    assert abs(ends_at - (started + 80)) < 3 and ends_at - retire_at == 60, report
    assert re.search(
        r"dask-hpc: job 4242\.gadi-pbs reaches its walltime at \S+ \(in (1 min|under a minute)\): retiring the workers now", result.stderr
    ), result.stderr
    assert "exit 124" in result.stderr
    # The command ran against both workers, was told at the margin, after the workers had retired,
    # and no task of it failed: they were not killed under it.
    assert report["workers_at_start"] == 2 and report["done"] > 10, report
    assert retire_at - 1 <= report["told_at"] < retire_at + 15, report
    assert report["workers_when_told"] == 0 and report["errors"] == [], report
    assert finished < ends_at - 20, "everything had ended well before the job's end"
    assert dask_hpc.ls() == [] and list(dask_hpc.local_root.iterdir()) == []


def test_run_starts_nothing_when_the_job_ends_within_its_margin(dask_hpc, tmp_path):
    # Slurm's own end variable, no scontrol: only the end is known, so the margin is 3 minutes.
    env = {"PBS_JOBID": "", "SLURM_JOB_ID": "77", "SLURM_CPUS_ON_NODE": "2", "SLURM_MEM_PER_NODE": "4096"}
    env["SLURM_JOB_END_TIME"] = str(int(time.time()) + 120)
    result = dask_hpc("run", "--python", dask_hpc.python, "--", "touch", str(tmp_path / "ran"), env=env)
    assert result.returncode == 124, result.stderr
    assert "dask-hpc: job 77 reaches its walltime at" in result.stderr and "within the 180 s that run keeps" in result.stderr
    assert not (tmp_path / "ran").exists() and dask_hpc.ls() == []


def walltime_of(script: str) -> str:
    return re.search(r"^#PBS -l walltime=(\S+)$", script, re.M).group(1)


def test_a_job_script_made_in_a_job_ending_soon_takes_the_time_left_and_a_given_walltime_wins(dask_hpc, tmp_path):
    env = job_ending_in(tmp_path, 42 * 60 + 30, walltime="02:00:00")
    job = ("job-script", "--system", "pbs", "--job-cores", "2", "--job-mem-gb", "4")
    made = dask_hpc(*job, env=env)
    assert made.returncode == 0, made.stderr
    assert walltime_of(made.stdout) == "00:42:00", made.stdout
    assert "# walltime 00:42:00 (the time this job, 4242.gadi-pbs, has left)" in made.stdout.splitlines()
    given = dask_hpc(*job, "--walltime", "04:00:00", env=env)
    assert walltime_of(given.stdout) == "04:00:00" and "# walltime" not in given.stdout


def test_a_worker_job_with_under_5_minutes_left_is_a_clear_error_unless_a_walltime_is_given(dask_hpc, tmp_path):
    env = job_ending_in(tmp_path, 200)
    job = ("job-script", "--system", "pbs", "--job-cores", "2", "--job-mem-gb", "4")
    refused = dask_hpc(*job, env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert re.fullmatch(
        r"dask-hpc: this job \(4242\.gadi-pbs\) ends in 3 min, at \S+Z: a worker job needs at least 00:05:00; "
        r"give a walltime \(--walltime\) to submit one anyway\n",
        refused.stderr,
    ), refused.stderr
    given = dask_hpc(*job, "--walltime", "00:30:00", env=env)
    assert given.returncode == 0 and walltime_of(given.stdout) == "00:30:00"

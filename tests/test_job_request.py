"""The job's own request read from the batch system by `dask-hpc detect` (issue 23), with a
stand-in `qstat` on PATH: one that hangs, one that prints a recorded answer."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil

from conftest import jupyter_server

# Recorded from the test PBS (qsub -P proj -l ncpus=2,mem=2gb,jobfs=500mb,walltime=00:05:00,storage=scratch/proj), id changed to the fake job's.
RECORDED_QSTAT = {
    "pbs_version": "23.06.06",
    "Jobs": {
        "4242.gadi-pbs": {
            "queue": "workq",
            "project": "proj",
            "Resource_List": {"jobfs": "500mb", "mem": "2gb", "ncpus": 2, "storage": "scratch/proj", "walltime": "00:05:00"},
            "stime": "Thu Dec  3 15:32:00 2026",
        }
    },
}


def recorded_qstat_started_now() -> str:
    """The recorded answer with its start moved to now: a job still running (one past its end
    would make worker-job defaults refuse the walltime it has left)."""
    answer = json.loads(json.dumps(RECORDED_QSTAT))
    answer["Jobs"]["4242.gadi-pbs"]["stime"] = time.strftime("%a %b %e %H:%M:%S %Y")
    return json.dumps(answer)


def fake_qstat(directory: Path, body: str) -> dict:
    """A `qstat` first on PATH that runs `body` (sh); the environment that finds it."""
    directory.mkdir()
    script = directory / "qstat"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}"}


def test_a_qstat_that_hangs_leaves_detection_working_within_the_timeout_with_a_warning(dask_hpc, tmp_path):
    env = fake_qstat(tmp_path / "bin", f"echo $$ > {tmp_path}/qstat.pid; exec sleep 120")
    started = time.monotonic()
    result = dask_hpc("detect", "--json", env=env)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    resources = json.loads(result.stdout)
    assert took < 10, f"detect took {took:.1f} s"
    assert resources["cores"] >= 1 and resources["memory_bytes"] > 0 and resources["jobfs"] == str(dask_hpc.jobfs)
    warnings = resources["warnings"]
    assert any(w.startswith("qstat -f -F json 4242.gadi-pbs did not answer within 5 s") for w in warnings), warnings
    assert resources["job"] == {
        "id": "4242.gadi-pbs",
        "project": None,
        "queue": None,
        "storage": None,
        "walltime_seconds": None,
        "ends_at": None,
        "jobfs_request_bytes": None,
    }
    assert not psutil.pid_exists(int((tmp_path / "qstat.pid").read_text())), "the hung qstat is killed, not left behind"


def test_the_job_request_from_qstat_and_a_job_script_that_takes_its_project_and_storage(dask_hpc, tmp_path):
    answer = tmp_path / "qstat.json"
    answer.write_text(recorded_qstat_started_now())
    env = fake_qstat(tmp_path / "bin", f'[ "$*" = "-f -F json 4242.gadi-pbs" ] || exit 3; cat {answer}')
    result = dask_hpc("detect", "--json", env=env)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)["job"]
    assert job["project"] == "proj" and job["queue"] == "workq" and job["storage"] == "scratch/proj"
    assert job["walltime_seconds"] == 300 and job["jobfs_request_bytes"] == 500 * 2**20
    assert job["ends_at"].endswith("Z")
    # The recorded job asked for 5 minutes: under the floor a worker job's default would take from it.
    script = dask_hpc("job-script", "--system", "pbs", "--job-cores", "2", "--job-mem-gb", "4", "--walltime", "00:30:00", env=env)
    assert script.returncode == 0, script.stderr
    lines = script.stdout.splitlines()
    assert "#PBS -P proj" in lines and "#PBS -l storage=scratch/proj" in lines and "#PBS -q workq" in lines
    assert "# project proj (from this job, 4242.gadi-pbs)" in lines
    given = dask_hpc(
        "job-script", "--system", "pbs", "--job-cores", "2", "--job-mem-gb", "4", "--walltime", "00:30:00", "--account", "other", env=env
    )
    assert "#PBS -P other" in given.stdout.splitlines() and "# project" not in given.stdout, "a value given wins"


def test_get_resources_has_the_job_asked_once_and_the_job_script_preview_takes_its_project(dask_hpc, tmp_path):
    """The sidebar polls GET resources: the sidecar asks qstat once per job, and the form's
    preview (POST job-script) shows the project and storage taken from the job."""
    import requests

    answer = tmp_path / "qstat.json"
    answer.write_text(recorded_qstat_started_now())
    env = fake_qstat(tmp_path / "bin", f"echo asked >> {tmp_path}/asked; cat {answer}")
    token = "job-request-test"
    headers = {"Authorization": f"token {token}"}
    with jupyter_server(dask_hpc, token, **env) as (base, _):
        for _ in range(3):
            resources = requests.get(f"{base}/resources", headers=headers, timeout=30).json()
        assert resources["job"]["project"] == "proj" and resources["job"]["jobfs_request_bytes"] == 500 * 2**20
        assert (tmp_path / "asked").read_text() == "asked\n", "qstat is asked once per job, not at every poll"
        body = {"worker_jobs": {"system": "pbs", "cores": 2, "memory_gb": 4, "walltime": "00:30:00"}, "workload": "cpu"}
        preview = requests.post(f"{base}/job-script", headers=headers, json=body, timeout=30)
        assert preview.status_code == 200, preview.text
        lines = preview.json()["script"].splitlines()
        assert "#PBS -P proj" in lines and "# storage scratch/proj (from this job, 4242.gadi-pbs)" in lines

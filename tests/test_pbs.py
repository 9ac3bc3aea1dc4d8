"""A real PBS Pro (OpenPBS 23.06, Gadi-like, started by scripts/pbs-up.sh) on four compute hosts,
each its own network and UTS namespace: worker jobs, runner mode and `dask-hpc run` in qsub
scripts, each starting real Dask processes on those hosts. The tests run on the PBS login node:

    bash scripts/pbs-up.sh
    bash scripts/pbs-exec.sh .venv/bin/python -m pytest -m pbs tests/test_pbs.py
    bash scripts/pbs-down.sh
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from conftest import (
    CLI,
    VENV_PACKAGES,
    WALLTIME_CLIENT,
    DaskHpc,
    assert_run_stopped_before_the_end,
    assert_worker_jobs_private_with_http_on_loopback,
    client_of,
    processes_mentioning,
    record_calls_of,
    recorded_calls,
    wait_for,
    wait_until_gone,
    yield_then_end_all,
)

PBS_BIN = Path("/opt/pbs/bin")
VENV_BIN = Path(sys.executable).parent
UNPRIVILEGED = os.environ.get("PBS_GADI_USER", "pbsuser")
GADI_JOB = [
    "--system",
    "pbs",
    "--dialect",
    "gadi",
    "--job-cores",
    "1",
    "--job-mem-gb",
    "2",
    "--walltime",
    "00:10:00",
    "--account",
    "proj",
    "--storage",
    "scratch/proj",
    "--jobfs-gb",
    "1",
    "--workload",
    "cpu",
    "--max-workers",
    "1",
]


def pbs_pro_job(nodes: int = 1, cores: int = 1) -> list[str]:
    """Flags of standard PBS Pro worker jobs (select=): `nodes` hosts of `cores` cores and 2 GB, one worker each."""
    return [
        *["--system", "pbs", "--dialect", "pbspro", "--job-nodes", str(nodes), "--job-cores", str(cores), "--job-mem-gb", "2"],
        *["--walltime", "00:10:00", "--workload", "cpu", "--max-workers", "1"],
    ]


TWO_HOST_JOB = pbs_pro_job(nodes=2, cores=2)


def why_no_pbs() -> str | None:
    if not (PBS_BIN / "qstat").exists():
        return "OpenPBS is not installed: bash scripts/pbs-up.sh builds and starts it (root)"
    try:
        answer = subprocess.run([str(PBS_BIN / "qstat"), "-B"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the PBS server does not answer qstat -B within 20 s"
    if answer.returncode != 0:
        said = "; ".join(answer.stderr.split("\n")).strip("; ")
        return (
            f"no PBS server answers here ({said}): start it with scripts/pbs-up.sh "
            "and run these tests on its login node through scripts/pbs-exec.sh"
        )
    return None


NO_PBS = why_no_pbs()
pytestmark = [pytest.mark.pbs, pytest.mark.skipif(NO_PBS is not None, reason=NO_PBS or "")]


def pbs(*args: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """A PBS client command, as root or as `user` (su, with PBS on PATH)."""
    command = [str(PBS_BIN / args[0]), *args[1:]]
    if user:
        command = ["su", user, "-c", shlex.join(command)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, f"{args[0]} failed: {result.stderr}"
    return result


@functools.cache
def compute_hosts() -> frozenset[str]:
    """The compute hosts PBS has (scripts/pbs-up.sh starts PBS_GADI_NODES of them, 4 unless told)."""
    return frozenset(json.loads(pbs("pbsnodes", "-a", "-F", "json").stdout)["nodes"])


def qstat_jobs(history: bool = False) -> dict[str, dict]:
    """Every job PBS has (with `history`, finished ones too): id → qstat -f -F json's record."""
    result = pbs("qstat", "-f", "-F", "json", *(["-x"] if history else []))
    return json.loads(result.stdout).get("Jobs", {})


def our_jobs(cluster_id: str) -> dict[str, str]:
    """The cluster's jobs still in PBS (not finished): id → one-letter state."""
    return {jid: job["job_state"] for jid, job in qstat_jobs().items() if job["Job_Name"] == f"dask-{cluster_id}"}


@pytest.fixture
def login(dask_hpc):
    """dask-hpc on the PBS login node: not in a job, PBS's commands on PATH."""
    for name in [n for n in dask_hpc.env if n.startswith("PBS_")]:
        del dask_hpc.env[name]
    dask_hpc.env["PATH"] = f"{PBS_BIN}:{dask_hpc.env.get('PATH', '/usr/bin:/bin')}"
    yield dask_hpc
    # A test that failed half-way leaves its cluster: stopped here, so its jobs leave PBS too.
    dask_hpc("down", "--all")


def hosts_of_workers(client) -> dict[str, str]:
    """Worker address → host name, each computed by a task on that very worker."""
    addresses = list(client.scheduler_info()["workers"])
    futures = {a: client.submit(socket.gethostname, workers=[a], allow_other_workers=False, pure=False) for a in addresses}
    return {a: f.result(timeout=30) for a, f in futures.items()}


def whole_host_jobs() -> list[str]:
    """Gadi job flags for jobs of two cores: one fills a compute host."""
    job = [*GADI_JOB]
    job[job.index("--job-cores") + 1] = "2"
    return job


def test_gadi_worker_jobs_reach_the_scheduler_from_other_hosts_compute_scale_down_and_leave_nothing(login):
    """Issue 13, failure 3: the head host's interface (pbsbr0) was handed to workers on hosts without it."""
    hosts_here = len(compute_hosts())
    cluster = login.up("--name", "g", "--jobs", str(hosts_here), *whole_host_jobs())
    cid = cluster["id"]
    assert cluster["scheduler_address"].startswith("tls://192.168.254."), "workers on other hosts reach it over TLS on the bridge"
    job_ids = {w["job_id"] for w in cluster["workers"]}
    assert len(job_ids) == hosts_here and set(our_jobs(cid)) == job_ids
    records = qstat_jobs()
    for jid in job_ids:  # the real server took the Gadi form: -P, -l storage, -l jobfs, no select
        resources = records[jid]["Resource_List"]
        assert records[jid]["project"] == "proj" and resources["storage"] == "scratch/proj"
        assert resources["jobfs"].lower() in ("1024mb", "1gb") and resources["ncpus"] == 2

    with client_of(cluster) as client:
        client.wait_for_workers(hosts_here, timeout=90)
        hosts = hosts_of_workers(client)
        assert sorted(hosts.values()) == sorted(compute_hosts()), "one job, and a computation, on each compute host"
        seen = client.run(lambda: (os.environ.get("PBS_JOBID"), os.environ.get("PBS_JOBFS"), os.environ["TMPDIR"]))
        assert {job for job, _, _ in seen.values()} == job_ids
        for _, jobfs, tmpdir in seen.values():
            assert jobfs and tmpdir.startswith(jobfs + "/"), "the worker spills to its own job's jobfs"
        import dask.array as da

        assert int(da.ones((2000, 2000), chunks=500).sum().compute()) == 4_000_000

        listed = wait_for(
            lambda: [
                c for c in login.ls() if c["id"] == cid and all(w["job_state"] == "running" and w["registered"] == 1 for w in c["workers"])
            ],
            20,
            "every job reported running with its worker",
        )
        assert listed[0]["status"] == "running" and not listed[0].get("error")

        scaled = login("scale", cid, "2")
        assert scaled.returncode == 0, scaled.stderr
        wait_for(lambda: len(our_jobs(cid)) == 2, 30, "scale down deleting a job (qdel)")
        gone = (job_ids - set(our_jobs(cid))).pop()
        assert qstat_jobs(history=True)[gone]["job_state"] == "F"
        wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 30, "the client seeing two workers")

    down = login("down", cid)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def test_standard_pbs_pro_worker_job_uses_select_and_computes_on_a_compute_host(login):
    cluster = login.up("--name", "p", "--jobs", "1", *pbs_pro_job())
    cid = cluster["id"]
    (jid,) = our_jobs(cid)
    assert qstat_jobs()[jid]["Resource_List"]["select"] == "1:ncpus=1:mem=2048MB"
    with client_of(cluster) as client:
        client.wait_for_workers(1, timeout=90)
        assert set(hosts_of_workers(client).values()) <= compute_hosts()
        assert client.submit(sum, range(10)).result() == 45
    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")


def test_worker_job_that_ends_before_its_workers_register_is_an_error_with_its_log(login):
    """Issue 13, failure 3: both jobs had died and the cluster went on saying `running, workers 0/2`."""
    cluster = login.up("--name", "bad", "--jobs", "1", *GADI_JOB, "--prologue", "export PYTHONHOME=/nonexistent")
    cid = cluster["id"]
    (jid,) = {w["job_id"] for w in cluster["workers"]}
    record = wait_for(lambda: [c for c in login.ls() if c["id"] == cid and c.get("error")], 60, "the dead job becoming an error")[0]
    assert jid in record["error"] and "ended before its workers" in record["error"]
    assert "PYTHONHOME" in record["error"] or "encodings" in record["error"], "the error shows the job log's tail"
    assert record["workers"][0]["status"] == "exited" and record["workers"][0]["job_state"] == "finished"
    # What a person reads in `ls`, not only the JSON.
    human = login("ls")
    assert human.returncode == 0 and "ended before its workers" in human.stdout, human.stdout
    assert login("down", cid).returncode == 0


def test_owner_sigkill_deletes_queued_and_running_jobs(login):
    # One two-core job more than there are two-core hosts: one stays queued when the owner dies.
    hosts_here = len(compute_hosts())
    cluster = login.up("--jobs", str(hosts_here + 1), *whole_host_jobs(), "--adoption-grace", "2")
    cid = cluster["id"]
    states = wait_for(
        lambda: (s := our_jobs(cid)) and sorted(s.values()) == ["Q"] + ["R"] * hosts_here and s, 60, "a job on each host, one queued"
    )
    assert len(states) == hosts_here + 1
    card = ["queued"] + ["running"] * hosts_here
    listed = wait_for(
        lambda: [c for c in login.ls() if c["id"] == cid and sorted(w["job_state"] for w in c["workers"]) == card],
        20,
        "the card showing queued and running jobs",
    )
    assert listed
    os.kill(cluster["owner_pid"], signal.SIGKILL)
    wait_for(lambda: not our_jobs(cid), 60, "every job, queued or running, deleted")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def test_worker_job_that_ends_while_the_cluster_runs_is_replaced_by_a_new_job(login):
    """A job whose workers ran and left (walltime, qdel by its owner) is replaced: the cluster keeps its size."""
    cluster = login.up("--name", "w", "--jobs", "1", *GADI_JOB)
    cid = cluster["id"]
    (first,) = {w["job_id"] for w in cluster["workers"]}
    wait_for(
        lambda: [c for c in login.ls() if c["id"] == cid and c["workers"][0]["status"] == "running"], 60, "the first job's worker running"
    )
    pbs("qdel", first)
    replaced = wait_for(
        lambda: [c for c in login.ls() if c["id"] == cid and any(w["job_id"] != first and w["status"] == "running" for w in c["workers"])],
        90,
        "a new job's worker running in place of the deleted one",
    )[0]
    assert not replaced.get("error"), replaced["error"]
    assert [w["job_id"] for w in replaced["workers"]] != [first] and first not in our_jobs(cid)
    # Which job ended, why and when: in the record, and in what a person reads in `ls`.
    (new,) = [w for w in replaced["workers"] if w["job_id"] != first]
    assert new["replaces"]["job_id"] == first and new["replaces"]["reason"] == "ended", new
    assert f"job {new['job_id']} replaces {first}: it ended early (qdel, a node lost) at " in login("ls").stdout
    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def running_unit(login, cid: str, job_id_other_than: str | None = None) -> dict | None:
    """The cluster's job record whose workers all run (another than `job_id_other_than`), if any."""
    for cluster in login.ls():
        if cluster["id"] == cid:
            for unit in cluster["workers"]:
                if unit["status"] == "running" and unit["job_id"] != job_id_other_than:
                    return unit
    return None


def test_a_two_host_worker_job_computes_on_both_hosts_and_a_lost_host_or_qdel_replaces_the_whole_job(login):
    """Issue 24: one job of 2 hosts (select=2, place=scatter) starts the plan's workers on each
    host through pbs_tmrsh; one host's workers killed ends the job and a new job takes its place;
    qdel of a job ends its processes on both hosts; nothing is left after down."""
    cluster = login.up("--name", "mn", "--jobs", "1", *TWO_HOST_JOB)
    cid = cluster["id"]
    (first,) = our_jobs(cid)
    request = qstat_jobs()[first]["Resource_List"]
    assert request["select"] == "2:ncpus=2:mem=2048MB" and request["place"] == "scatter", request
    with client_of(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        hosts = hosts_of_workers(client)
        assert len(set(hosts.values())) == 2 and set(hosts.values()) <= compute_hosts(), hosts
        names = sorted(w["name"] for w in client.scheduler_info()["workers"].values())
        assert names == ["mn-job-0-0", "mn-job-0-1"], names
        assert sum(client.gather(client.map(lambda x: x * 2, range(20)))) == 380
        unit = wait_for(lambda: running_unit(login, cid), 30, "the job's record running")
        assert unit["registered"] == 2 and unit["job_id"] == first
        assert "workers 2/2 in jobs 1/1" in login("ls").stdout
        # One host's workers killed (their dask worker process, the nanny): the job ends, and is replaced.
        pids = client.run(os.getpid)
        lost_host_worker = next(a for a, h in hosts.items() if h == sorted(hosts.values())[1])
        psutil.Process(pids[lost_host_worker]).parent().kill()
        second = wait_for(lambda: running_unit(login, cid, first), 120, "a new 2-host job running in place of the first")
        assert second["replaces"]["job_id"] == first and second["replaces"]["reason"] == "ended", second
        assert second["registered"] == 2
        assert first not in our_jobs(cid)
        assert not wait_until_gone(processes_mentioning(unit["name"] + "-"), 30), "a process of the first job outlived it on a host"
        log = Path(qstat_jobs(history=True)[first]["Output_Path"].split(":", 1)[1])
        assert "the workers of one host of this job ended (exit" in wait_for(lambda: log.exists() and log.read_text(), 30, "the job's log")
        client.wait_for_workers(2, timeout=60)
        assert client.submit(sum, range(10)).result(timeout=60) == 45
        # qdel of a running 2-host job: its processes on both hosts end, a third job takes its place.
        pbs("qdel", second["job_id"])
        wait_for(lambda: running_unit(login, cid, second["job_id"]), 120, "a third job running in place of the deleted one")
        assert not wait_until_gone(processes_mentioning(second["name"] + "-"), 30), "a deleted job's process outlived it"
    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30), "a process of the cluster outlived down on some host"


def test_a_cluster_keeps_at_most_max_queued_jobs_in_the_queue_and_submits_held_ones_as_jobs_start(login):
    """Issue 24: a cluster of two whole-host jobs more than there are hosts put every job in PBS's
    queue at once; with --max-queued 1, one waits in the queue and one is held back, said on `ls`
    and the card."""
    hosts_here = len(compute_hosts())
    jobs = hosts_here + 2
    cluster = login.up("--name", "q", "--jobs", str(jobs), "--max-queued", "1", *whole_host_jobs())
    cid = cluster["id"]
    most_queued = 0

    def jobs_now() -> dict[str, str]:
        nonlocal most_queued
        jobs = our_jobs(cid)
        most_queued = max(most_queued, list(jobs.values()).count("Q"))
        return jobs

    first = wait_for(
        lambda: (j := jobs_now()) and sorted(j.values()) == ["Q"] + ["R"] * hosts_here and j, 90, "a job on each host, one queued"
    )
    record = wait_for(lambda: [c for c in login.ls() if c["id"] == cid and c.get("jobs_to_submit") == 1], 20, "one job held back")[0]
    assert len(record["workers"]) == hosts_here + 1 and record["worker_jobs"]["max_queued"] == 1
    human = login("ls").stdout
    assert f"workers {hosts_here}/{jobs} in jobs {hosts_here}/{jobs}" in human, human
    assert "1 more job held back: at most 1 of this cluster's jobs wait in the queue at once (max_queued)" in human, human

    # A running job deleted: the queued one takes its host, and the held-back one goes into the queue.
    pbs("qdel", next(jid for jid, state in first.items() if state == "R"))
    wait_for(
        lambda: (j := jobs_now()) and set(j) - set(first) and list(j.values()).count("R") == hosts_here, 90, "the held-back job submitted"
    )
    # Scaling down takes back what is held first, then the queued job; the running ones stay.
    assert login("scale", cid, str(hosts_here)).returncode == 0
    wait_for(lambda: sorted(jobs_now().values()) == ["R"] * hosts_here, 60, "a running job on each host, none queued")
    record = [c for c in login.ls() if c["id"] == cid][0]
    assert record.get("jobs_to_submit") == 0 and len([w for w in record["workers"] if w["status"] in ("starting", "running")]) == hosts_here
    assert most_queued == 1, f"{most_queued} jobs were queued at once"
    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def test_a_queued_worker_job_says_why_it_waits_in_pbs_own_words_in_ls_and_its_record(login):
    """Issue 24: a job waiting in the queue said only `queued`. One asking for more cores than a
    host has stays queued with the scheduler's comment; held with qhold, PBS's comment changes,
    and so do the record and what `ls` says."""
    job = [*GADI_JOB]
    job[job.index("--job-cores") + 1] = "4"  # each host has two
    cluster = login.up("--name", "why", "--jobs", "1", *job)
    cid = cluster["id"]
    (jid,) = {w["job_id"] for w in cluster["workers"]}

    def pbs_says() -> str:
        """PBS's comment on the job as the record keeps it: runs of white space as one space."""
        return " ".join(qstat_jobs().get(jid, {}).get("comment", "").split())

    def record_says(reason: str) -> list[dict]:
        return [w for c in login.ls() if c["id"] == cid for w in c["workers"] if w.get("job_reason") == reason]

    comment = wait_for(pbs_says, 60, "the scheduler's comment on the queued job")
    assert "ncpus" in comment, comment
    (worker,) = wait_for(lambda: record_says(comment), 30, f"the record saying {comment!r}")
    assert worker["job_state"] == "queued" and our_jobs(cid) == {jid: "Q"}
    human = login("ls").stdout
    assert f"    job {jid} queued: {comment}\n" in human, human

    pbs("qhold", jid)
    held = wait_for(lambda: (said := pbs_says()).startswith("Job held by") and said, 30, "PBS's comment on the held job")
    wait_for(lambda: record_says(held), 60, f"the record saying {held!r}")
    assert f"job {jid} queued: {held}" in login("ls").stdout

    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30)


def test_owner_asks_pbs_about_all_its_jobs_in_one_qstat_twice_a_minute_once_their_workers_run_and_at_once_when_a_job_is_deleted(login):
    """Issue 24: the owner ran qstat every 2 s for as long as its jobs ran, which sites ask users not to do."""
    log = record_calls_of(PBS_BIN / "qstat", login)
    cluster = login.up("--name", "p", "--jobs", "2", *GADI_JOB)
    cid = cluster["id"]
    jobs = {w["job_id"] for w in cluster["workers"]}
    wait_for(
        lambda: [c for c in login.ls() if c["id"] == cid and all(w["job_state"] == "running" for w in c["workers"])],
        60,
        "both jobs running on the card",
    )
    time.sleep(5)  # past the questions already due
    start = time.time()
    time.sleep(65)
    asked = [(when, [a for a in args if a[0].isdigit()]) for when, args in recorded_calls(log, start) if "json" in args]
    # OpenPBS 23.06 answers -F json for the first of several ids only, so a poll may be two qstat runs.
    polls = [ids for _, ids in asked if len(ids) > 1]
    assert 1 <= len(polls) <= 3, f"{len(polls)} polls in 65 s (2 s polling makes about 32): {asked}"
    assert all(set(ids) == jobs for ids in polls), f"each poll asks about both jobs at once: {polls}"

    deleted = sorted(jobs)[0]
    deleted_at = time.time()  # before: qdel returns only once the job has been told to end
    pbs("qdel", deleted)
    replaced = wait_for(
        lambda: [c for c in login.ls() if c["id"] == cid and len({w["job_id"] for w in c["workers"]} - jobs) == 1],
        60,
        "a job submitted in place of the deleted one",
    )[0]
    assert not replaced.get("error"), replaced["error"]
    first_question = min(when for when, _ in recorded_calls(log, deleted_at))
    assert first_question - deleted_at < 5, f"PBS asked {first_question - deleted_at:.1f} s after the qdel, not at once"
    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30)


@pytest.fixture
def login_unprivileged():
    """dask-hpc on the PBS login node as the unprivileged PBS_GADI_USER: its sidecar, scheduler
    and qsub run as that user, in a directory of theirs that every host sees."""
    try:
        pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        pytest.fail(f"user {UNPRIVILEGED} is missing: scripts/pbs-up.sh creates it (PBS_GADI_USER)")
    directory = shared_directory(UNPRIVILEGED)
    tool = DaskHpc.as_user(directory, UNPRIVILEGED)
    for name in [n for n in tool.env if n.startswith("PBS_")]:
        del tool.env[name]
    tool.env["PATH"] = f"{PBS_BIN}:/usr/bin:/bin"
    yield from yield_then_end_all(tool, directory)


def test_worker_jobs_submitted_by_an_unprivileged_user_compute_and_leave_no_job(login_unprivileged):
    """The user's own sidecar submits the worker jobs with qsub: PBS runs them as that user on
    the compute hosts, their workers reach the user's scheduler over TLS, and shutdown deletes them."""
    tool = login_unprivileged
    uid = pwd.getpwnam(UNPRIVILEGED).pw_uid
    # On the compute hosts the job's Python finds its packages as a user's would: the prologue says where.
    cluster = tool.up("--name", "u", "--jobs", "2", *GADI_JOB, "--prologue", f"export PYTHONPATH={VENV_PACKAGES}")
    cid = cluster["id"]
    job_ids = {w["job_id"] for w in cluster["workers"]}
    assert len(job_ids) == 2 and set(our_jobs(cid)) == job_ids
    records = qstat_jobs()
    for jid in job_ids:
        assert records[jid]["Job_Owner"].split("@")[0] == UNPRIVILEGED and records[jid]["euser"] == UNPRIVILEGED
    scheduler = [p for p in processes_mentioning(cid) if "distributed.cli.dask_scheduler" in " ".join(p.cmdline())]
    assert scheduler and {p.uids().real for p in scheduler} == {uid}, "the scheduler runs as the user"

    with client_of(cluster) as client:
        client.wait_for_workers(2, timeout=90)
        hosts = hosts_of_workers(client)
        assert set(hosts.values()) <= compute_hosts()
        seen = client.run(lambda: (os.getuid(), os.environ.get("PBS_JOBID")))
        assert {who for who, _ in seen.values()} == {uid}, "the workers run as the user"
        assert {job for _, job in seen.values()} == job_ids
        import dask.array as da

        assert int(da.ones((1000, 1000), chunks=250).sum().compute()) == 1_000_000

    down = tool("down", cid)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert all(qstat_jobs(history=True)[jid]["job_state"] == "F" for jid in job_ids)
    assert not wait_until_gone(processes_mentioning(cid), 30)


def walltime_seconds(text: str) -> int:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return hours * 3600 + minutes * 60 + seconds


@pytest.mark.timeout(600)  # the walltime is 5 minutes
def test_worker_job_workers_retire_before_the_walltime_and_a_new_job_takes_their_place(login):
    """Walltime: a job's workers retire (--lifetime) before PBS would kill the job, the job ends
    by itself, and the cluster, which still wants a worker, gets a new job whose worker computes.
    5 minutes is the shortest walltime dask-hpc accepts: the workers retire 60 s before it."""
    job = [*GADI_JOB]
    job[job.index("--walltime") + 1] = "00:05:00"
    cluster = login.up("--name", "wt", "--jobs", "1", *job)
    cid = cluster["id"]
    (first,) = {w["job_id"] for w in cluster["workers"]}
    assert qstat_jobs()[first]["Resource_List"]["walltime"] == "00:05:00", "the real server took the short walltime"
    state_dir = Path(login.env["DASK_HPC_STATE_DIR"])
    with client_of(cluster) as client:
        client.wait_for_workers(1, timeout=90)
        (old_worker,) = client.scheduler_info()["workers"]
        assert client.submit(sum, range(10), pure=False).result() == 45

        # The lifetime (240 s ± 15 s) runs out: the worker leaves, then its job ends before its walltime.
        wait_for(lambda: qstat_jobs(history=True)[first]["job_state"] == "F", 300, "the first job ending by itself")
        record = qstat_jobs(history=True)[first]
        assert int(record["Exit_status"]) == 0, f"the job was killed, not ended by its retiring workers: {record.get('Exit_status')}"
        ran = walltime_seconds(record["resources_used"]["walltime"])
        assert 200 <= ran < 300, f"the job ran {ran} s: its workers should retire about 60 s before the 300 s walltime"
        job_log = state_dir / f"{cid}.jobs" / f"{cluster['workers'][0]['name']}.log"
        wait_for(
            lambda: job_log.exists() and "worker-lifetime-reached" in job_log.read_text(), 20, "the job's log saying its worker retired"
        )

        # The cluster still wants one worker: a new job, whose worker joins and computes.
        replaced = wait_for(
            lambda: [
                c for c in login.ls() if c["id"] == cid and any(w["job_id"] != first and w["status"] == "running" for w in c["workers"])
            ],
            120,
            "a new job's worker running in place of the retired one",
        )[0]
        assert not replaced.get("error"), replaced["error"]
        (second,) = set(our_jobs(cid))
        assert second != first and our_jobs(cid)[second] == "R"
        wait_for(lambda: set(client.scheduler_info()["workers"]) - {old_worker}, 60, "the new job's worker joining the scheduler")
        (new_worker,) = client.scheduler_info()["workers"]
        where = client.submit(socket.gethostname, workers=[new_worker], allow_other_workers=False, pure=False).result(timeout=30)
        assert where in compute_hosts()
        assert client.submit(sum, range(100), pure=False).result(timeout=30) == 4950
        assert client.run(lambda: os.environ.get("PBS_JOBID")) == {new_worker: second}

    assert login("down", cid).returncode == 0
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")
    assert not wait_until_gone(processes_mentioning(cid), 30)


CLIENT_SCRIPT = """
import json, os, socket, sys
from distributed import Client
with Client(timeout=30) as client:  # no arguments: dask-hpc run sets Dask's own variables
    client.wait_for_workers(int(sys.argv[1]), timeout=60)
    workers = list(client.scheduler_info()["workers"])
    hosts = [client.submit(socket.gethostname, workers=[w], allow_other_workers=False, pure=False).result() for w in workers]
    total = client.submit(sum, range(10)).result()
    record = json.load(open(os.path.join(os.environ["DASK_HPC_STATE_DIR"], os.environ["DASK_HPC_CLUSTER_ID"] + ".json")))
    limits = [record["plan"]["memory_limit_bytes"], *(w["memory_limit"] for w in client.scheduler_info()["workers"].values())]
    uids = sorted(set(client.run(os.getuid).values()))
print("RESULT " + json.dumps({"cluster": os.environ["DASK_HPC_CLUSTER_ID"], "hosts": hosts, "total": total, "limits": limits,
                              "uids": uids,
                              "local_directory": os.environ["DASK_HPC_LOCAL_DIRECTORY"], "jobfs": os.environ.get("PBS_JOBFS"),
                              "host": socket.gethostname()}))
sys.exit(int(sys.argv[2]))
"""


def shared_directory(owner: str) -> Path:
    """A directory every host sees (one filesystem) that `owner` may use."""
    path = Path(tempfile.mkdtemp(prefix="dask-hpc-pbs-"))
    path.chmod(0o755)
    shutil.chown(path, owner, owner)
    return path


def submit_and_wait(script: str, directory: Path, user: str | None, seconds: float) -> tuple[str, str]:
    """qsub's a script as `user`; waits until it has finished; returns its id and its output."""
    path = directory / "job.sh"
    path.write_text(script)
    if user:
        shutil.chown(path, user, user)
    # -f: no background qsub daemon left behind
    command = ["su", user, "-c", f"cd {directory} && {PBS_BIN}/qsub -f {path}"] if user else [str(PBS_BIN / "qsub"), "-f", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=directory, timeout=60)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    wait_for(lambda: qstat_jobs(history=True).get(job_id, {}).get("job_state") == "F", seconds, f"job {job_id} finishing")
    output = directory / "job.out"
    wait_for(output.exists, 20, "the job's output being delivered")
    return job_id, output.read_text()


def result_of(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the client printed no result:\n{output}"
    return json.loads(lines[-1].removeprefix("RESULT "))


def user_venv(directory: Path, user: str) -> Path:
    """A venv of the user's own, as a Gadi user has: made by them from the system's Python, its
    packages this venv's (a .pth file: this venv's Python links into root's pyenv, which others
    cannot enter; the same Python 3.11 ABI). Returns its bin directory."""
    venv = directory / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], user=user, group=user, extra_groups=[], check=True)
    packages = Path(sysconfig.get_paths(vars={"base": str(venv)}, scheme="venv")["purelib"])
    (packages / "dask-hpc-test.pth").write_text(VENV_PACKAGES + "\n")
    return venv / "bin"


def runner_script(directory: Path, flags: str, exit_status: int, workers: int, venv_bin: Path = VENV_BIN) -> str:
    return f"""#!/bin/bash
#PBS -N runner
#PBS -P proj
#PBS -l select=3:ncpus=2:mem=2gb:jobfs=200mb
#PBS -l place=scatter
#PBS -l walltime=00:05:00
#PBS -j oe
#PBS -o {directory}/job.out
# As a user would: the venv first on PATH, its python the plain `python`.
export PATH={venv_bin}:$PATH
export DASK_HPC_STATE_DIR={directory}/state
cd {directory}
node {CLI} run --runner --workload cpu --max-workers 1 {flags} -- python client.py {workers} {exit_status}
echo "EXIT $?"
"""


@pytest.mark.parametrize(
    ("python_flag", "user"),
    [("", None), (f"--python {sys.executable}", None), ("", UNPRIVILEGED)],
    ids=["default-python", "given-python", "unprivileged"],
)
def test_runner_mode_in_a_three_host_job_computes_on_every_host_and_leaves_nothing(python_flag, user):
    """Issue 13, failures 1 and 2: pbsdsh resolved `python3` on the far side to /bin/python3, and
    readiness was read from pbsdsh's stdout, which a real pbsdsh does not relay. Also as the
    unprivileged user, with a venv of their own."""
    owner = user or "root"
    directory = shared_directory(owner)
    try:
        venv_bin = user_venv(directory, user) if user else VENV_BIN
        (directory / "client.py").write_text(CLIENT_SCRIPT)
        started = time.monotonic()
        script = runner_script(directory, f"--timeout 40 {python_flag}", 7, 3, venv_bin)
        _, output = submit_and_wait(script, directory, user, 150)
        result = result_of(output)
        assert result["uids"] == [pwd.getpwnam(owner).pw_uid], "the workers run as the job's owner"
        assert len(set(result["hosts"])) == 3 and set(result["hosts"]) <= compute_hosts(), "a worker on each of the job's three hosts"
        assert result["total"] == 45
        # The plan is each host's share of the job (select=3:mem=2gb), not the job's 6 GB on every host.
        assert all(limit <= 2 * 2**30 for limit in result["limits"]), result["limits"]
        assert "EXIT 7" in output, f"dask-hpc run exits with the command's status:\n{output}"
        assert time.monotonic() - started < 120
        assert not wait_until_gone(processes_mentioning(result["cluster"]), 30), "a process of the cluster outlived the job"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("user", [None, UNPRIVILEGED], ids=["root", "unprivileged"])
def test_dask_hpc_run_in_a_plain_qsub_script(user):
    """The production way: a batch script whose only Dask line is `dask-hpc run -- python analysis.py`."""
    owner = user or "root"
    if user:
        try:
            pwd.getpwnam(user)
        except KeyError:
            pytest.fail(f"user {user} is missing: scripts/pbs-up.sh creates it (PBS_GADI_USER)")
    directory = shared_directory(owner)
    if user:
        # This venv's python links into root's pyenv, which others cannot enter: the user's
        # Python is the system's, with the venv's packages (the same Python 3.11 ABI).
        python_setup = f"export PYTHONPATH={VENV_PACKAGES}"
    else:
        python_setup = f"source {VENV_BIN}/activate"
    try:
        (directory / "client.py").write_text(CLIENT_SCRIPT)
        script = f"""#!/bin/bash
#PBS -P proj
#PBS -q normal
#PBS -l ncpus=2,mem=2gb,jobfs=500mb,walltime=00:05:00,storage=scratch/proj
#PBS -j oe
#PBS -o {directory}/job.out
export DASK_HPC_STATE_DIR={directory}/state
cd {directory}
{python_setup}
node {CLI} run --workload cpu -- python3 client.py 1 0
echo "EXIT $?"
"""
        _, output = submit_and_wait(script, directory, user, 120)
        result = result_of(output)
        assert result["host"] in compute_hosts() and set(result["hosts"]) == {result["host"]}
        assert result["total"] == 45 and "EXIT 0" in output
        assert result["jobfs"] and result["local_directory"].startswith(result["jobfs"] + "/"), "spill on the job's jobfs"
        assert not wait_until_gone(processes_mentioning(result["cluster"]), 30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_detect_in_a_real_job_reads_its_request_and_a_job_script_made_there_takes_its_project_and_storage():
    """Issue 23: inside a job submitted with -P and -l jobfs, walltime, storage, `dask-hpc detect`
    reads them from qstat (the environment has neither project nor storage), and a worker-job
    script made in the job carries its project and storage, saying where they came from."""
    directory = shared_directory("root")
    try:
        script = f"""#!/bin/bash
#PBS -P proj
#PBS -q normal
#PBS -l ncpus=1,mem=1gb,jobfs=300mb,walltime=00:07:00,storage=scratch/proj
#PBS -j oe
#PBS -o {directory}/job.out
export DASK_HPC_STATE_DIR={directory}/state
cd {directory}
echo "DETECT $(node {CLI} detect --json | tr -d '\\n')"
node {CLI} job-script --system pbs --job-cores 1 --job-mem-gb 2
echo "GIVEN WALLTIME"
node {CLI} job-script --system pbs --job-cores 1 --job-mem-gb 2 --walltime 01:00:00
"""
        job_id, output = submit_and_wait(script, directory, None, 90)
        detected = [line for line in output.splitlines() if line.startswith("DETECT ")]
        assert detected, output
        resources = json.loads(detected[0].removeprefix("DETECT "))
        job = resources["job"]
        assert job["id"] == job_id and job["project"] == "proj" and job["storage"] == "scratch/proj", job
        assert job["queue"] == qstat_jobs(history=True)[job_id]["queue"], "the queue the job ran in (normal, or where it routed)"
        assert job["walltime_seconds"] == 7 * 60 and job["jobfs_request_bytes"] == 300 * 2**20, job
        ends = datetime.fromisoformat(job["ends_at"].replace("Z", "+00:00"))
        assert timedelta(0) < ends - datetime.now(timezone.utc) < timedelta(minutes=7), job["ends_at"]
        assert not [w for w in resources["warnings"] if "qstat" in w], resources["warnings"]
        lines = output.splitlines()
        assert "#PBS -P proj" in lines and "#PBS -l storage=scratch/proj" in lines, output
        assert f"# project proj (from this job, {job_id})" in lines and f"# storage scratch/proj (from this job, {job_id})" in lines
        # The worker job's walltime: the whole minutes this 7-minute job has left, unless one is given.
        default, given = output.split("GIVEN WALLTIME", 1)
        walltimes = [line for line in default.splitlines() if line.startswith("#PBS -l walltime=")]
        assert walltimes in (["#PBS -l walltime=00:06:00"], ["#PBS -l walltime=00:05:00"]), default
        left = walltimes[0].removeprefix("#PBS -l walltime=")
        assert f"# walltime {left} (the time this job, {job_id}, has left)" in default.splitlines(), default
        assert [line for line in given.splitlines() if line.startswith("#PBS -l walltime=")] == ["#PBS -l walltime=01:00:00"], given
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class JupyterJob:
    """A Jupyter server running as a PBS script job, as ARE starts it, and how to reach it."""

    def __init__(self, job_id: str, host: str, base: str, token: str, directory: Path):
        self.job_id, self.host, self.base, self.directory = job_id, host, base, directory
        self.auth = {"Authorization": f"token {token}"}

    def snippet(self, code: str) -> subprocess.CompletedProcess:
        """Python run as a kernel beside the server runs it: on the server's host, its state directory."""
        return subprocess.run(
            [
                "bash",
                str(Path(CLI).parents[1] / "scripts" / "pbs-exec.sh"),
                "-n",
                self.host,
                "env",
                f"DASK_HPC_STATE_DIR={self.directory}/state",
                sys.executable,
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )


@contextlib.contextmanager
def jupyter_job(resources: str):
    """`jupyter server` as a PBS script job with these `#PBS -l` lines, once it answers over the
    bridge; afterwards the job is deleted, and neither the server nor its sidecar may outlive it."""
    import requests

    directory = shared_directory("root")
    token = os.urandom(16).hex()
    port = 20000 + os.getpid() % 20000
    script = f"""#!/bin/bash
#PBS -P proj
{resources}
#PBS -j oe
#PBS -o {directory}/job.out
export DASK_HPC_STATE_DIR={directory}/state
source {VENV_BIN}/activate
cd {directory}
exec jupyter server --no-browser --ip=0.0.0.0 --port={port} --IdentityProvider.token={token} --allow-root \\
  --ServerApp.root_dir={directory} --DaskHpcApp.node={shutil.which("node")}
"""
    (directory / "job.sh").write_text(script)
    submitted = pbs("qsub", "-f", str(directory / "job.sh"))
    job_id = submitted.stdout.strip()
    try:
        job = wait_for(lambda: (j := qstat_jobs().get(job_id)) and j["job_state"] == "R" and j, 60, "the Jupyter job running")
        host = job["exec_host"].split("/")[0]
        assert host in compute_hosts()
        server = JupyterJob(job_id, host, f"http://{socket.gethostbyname(host)}:{port}/dask-hpc/api", token, directory)

        def answer():
            try:
                return requests.get(f"{server.base}/resources", headers=server.auth, timeout=5).ok
            except requests.ConnectionError:
                return None

        wait_for(answer, 90, "the Jupyter server on the compute host answering")
        yield server
    finally:
        pbs("qdel", job_id, check=False)
        wait_for(lambda: qstat_jobs(history=True).get(job_id, {}).get("job_state") == "F", 60, "the Jupyter job ending")
        left = wait_until_gone(processes_mentioning(f"{directory}/state"), 30)
        shutil.rmtree(directory, ignore_errors=True)
    assert not left, f"the Jupyter job's server or sidecar outlived it: {left}"


def test_jupyterlab_as_are_runs_it_a_server_job_on_a_compute_host():
    """ARE's way: the Jupyter server is a PBS script job on a compute host; the sidebar's API
    there sees the job's cores, memory and jobfs, a cluster it launches spills to that jobfs, and
    scaling it past the job's cores is refused (REST and the CLI on that host)."""
    import requests

    with jupyter_job("#PBS -l ncpus=2,mem=3gb,jobfs=600mb,walltime=00:05:00,storage=scratch/proj") as server:
        base, auth, job_id = server.base, server.auth, server.job_id
        resources = requests.get(f"{base}/resources", headers=auth, timeout=5).json()
        assert resources["batch_system"] == "pbs" and resources["job_id"] == job_id
        assert resources["cores"] == 2 and resources["memory_bytes"] == 3 * 2**30
        assert resources["jobfs"] == f"/tmp/jobfs/{job_id}"

        created = requests.post(
            f"{base}/clusters",
            params={"wait": "ready"},
            headers=auth,
            timeout=120,
            json={"workload": "cpu", "max_workers": 1, "name": "are"},
        )
        assert created.ok, created.text
        cluster = created.json()
        assert cluster["local_directory"].startswith(resources["jobfs"] + "/"), "spill under the job's PBS_JOBFS"
        ran = server.snippet(
            "from jupyterlab_dask_hpc.kernel_api import connect\n"
            f"client = connect({cluster['id']!r})\n"
            "print('TOTAL', client.submit(sum, range(10)).result())\n"
        )
        assert "TOTAL 45" in ran.stdout, ran.stderr

        # Scaling stays inside the job as launch does: three workers of this plan pass its 2 cores.
        path = f"{base}/clusters/{cluster['id']}"
        refused = requests.patch(path, headers=auth, timeout=60, json={"n_workers": 3})
        assert refused.status_code == 400 and refused.json()["field"] == "overcommit", refused.text
        assert refused.json()["message"].startswith("n_workers=3 needs 3 cores (1 per worker) of the 2 left, and ")
        assert "this job has 2 cores and 3 GiB" in refused.json()["message"]
        cli = server.snippet(
            "import subprocess\n"
            f"r = subprocess.run([{shutil.which('node')!r}, {str(CLI)!r}, 'scale', 'are', '3'], capture_output=True, text=True)\n"
            "print('EXIT', r.returncode, r.stderr)\n"
        )
        assert "EXIT 2 dask-hpc: n_workers=3 needs 3 cores" in cli.stdout, (cli.stdout, cli.stderr)
        assert "(--overcommit: its workers then compete" in cli.stdout
        assert len(requests.get(path, headers=auth, timeout=10).json()["workers"]) == 1
        deleted = requests.delete(f"{base}/clusters/{cluster['id']}", headers=auth, timeout=120)
        assert deleted.ok, deleted.text
        assert not wait_until_gone(processes_mentioning(cluster["id"]), 30)


def dask_processes_on(host: str) -> list[str]:
    """The Dask workers and pbsdsh launchers on one PBS host (its network namespace)."""
    pids = subprocess.run(["ip", "netns", "pids", host], capture_output=True, text=True, check=True).stdout.split()
    found = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "distributed" in cmdline or "dask" in cmdline.split(" ")[0] or "pbsdsh" in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


RUNNER_SNIPPET = """
import json, socket
from jupyterlab_dask_hpc.kernel_api import connect
client = connect({cluster_id!r})
client.wait_for_workers(3, timeout=60)
workers = list(client.scheduler_info()["workers"])
hosts = [client.submit(socket.gethostname, workers=[w], allow_other_workers=False, pure=False).result() for w in workers]
print("RESULT " + json.dumps({{"hosts": hosts, "total": client.submit(sum, range(10)).result()}}))
"""


def test_jupyterlab_in_a_three_host_job_launches_runner_workers_on_every_host():
    """ARE with three nodes: the Jupyter server runs in a select=3 job; the sidebar's launch with
    "Workers run on this job's nodes" (runner: true) puts the plan's workers on all three hosts
    through pbsdsh, the snippet's client computes on each, and shutdown leaves no process on any host."""
    import requests

    directives = "#PBS -l select=3:ncpus=2:mem=2gb:jobfs=200mb\n#PBS -l place=scatter\n#PBS -l walltime=00:05:00"
    with jupyter_job(directives) as server:
        resources = requests.get(f"{server.base}/resources", headers=server.auth, timeout=5).json()
        assert resources["node_count"] == 3 and resources["runner_unavailable"] is None, resources

        started = time.monotonic()
        created = requests.post(
            f"{server.base}/clusters",
            params={"wait": "ready"},
            headers=server.auth,
            timeout=120,
            json={"workload": "cpu", "max_workers": 1, "runner": True, "name": "are3"},
        )
        assert created.ok, created.text
        cluster = created.json()
        job_hosts = set(cluster["runner"]["nodes"])
        assert len(job_hosts) == 3 and job_hosts <= compute_hosts(), cluster["runner"]
        assert sorted(w["host"] for w in cluster["workers"]) == sorted(job_hosts)
        assert all(w["status"] == "running" for w in cluster["workers"]), cluster["workers"]
        assert time.monotonic() - started < 60, "readiness from the scheduler, not a wait for pbsdsh's output"

        ran = server.snippet(RUNNER_SNIPPET.format(cluster_id=cluster["id"]))
        result = result_of(ran.stdout + ran.stderr)
        assert sorted(result["hosts"]) == sorted(job_hosts), "a computation on each of the job's hosts"
        assert result["total"] == 45

        deleted = requests.delete(f"{server.base}/clusters/{cluster['id']}", headers=server.auth, timeout=120)
        assert deleted.ok, deleted.text
        assert not wait_until_gone(processes_mentioning(cluster["id"]), 30)
        for host in compute_hosts():
            assert not wait_for_empty(lambda host=host: dask_processes_on(host), 30), f"a worker or pbsdsh left on {host}"


def wait_for_empty(probe, seconds: float):
    deadline = time.monotonic() + seconds
    while (left := probe()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_worker_job_under_a_group_writable_jobfs_keeps_its_files_private_and_its_http_on_loopback(login, other_user, project_scratch):
    """A job whose PBS_JOBFS and TMPDIR are a project's scratch at 2770 (the other user in its
    group): the job script passes them over for /tmp, saying so in the job's log; the worker's
    directory is out of the other user's reach; its HTTP server listens on its host's loopback."""
    project = project_scratch
    prologue = ["--prologue", f"export PBS_JOBFS={project}", "--prologue", f"export TMPDIR={project}"]
    cluster = login.up("--name", "gw", "--jobs", "1", *GADI_JOB, *prologue)
    cid = cluster["id"]
    with client_of(cluster) as client:
        client.wait_for_workers(1, timeout=90)
        assert_worker_jobs_private_with_http_on_loopback(client, cid, other_user, project)
        # A running job's output is in its MoM's spool (PBS delivers it to -o at the end).
        job_id = cluster["workers"][0]["job_id"]
        passed_over = f"dask-hpc: passed over {project} for temp and spill: {project} (mode 2770"
        spooled = lambda: "".join(p.read_text() for p in Path("/var/spool/pbs-nodes").glob(f"*/spool/{job_id}*"))  # noqa: E731
        wait_for(lambda: passed_over in spooled(), 30, "the job's output saying what it passed over")
    down = login("down", cid)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not our_jobs(cid), 30, "shutdown leaving no job in qstat")


SPILL_CLIENT = """
import json, os, subprocess, sys, time
import dask
import numpy as np
from distributed import Client
def block(i):
    return np.random.default_rng(i).random(512 * 1024)  # 4 MiB, incompressible
with Client(timeout=30) as client:
    client.wait_for_workers(2, timeout=60)
    caps = list(client.run(lambda: dask.config.get("distributed.worker.memory.max-spill")).values())
    futures = client.map(block, range(400), pure=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(w["status"] == "paused" for w in client.scheduler_info()["workers"].values()):
            break
        time.sleep(0.5)
    paused = [w["status"] for w in client.scheduler_info()["workers"].values()]
    spilled = list(client.run(lambda dask_worker: dask_worker.data.spilled_total.disk).values())
    used = int(subprocess.run(["du", "-s", "--block-size=1", os.environ["PBS_JOBFS"]], capture_output=True, text=True).stdout.split()[0])
    done = sum(f.done() for f in futures)
    client.cancel(futures)
record = json.load(open(os.path.join(os.environ["DASK_HPC_STATE_DIR"], os.environ["DASK_HPC_CLUSTER_ID"] + ".json")))
print("RESULT " + json.dumps({"caps": caps, "plan_cap": record["plan"]["max_spill_bytes"], "paused": paused,
                              "spilled": spilled, "jobfs_used": used, "done": done}))
"""


def test_dask_hpc_run_in_a_job_caps_spill_by_its_jobfs_request_and_a_larger_workload_pauses_short_of_it():
    """Issue 23: in a job of -l jobfs=600mb, `dask-hpc run` gives each worker the max-spill its
    plan says (from qstat), and 1.6 GiB of blocks on two small workers pause them with the job's
    jobfs under its request: the job is not killed and ends as the script does."""
    directory = shared_directory("root")
    try:
        (directory / "spill_client.py").write_text(SPILL_CLIENT)
        script = f"""#!/bin/bash
#PBS -P proj
#PBS -l ncpus=2,mem=3gb,jobfs=600mb,walltime=00:05:00
#PBS -j oe
#PBS -o {directory}/job.out
export DASK_HPC_STATE_DIR={directory}/state
cd {directory}
source {VENV_BIN}/activate
node {CLI} run --workload cpu --max-mem-gb 1.2 -- python3 spill_client.py
echo "EXIT $?"
"""
        job_id, output = submit_and_wait(script, directory, None, 240)
        result = result_of(output)
        cap = result["plan_cap"]
        assert cap and result["caps"] == [cap, cap], result
        assert 2 * cap <= 600 * 2**20 - 256 * 2**20
        assert result["paused"] == ["paused", "paused"], result
        assert all(0 < disk <= cap for disk in result["spilled"]), result
        assert result["jobfs_used"] < 600 * 2**20 and result["done"] < 400, result
        assert "EXIT 0" in output, output
        assert qstat_jobs(history=True)[job_id].get("Exit_status") == 0, "the job ended on its own, not killed"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.timeout(480)  # the walltime is 4 minutes
def test_dask_hpc_run_in_a_job_stops_before_its_walltime_with_workers_retired_and_exits_124():
    """Issue 23: in a job of walltime=00:04:00, a `dask-hpc run` whose command would run forever
    retires the workers and stops the command a minute (its margin) before the end, and exits 124;
    the job ends on its own (PBS does not kill it for its walltime) and nothing of it is left."""
    directory = shared_directory("root")
    try:
        (directory / "walltime_client.py").write_text(WALLTIME_CLIENT)
        script = f"""#!/bin/bash
#PBS -P proj
#PBS -l ncpus=1,mem=2gb,jobfs=200mb,walltime=00:04:00
#PBS -j oe
#PBS -o {directory}/job.out
export DASK_HPC_STATE_DIR={directory}/state
cd {directory}
source {VENV_BIN}/activate
node {CLI} run --workload cpu --max-workers 1 -- python3 walltime_client.py
echo "EXIT $?"
"""
        job_id, output = submit_and_wait(script, directory, None, 300)
        job = qstat_jobs(history=True)[job_id]
        assert_run_stopped_before_the_end(output, job_id)
        assert job.get("Exit_status") == 0, f"the job ended on its own, not killed at its walltime: {job.get('Exit_status')}"
        clusters = [p.stem for p in (directory / "state").glob("*.json")] if (directory / "state").exists() else []
        assert not clusters, f"the cluster's record outlived run: {clusters}"
        assert not wait_until_gone(processes_mentioning(str(directory / "state")), 30), "a process of the run outlived the job"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


SCALE_IN_A_JOB = """#!/bin/bash
#PBS -P proj
#PBS -l ncpus=2,mem=3gb,jobfs=200mb,walltime=00:05:00
#PBS -j oe
#PBS -o {directory}/job.out
export DASK_HPC_STATE_DIR={directory}/state
cd {directory}
source {venv_bin}/activate
# The sidebar's way: a sidecar on a socket of its own, asked over REST.
node {cli} serve --socket {directory}/sidecar.sock --python $(which python3) &
SIDECAR=$!
for i in $(seq 50); do [ -S {directory}/sidecar.sock ] && break; sleep 0.2; done
api() {{ curl -s --unix-socket {directory}/sidecar.sock -X "$1" -H 'Content-Type: application/json' -w ' HTTP %{{http_code}}' "http://sidecar/api/$2" ${{3:+-d "$3"}}; echo; }}
CREATED=$(api POST 'clusters?wait=ready' '{{"workload": "cpu", "max_workers": 1}}')
echo "POST $CREATED"
ID=$(printf '%s' "${{CREATED% HTTP *}}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
echo "PATCH $(api PATCH clusters/$ID '{{"n_workers": 3}}')"
echo "ADAPT $(api PATCH clusters/$ID '{{"adaptive": {{"minimum": 1, "maximum": 3}}}}')"
node {cli} scale $ID 3 2>scale.err; echo "SCALE $? $(head -c 400 scale.err)"
echo "LS $(node {cli} ls --json | tr -d '\\n')"
echo "DELETE $(api DELETE clusters/$ID)"
kill $SIDECAR; wait $SIDECAR
echo "EXIT $?"
"""


def test_scale_and_adapt_past_a_real_job_are_refused_over_rest_and_the_cli():
    """Issue 23: inside a job of ncpus=2,mem=3gb (its request read from qstat), a cluster of one
    worker cannot be scaled or made adaptive past the job: REST answers 400 at field overcommit,
    `dask-hpc scale` exits 2 naming cores and memory, and the cluster keeps its one worker."""
    directory = shared_directory("root")
    try:
        script = SCALE_IN_A_JOB.format(directory=directory, venv_bin=VENV_BIN, cli=CLI)
        _, output = submit_and_wait(script, directory, None, 180)
        said = {
            line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in output.splitlines() if line.split(" ", 1)[0].isupper() and " " in line
        }
        assert said["POST"].endswith("HTTP 201") or said["POST"].endswith("HTTP 200"), output
        for refused in (said["PATCH"], said["ADAPT"]):
            assert refused.endswith("HTTP 400"), output
            body = json.loads(refused.removesuffix(" HTTP 400"))
            assert body.get("field") == "overcommit" and "cores" in body["message"] and "memory" in body["message"], body
        assert said["SCALE"].startswith("2 dask-hpc: n_workers=3 needs 3 cores (1 per worker) of the 2 left, and "), said["SCALE"]
        clusters = json.loads(said["LS"])
        assert [len(c["workers"]) for c in clusters] == [1] and clusters[0]["adaptive"] is None, clusters
        assert said["DELETE"].split(" HTTP ")[1] in ("200", "202", "204"), output
        assert not wait_until_gone(processes_mentioning(str(directory / "state")), 30), "a process of the job outlived it"
    finally:
        shutil.rmtree(directory, ignore_errors=True)

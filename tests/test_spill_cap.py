"""Spill inside the job's jobfs request (issue 23), in a pretend PBS job whose stand-in `qstat`
reports `-l jobfs`: real clusters, a real Client asks each worker what Dask made of its
`max-spill`, and a workload larger than the request stops short of it."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from test_job_request import RECORDED_QSTAT, fake_qstat

from conftest import client_of, wait_for

MiB = 2**20


def qstat_reporting_jobfs(tmp_path: Path, jobfs: str) -> dict:
    """A stand-in qstat that answers for the pretend job with `jobfs` as its request."""
    answer = json.loads(json.dumps(RECORDED_QSTAT))
    answer["Jobs"]["4242.gadi-pbs"]["Resource_List"]["jobfs"] = jobfs
    path = tmp_path / "qstat.json"
    path.write_text(json.dumps(answer))
    return fake_qstat(tmp_path / "bin", f"cat {path}")


def worker_max_spill(client) -> dict:
    """Each worker's max-spill as the config says and as its memory manager uses it."""
    import dask

    return client.run(lambda dask_worker: (dask.config.get("distributed.worker.memory.max-spill"), dask_worker.memory_manager.max_spill))


def directory_bytes(path: Path) -> int:
    """Bytes the files under `path` take on disk, as du counts them."""
    return int(subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def test_each_workers_max_spill_is_the_plans_and_all_of_them_stay_below_the_jobfs_request(dask_hpc, tmp_path):
    dask_hpc.env.update(qstat_reporting_jobfs(tmp_path, "2gb"))
    plan = json.loads(dask_hpc("plan", "--workload", "cpu", "--json").stdout)
    cap = plan["max_spill_bytes"]
    assert isinstance(cap, int) and cap > 0, plan
    cluster = dask_hpc.up("--workload", "cpu")
    try:
        assert cluster["plan"]["max_spill_bytes"] == cap
        with client_of(cluster) as client:
            seen = worker_max_spill(client)
        assert len(seen) == plan["n_workers"] == 2
        assert all(value == (cap, cap) for value in seen.values()), seen
        assert sum(limit for _, limit in seen.values()) <= 2 * 1024 * MiB - 256 * MiB
    finally:
        dask_hpc("down", "--all")


def test_with_no_jobfs_request_known_workers_keep_dasks_default_no_cap(dask_hpc, tmp_path):
    dask_hpc.env.update(fake_qstat(tmp_path / "bin", "exit 1"))
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    try:
        assert cluster["plan"]["max_spill_bytes"] is None
        with client_of(cluster) as client:
            assert list(worker_max_spill(client).values()) == [(False, False)]
    finally:
        dask_hpc("down", "--all")


def test_a_spill_workload_larger_than_the_request_pauses_the_workers_short_of_it(dask_hpc, tmp_path):
    """1.6 GiB of incompressible blocks on 2 workers of 614 MiB each and a 600 MiB jobfs request:
    without a cap the workers would spill past the request; with it they pause."""
    import numpy as np

    dask_hpc.env.update(qstat_reporting_jobfs(tmp_path, "600mb"), PBS_VMEM="3gb")
    cluster = dask_hpc.up("--workload", "cpu", "--max-mem-gb", "1.2")
    cap = cluster["plan"]["max_spill_bytes"]
    assert cap and 2 * cap <= 600 * MiB - 256 * MiB
    local_directory = Path(cluster["local_directory"])
    try:
        with client_of(cluster) as client:

            def block(i: int):
                return np.random.default_rng(i).random(512 * 1024)  # 4 MiB

            futures = client.map(block, range(400), pure=False)
            paused = wait_for(
                lambda: all(w["status"] == "paused" for w in client.scheduler_info()["workers"].values()) or None,
                120,
                "both workers to pause",
            )
            assert paused
            spilled = client.run(lambda dask_worker: dask_worker.data.spilled_total.disk)
            assert all(0 < disk <= cap for disk in spilled.values()), (spilled, cap)
            assert directory_bytes(local_directory) < 600 * MiB
            assert not all(f.done() for f in futures), "the workload did not fit: it stopped short"
            client.cancel(futures)
            time.sleep(0.5)
    finally:
        dask_hpc("down", "--all")


def test_detect_measures_the_jobs_own_jobfs_directory_against_its_request(dask_hpc, tmp_path):
    """The sidebar's bar (GET resources, as detect --json): use of $PBS_JOBFS itself, not the disk's."""
    dask_hpc.env.update(qstat_reporting_jobfs(tmp_path, "600mb"))
    (dask_hpc.jobfs / "results").mkdir()
    (dask_hpc.jobfs / "results" / "part.bin").write_bytes(b"\1" * (5 * MiB))
    resources = json.loads(dask_hpc("detect", "--json").stdout)
    assert resources["jobfs_request_node_bytes"] == 600 * MiB
    assert resources["jobfs_used_complete"] is True
    assert 5 * MiB <= resources["jobfs_used_bytes"] <= directory_bytes(dask_hpc.jobfs) + MiB
    text = dask_hpc("detect").stdout
    assert re.search(r"^jobfs used    5(\.\d)? MiB of 600 MiB requested$", text, re.M), text

"""setup_dask_client's cluster and the Python process that started it: real scripts, real processes.

A script outside Jupyter that ends without close(), by an exception, or by SIGKILL leaves
nothing; one that asked for detached=True leaves its cluster running until `dask-hpc down`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from conftest import REPO, alive, process_tree, processes_mentioning, wait_until_gone

# The script starts a cluster, uses it, says which processes run it, then waits for a line
# on stdin before it ends the way the test asks.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, dask_local_dir = setup_dask_client("cpu", max_workers=2, reserve_mem_gb=2, {extra})
    assert client.submit(lambda: 42).result() == 42
    print("STARTED", json.dumps({{"owner_pid": cluster.state["owner_pid"], "id": cluster.id}}), flush=True)
    how = sys.stdin.readline().strip()
    if how == "raise":
        raise RuntimeError("the script failed")
    """
)


def start_script(dask_hpc, extra: str = "") -> tuple[subprocess.Popen, dict, list[psutil.Process]]:
    script = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(extra=extra)],
        env={**dask_hpc.env, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in script.stdout:  # setup_dask_client prints the dashboard's address first
        if line.startswith("STARTED "):
            break
    else:
        raise AssertionError("the script did not start its cluster")
    started = json.loads(line.removeprefix("STARTED "))
    cluster_processes = process_tree(started["owner_pid"])
    assert len(cluster_processes) >= 4  # owner, scheduler, worker process, 2 workers
    return script, started, cluster_processes


@pytest.mark.parametrize("ending", ["exit without close", "raise", "SIGKILL"])
def test_the_cluster_ends_with_the_script_that_started_it(dask_hpc, ending):
    script, _, cluster_processes = start_script(dask_hpc)
    if ending == "SIGKILL":
        script.kill()
    else:
        script.stdin.write("raise\n" if ending == "raise" else "exit\n")
        script.stdin.flush()
    script.wait(60)
    assert script.returncode == (-signal.SIGKILL if ending == "SIGKILL" else 1 if ending == "raise" else 0)
    assert wait_until_gone(cluster_processes, 15) == []
    assert processes_mentioning(str(dask_hpc.jobfs)) == []
    assert dask_hpc.ls() == []


def test_a_detached_cluster_outlives_its_script_until_down(dask_hpc):
    script, started, cluster_processes = start_script(dask_hpc, "detached=True")
    script.stdin.write("exit\n")
    script.stdin.flush()
    assert script.wait(60) == 0
    assert wait_until_gone(cluster_processes, 3) != []
    assert len(alive(cluster_processes)) == len(cluster_processes)
    assert [c["id"] for c in dask_hpc.ls()] == [started["id"]]
    assert dask_hpc("down", started["id"]).returncode == 0
    assert wait_until_gone(cluster_processes, 15) == []


def test_arguments_that_cannot_work_start_nothing(batch_script_environment):
    from jupyterlab_dask_hpc import ConfigurationError, setup_dask_client

    with pytest.raises(ConfigurationError, match="min_workers=3 is above max_workers=2"):
        setup_dask_client("cpu", max_workers=2, min_workers=3, adaptive=True)
    with pytest.raises(ConfigurationError, match="min_workers=3 is above the 2 workers this node has room for"):
        setup_dask_client("cpu", min_workers=3, adaptive=True)
    assert not batch_script_environment.state_dir.exists() or batch_script_environment.ls() == []
    assert processes_mentioning(str(batch_script_environment.jobfs)) == []


def test_a_setup_that_fails_after_the_start_stops_its_cluster(batch_script_environment, monkeypatch):
    import jupyterlab_dask_hpc.kernel_api as kernel_api
    from jupyterlab_dask_hpc import setup_dask_client

    started = []
    real_check = kernel_api.check_versions

    def failing_check(client, cluster):
        real_check(client, cluster)
        started.extend(process_tree(cluster["owner_pid"]))
        raise RuntimeError("a later step failed")

    monkeypatch.setattr(kernel_api, "check_versions", failing_check)
    environ_before = {k: os.environ.get(k) for k in ("TMPDIR", "DASK_TEMPORARY_DIRECTORY")}
    with pytest.raises(RuntimeError, match="a later step failed"):
        setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2)
    assert len(started) >= 3
    assert wait_until_gone(started, 15) == []
    assert batch_script_environment.ls() == []
    assert {k: os.environ.get(k) for k in environ_before} == environ_before


@pytest.mark.parametrize("order", ["shutdown, close, close", "close, shutdown, close"])
def test_closing_twice_in_any_order_is_quiet(batch_script_environment, order):
    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, _ = setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2)
    processes = process_tree(cluster.state["owner_pid"])
    for step in order.split(", "):
        if step == "shutdown":
            client.shutdown()
            # The scheduler is gone, and so, soon, is its owner: close() finds nobody to ask.
            assert wait_until_gone(processes[:1], 15) == []
        else:
            cluster.close()
    client.close()
    assert wait_until_gone(processes, 15) == []
    assert batch_script_environment.ls() == []


# A script that closes its cluster, starts another at once, and exits. The first cluster's
# workers ignore SIGTERM (the engine then kills them after its grace period): close() answers
# once the stop is committed, not after the teardown, whose processes still run when it returns.
CLOSE_AND_GO_ON = textwrap.dedent(
    """
    import json, os, signal
    from jupyterlab_dask_hpc import setup_dask_client

    client, cluster, first_dir = setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2)
    first = {"owner_pid": cluster.state["owner_pid"], "dir": first_dir}
    client.run(lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN) and None, nanny=True)
    client.close(); cluster.close()
    first["owner_running_after_close"] = os.path.exists(f"/proc/{first['owner_pid']}") and open(
        f"/proc/{first['owner_pid']}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    first["dir_after_close"] = sorted(os.listdir(first_dir)) if os.path.exists(first_dir) else None
    client, cluster, second_dir = setup_dask_client("cpu", max_workers=1, reserve_mem_gb=2)
    second = {"answer": client.submit(sum, [1, 2]).result(), "owner_pid": cluster.state["owner_pid"], "dir": second_dir}
    client.close(); cluster.close()
    print("DONE", json.dumps({"first": first, "second": second}), flush=True)
    """
)


def test_close_answers_before_the_teardown_ends_and_the_script_leaves_nothing(dask_hpc):
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_AND_GO_ON],
        env={**dask_hpc.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("DONE ")).removeprefix("DONE "))
    first, second = result["first"], result["second"]
    # The first owner was still ending its workers (5 s grace) when close() returned...
    assert first["owner_running_after_close"]
    # ...and its files had already left the directory close() hands back.
    assert first["dir_after_close"] is None
    assert second["answer"] == 3 and second["dir"] != first["dir"]
    # Once the teardowns are over nothing of either cluster runs, and nothing is recorded.
    owners = [psutil.Process(info["owner_pid"]) for info in (first, second) if psutil.pid_exists(info["owner_pid"])]
    assert wait_until_gone(owners, 20) == []
    assert wait_until_gone(processes_mentioning(str(dask_hpc.jobfs)), 10) == []
    assert dask_hpc.ls() == []
    assert not os.path.exists(first["dir"]) and not os.path.exists(second["dir"])
    assert [entry for entry in os.listdir(dask_hpc.local_root) if not entry.startswith(".certificates")] == []

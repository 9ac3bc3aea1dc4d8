"""A real cluster from `dask-hpc up`: real scheduler and workers, checked through a real Client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from distributed import Client

from conftest import CLI, GiB, alive, client_of, process_tree, wait_until_gone


def worker_facts(client: Client) -> dict:
    """What each worker process itself says about its limits, directories and environment."""

    def facts(dask_worker):
        import dask

        return {
            "memory_limit": dask_worker.memory_manager.memory_limit,
            "nthreads": dask_worker.state.nthreads,
            "local_directory": dask_worker.local_directory,
            "TMPDIR": os.environ.get("TMPDIR"),
            "DASK_TEMPORARY_DIRECTORY": os.environ.get("DASK_TEMPORARY_DIRECTORY"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "spill": dask.config.get("distributed.worker.memory.spill"),
            "pause": dask.config.get("distributed.worker.memory.pause"),
        }

    return client.run(facts)


def test_detect_reads_the_fake_pbs_job(dask_hpc):
    result = dask_hpc("detect", "--json")
    assert result.returncode == 0, result.stderr
    resources = json.loads(result.stdout)
    assert resources["batch_system"] == "pbs"
    assert resources["job_id"] == "4242.gadi-pbs"
    assert resources["cores"] == 2
    assert resources["memory_bytes"] == 6 * GiB
    assert resources["jobfs"] == str(dask_hpc.jobfs)
    assert resources["sources"] == {"cores": "PBS_NCPUS", "memory": "PBS_VMEM", "jobfs": "PBS_JOBFS"}


def test_up_gives_the_planned_workers_then_down_leaves_nothing(dask_hpc):
    plan = json.loads(dask_hpc("plan", "--workload", "cpu", "--reserve-mem-gb", "2", "--json").stdout)
    cluster = dask_hpc.up("--workload", "cpu", "--reserve-mem-gb", "2", "--memory-spill", "0.8")
    assert cluster["status"] == "running"
    assert cluster["plan"]["memory_limit_bytes"] == plan["memory_limit_bytes"] == 2 * GiB
    local_directory = dask_hpc.local_root / cluster["id"]
    assert cluster["local_directory"] == str(local_directory)
    assert local_directory.is_dir()
    tree = process_tree(cluster["owner_pid"])

    with client_of(cluster) as client:
        assert client.submit(sum, range(10)).result() == 45
        facts = worker_facts(client)
    assert len(facts) == 2
    for fact in facts.values():
        assert fact["memory_limit"] == 2 * GiB
        assert fact["nthreads"] == 1
        assert fact["local_directory"].startswith(str(local_directory))
        assert fact["TMPDIR"] == fact["DASK_TEMPORARY_DIRECTORY"] == str(local_directory)
        assert fact["OMP_NUM_THREADS"] == "1"
        assert (fact["spill"], fact["pause"]) == (0.8, 0.92)

    assert [c["id"] for c in dask_hpc.ls()] == [cluster["id"]]
    result = dask_hpc("down", cluster["id"])
    assert result.returncode == 0, result.stderr
    assert wait_until_gone(tree, 10) == []
    assert not local_directory.exists()
    assert dask_hpc.ls() == []


def test_mixed_workers_get_two_threads_and_blas_threads_to_match(dask_hpc):
    cluster = dask_hpc.up("--workload", "mixed", "--name", "mixed-one")
    with client_of(cluster) as client:
        facts = list(worker_facts(client).values())
    assert [(f["nthreads"], f["OMP_NUM_THREADS"]) for f in facts] == [(2, "2")]
    assert dask_hpc("down", "mixed-one").returncode == 0


def test_scale_up_and_down_and_adapt(dask_hpc):
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    with client_of(cluster) as client:
        # One worker has the 2-core 6 GB job's memory: three are past it, refused as launch would be.
        refused = dask_hpc("scale", cluster["id"], "3")
        assert refused.returncode == 2
        assert refused.stderr.startswith("dask-hpc: n_workers=3 needs 3 cores (1 per worker) of the 2 left, and ")
        assert "of memory" in refused.stderr and "Ask for at most 1 worker," in refused.stderr
        assert "(--overcommit: its workers then compete" in refused.stderr
        assert [len(c["workers"]) for c in dask_hpc.ls()] == [1]
        assert len(client.scheduler_info()["workers"]) == 1
        refused = dask_hpc("adapt", cluster["id"], "--minimum", "1", "--maximum", "3")
        assert refused.returncode == 2
        assert refused.stderr.startswith("dask-hpc: adaptive.maximum=3 needs 3 cores"), refused.stderr
        assert [c["adaptive"] for c in dask_hpc.ls()] == [None]

        scaled = dask_hpc("scale", cluster["id"], "3", "--overcommit")
        assert scaled.returncode == 0, scaled.stderr
        assert len(json.loads(scaled.stdout)["workers"]) == 3
        assert len(client.scheduler_info()["workers"]) == 3

        retired = [w["pid"] for w in json.loads(scaled.stdout)["workers"]][1:]
        scaled = dask_hpc("scale", cluster["id"], "1")
        assert scaled.returncode == 0, scaled.stderr
        client.wait_for_workers(1)
        assert len(client.scheduler_info()["workers"]) == 1
        assert not any(alive([psutil.Process(pid)]) for pid in retired if psutil.pid_exists(pid))

        adapted = dask_hpc("adapt", cluster["id"], "--minimum", "2", "--maximum", "3", "--overcommit")
        assert adapted.returncode == 0, adapted.stderr
        assert json.loads(adapted.stdout)["adaptive"] == {"minimum": 2, "maximum": 3}
        client.wait_for_workers(2, timeout=30)

    bad = dask_hpc("adapt", cluster["id"], "--minimum", "3", "--maximum", "2")
    assert bad.returncode == 2
    assert "adaptive.minimum=3 is above adaptive.maximum=2" in bad.stderr
    assert dask_hpc("down", "--all").returncode == 0


def test_the_dashboard_port_serves_nothing_that_changes_the_cluster_and_the_owner_still_manages_it(dask_hpc):
    """Any user of the node can reach the dashboard's loopback port: it must not retire workers.
    The owner asks its scheduler over the lifeline socket instead: metrics while a computation
    runs (its tasks have tuple keys), and scaling down and up again."""

    import dask.array as da
    import requests

    from jupyterlab_dask_hpc.unix_http import call

    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "2")
    dashboard = cluster["dashboard_address"]
    with client_of(cluster) as client:
        addresses = list(client.scheduler_info()["workers"])
        for _ in range(3):
            answer = requests.post(f"{dashboard}/api/v1/retire_workers", json={"workers": addresses}, timeout=10)
            assert answer.status_code in (404, 405), "no route takes it (405: before the dashboard is attached)"
        assert requests.get(f"{dashboard}/api/v1/get_workers", timeout=10).status_code == 404
        assert requests.get(f"{dashboard}/health", timeout=10).text == "ok"  # Dask's read-only routes stay
        assert sorted(client.scheduler_info()["workers"]) == sorted(addresses)

        metrics_path = f"/api/clusters/{cluster['id']}/metrics"
        x = da.random.RandomState(0).random_sample((4000, 4000), chunks=500)
        total = client.compute((x @ x.T).sum())
        seen = []
        while not total.done() or not seen:
            seen.append(call(cluster["control_socket"], "GET", metrics_path))
            time.sleep(0.2)
        assert total.result() > 0
        assert all(m["n_workers"] == 2 and m["memory_limit_bytes"] == 2 * cluster["plan"]["memory_limit_bytes"] for m in seen)
        assert max(m["memory_bytes"] for m in seen) > 0

        scaled = dask_hpc("scale", cluster["id"], "1")
        assert scaled.returncode == 0, scaled.stderr
        assert len(client.scheduler_info()["workers"]) == 1
        scaled = dask_hpc("scale", cluster["id"], "2")
        assert scaled.returncode == 0, scaled.stderr
        client.wait_for_workers(2, timeout=30)
    assert dask_hpc("down", "--all").returncode == 0


def test_run_connects_client_with_no_arguments_and_returns_the_status(dask_hpc):
    script = (
        "import sys\n"
        "from distributed import Client\n"
        "c = Client()\n"
        "assert len(c.scheduler_info()['workers']) == 2, c\n"
        "assert c.submit(lambda: 6 * 7).result() == 42\n"
        "c.close()\n"
        "sys.exit(3)\n"
    )
    result = dask_hpc("run", "--workload", "cpu", "--python", dask_hpc.python, "--", dask_hpc.python, "-c", script)
    assert result.returncode == 3, result.stderr
    assert dask_hpc.ls() == []
    assert list(dask_hpc.local_root.iterdir()) == []


def test_foreground_up_stops_cleanly_on_sigterm(dask_hpc):
    owner = subprocess.Popen(
        ["node", str(CLI), "up", "--workload", "cpu", "--python", dask_hpc.python],
        env=dask_hpc.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    while not lines or lines[-1] != "}\n":
        line = owner.stdout.readline()
        assert line, owner.stderr.read()
        lines.append(line)
    cluster = json.loads("".join(lines))
    tree = process_tree(owner.pid)
    owner.send_signal(signal.SIGTERM)
    assert owner.wait(timeout=30) == 0
    assert wait_until_gone(tree, 10) == []
    assert not os.path.exists(cluster["local_directory"])


@pytest.mark.timeout(90)
def test_sigkill_of_the_owner_leaves_nothing_within_30_seconds(dask_hpc):
    cluster = dask_hpc.up("--workload", "cpu")
    tree = process_tree(cluster["owner_pid"])
    assert len(tree) >= 5  # owner, scheduler, two nannies and their worker processes
    os.kill(cluster["owner_pid"], signal.SIGKILL)
    assert wait_until_gone(tree, 30) == []
    assert dask_hpc.ls() == []
    assert not os.path.exists(cluster["local_directory"])


def test_state_directory_and_sockets_are_private(dask_hpc):
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    assert os.stat(dask_hpc.state_dir).st_mode & 0o777 == 0o700
    record = dask_hpc.state_dir / f"{cluster['id']}.json"
    assert os.stat(record).st_mode & 0o777 == 0o600
    assert os.stat(cluster["control_socket"]).st_mode & 0o777 == 0o600
    # Sockets are in this node's runtime directory (0700), not in the state directory other nodes may share.
    runtime = Path(json.loads(dask_hpc("paths", "--json").stdout)["runtime_dir"])
    assert os.stat(runtime).st_mode & 0o777 == 0o700 and Path(cluster["control_socket"]).parent == runtime
    assert os.stat(runtime / f"{cluster['id']}.lifeline.sock").st_mode & 0o777 == 0o600
    assert not list(dask_hpc.state_dir.glob("*.sock"))
    assert os.stat(cluster["local_directory"]).st_mode & 0o777 == 0o700
    assert dask_hpc("down", "--all").returncode == 0


def test_a_cluster_whose_processes_are_zombies_is_not_listed(dask_hpc):
    """An ended process that its parent has not reaped yet still answers signal 0: it must
    not keep a dead cluster listed (seen after a SIGKILL of the owner, before init reaped it)."""
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    record = json.loads((dask_hpc.state_dir / f"{cluster['id']}.json").read_text())
    assert dask_hpc("down", cluster["id"]).returncode == 0
    zombie = subprocess.Popen(["true"])  # not waited for: a zombie of this test until the end
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(zombie.pid).status() != "zombie":
            assert time.monotonic() < deadline, "the child did not end"
        # With the zombie's own start time: its pid is the recorded process, and that has ended.
        started = int(Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        record.update(owner_pid=zombie.pid, owner_start_time=started, scheduler_pid=zombie.pid, scheduler_start_time=started)
        (dask_hpc.state_dir / f"{cluster['id']}.json").write_text(json.dumps(record))
        assert dask_hpc.ls() == []
        assert not (dask_hpc.state_dir / f"{cluster['id']}.json").exists()
    finally:
        zombie.wait()


def test_a_sites_node_ca_bundle_skips_the_owners_start_but_reaches_the_workers(dask_hpc, tmp_path):
    """Node reads NODE_EXTRA_CA_CERTS as it starts (36 ms of a 60 ms start on the test machine):
    the detached owner starts without it, and the Dask processes still get the user's value."""
    bundle = tmp_path / "site-ca.pem"
    bundle.write_text("")  # Node only warns about an empty bundle; the path is what is checked
    dask_hpc.env["NODE_EXTRA_CA_CERTS"] = str(bundle)
    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    owner_start_environ = psutil.Process(cluster["owner_pid"]).environ()  # as at its exec
    assert "NODE_EXTRA_CA_CERTS" not in owner_start_environ
    scheduler_environ = psutil.Process(cluster["scheduler_pid"]).environ()
    assert scheduler_environ["NODE_EXTRA_CA_CERTS"] == str(bundle)
    assert not any(name.startswith("DASK_HPC_DEFERRED") for name in scheduler_environ)
    with client_of(cluster) as client:
        seen = client.run(
            lambda: (os.environ.get("NODE_EXTRA_CA_CERTS"), sorted(k for k in os.environ if k.startswith("DASK_HPC_DEFERRED")))
        )
    assert list(seen.values()) == [(str(bundle), [])]
    assert dask_hpc("down", "--all").returncode == 0


def test_the_command_run_directly_keeps_arguments_and_the_users_node_ca_bundle(dask_hpc, tmp_path):
    """Run as a command (the npm bin), dask-hpc's first lines are sh: they start node without
    NODE_EXTRA_CA_CERTS (Node parses it before any code runs). Arguments pass through untouched,
    and the commands it runs get the user's variable back, and nothing of ours."""
    bundle = str(tmp_path / "site-ca.pem")  # not there: a Node that reads it says so on stderr
    tricky = ["a b", "$HOME", "'q'", '"; touch pwned #', "*"]
    probe = (
        "import json, os, sys\n"
        "print(json.dumps([sys.argv[1:], os.environ.get('NODE_EXTRA_CA_CERTS'),"
        " [k for k in os.environ if k.startswith('DASK_HPC_DEFERRED')]]))\n"
    )
    result = subprocess.run(
        [
            str(CLI),
            "run",
            "--workload",
            "cpu",
            "--max-workers",
            "1",
            "--python",
            dask_hpc.python,
            "--",
            dask_hpc.python,
            "-c",
            probe,
            *tricky,
        ],
        env={**dask_hpc.env, "NODE_EXTRA_CA_CERTS": bundle},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [tricky, bundle, []]
    assert "extra certs" not in result.stderr
    assert not (tmp_path / "pwned").exists()
    assert dask_hpc.ls() == []

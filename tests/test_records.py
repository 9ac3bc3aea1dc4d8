"""State records as a shared home directory, several versions of the product and a reusing
kernel leave them: files of another shape, pids held by other processes, records of a
same-named machine, and a runtime directory another user made first."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from conftest import CLI, REPO, client_of, free_port, full_record, start_time, wait_for, wait_until_gone, write_record
from jupyterlab_dask_hpc.unix_http import call
from test_hosts import SimulatedNode

# Valid JSON, none of it a record: what other versions, full disks and editors leave.
BAD_RECORDS = {
    "aaaa0001": '{"created_at": 5}',
    "aaaa0002": '"x"',
    "aaaa0003": "[]",
    "aaaa0004": '{"id": "aaaa0004", "name": "half", "status": "running"}',
}


def serve(dask_hpc, socket_path: str) -> subprocess.Popen:
    process = subprocess.Popen(
        ["node", str(CLI), "serve", "--socket", socket_path, "--python", dask_hpc.python, "--exit-with-stdin"],
        env=dask_hpc.env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process


def answers(socket_path: str) -> bool:
    try:
        call(socket_path, "GET", "/api/clusters", timeout=5)
        return True
    except OSError:
        return False


@pytest.mark.timeout(180)
def test_records_of_another_shape_are_skipped_by_name_and_a_restarted_sidecar_adopts_the_live_cluster(dask_hpc):
    dask_hpc.state_dir.mkdir(mode=0o700)
    socket_path = str(dask_hpc.state_dir / "sidecar.sock")
    first = serve(dask_hpc, socket_path)
    second = None
    try:
        wait_for(lambda: answers(socket_path), 30, "the sidecar answering")
        cluster = call(socket_path, "POST", "/api/clusters?wait=ready", {"workload": "cpu", "max_workers": 1})
        bad = {cluster_id: dask_hpc.state_dir / f"{cluster_id}.json" for cluster_id in BAD_RECORDS}
        for cluster_id, text in BAD_RECORDS.items():
            bad[cluster_id].write_text(text)
        # A record whole but for one wrong type.
        wrong_type = json.loads((dask_hpc.state_dir / f"{cluster['id']}.json").read_text())
        wrong_type.update(id="aaaa0005", owner_pid="12")
        bad["aaaa0005"] = write_record(dask_hpc.state_dir, wrong_type)

        # The kernel side reads the same directory: connect() finds the cluster all the same.
        kernel = subprocess.run(
            [
                sys.executable,
                "-c",
                "from jupyterlab_dask_hpc.kernel_api import running_clusters; print([c['id'] for c in running_clusters()])",
            ],
            env=dask_hpc.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert kernel.stdout.strip() == repr([cluster["id"]]), kernel.stderr

        listed = dask_hpc("ls", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [c["id"] for c in json.loads(listed.stdout)] == [cluster["id"]]
        warnings = [line for line in listed.stderr.splitlines() if line.startswith("dask-hpc: warning: skipped ")]
        assert len(warnings) == len(bad), listed.stderr
        for path in bad.values():
            assert sum(str(path) in line for line in warnings) == 1, listed.stderr
        assert any('"owner_pid" is "12", not a process id' in line for line in warnings)

        # The sidecar dies; its successor on the same socket reads the same directory.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        second = serve(dask_hpc, socket_path)
        wait_for(lambda: answers(socket_path) and call(socket_path, "GET", "/api/clusters"), 30, "the new sidecar adopting the cluster")
        clusters = call(socket_path, "GET", "/api/clusters")
        assert [c["id"] for c in clusters] == [cluster["id"]]
        assert clusters[0]["status"] == "running" and clusters[0]["owner_pid"] == second.pid
        assert clusters[0]["owner_start_time"] == start_time(second.pid)
        with client_of(cluster) as client:
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
        assert all(path.exists() for path in bad.values()), "a bad file is left as it is"
        tree = [psutil.Process(cluster["scheduler_pid"])]
        call(socket_path, "DELETE", f"/api/clusters/{cluster['id']}")
        assert wait_until_gone(tree, 30) == []
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.stdin.close()
                process.wait(timeout=30)
    assert "skipped" in second.stderr.read()


def test_a_reused_pid_is_not_the_recorded_process_and_is_never_signalled(dask_hpc, tmp_path, other_user):
    mine = subprocess.Popen(["sleep", "600"])
    theirs = other_user.popen(["sleep", "600"])
    try:
        wait_for(lambda: psutil.Process(theirs.pid).uids().real == other_user.uid, 10, "the other user's sleep")
        # The scheduler's and a worker's pid now held by another process of the user (it started later).
        reused = full_record(
            "bbbb0001",
            tmp_path,
            owner_pid=mine.pid,
            owner_start_time=start_time(mine.pid) - 1,
            scheduler_pid=mine.pid,
            scheduler_start_time=start_time(mine.pid) - 1,
            workers=[{"name": "w-0", "status": "running", "pid": mine.pid, "start_time": start_time(mine.pid) - 1, "restarts": 0}],
        )
        # The owner's and scheduler's pid held by another user's process, with its own start time.
        other = full_record(
            "bbbb0002",
            tmp_path,
            owner_pid=theirs.pid,
            owner_start_time=start_time(theirs.pid),
            scheduler_pid=theirs.pid,
            scheduler_start_time=start_time(theirs.pid),
        )
        for record in (reused, other):
            write_record(dask_hpc.state_dir, record)
        kernel = subprocess.run(
            [sys.executable, "-c", "from jupyterlab_dask_hpc.kernel_api import running_clusters; print(running_clusters())"],
            env=dask_hpc.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert kernel.stdout.strip() == "[]", kernel.stderr
        assert dask_hpc.ls() == []
        # Both records were dead, so swept; the processes at their pids got no signal.
        assert not (dask_hpc.state_dir / "bbbb0001.json").exists()
        assert not (dask_hpc.state_dir / "bbbb0002.json").exists()
        for record in (reused, other):
            write_record(dask_hpc.state_dir, record)
        stopped = dask_hpc("down", "--all")
        assert stopped.returncode == 0, stopped.stderr
        time.sleep(1)  # a SIGTERM, had one been sent, would have ended a sleep by now
        assert mine.poll() is None and theirs.poll() is None

        # A sidecar on the socket the records name, as after a crash while they were starting:
        # it lists them failed and ends what is left of them, which is nothing of theirs.
        socket_path = str(dask_hpc.state_dir / "sidecar.sock")
        for record in (reused, other):
            write_record(dask_hpc.state_dir, {**record, "status": "starting", "control_socket": socket_path})
        sidecar = serve(dask_hpc, socket_path)
        try:
            wait_for(lambda: answers(socket_path) and len(call(socket_path, "GET", "/api/clusters")) == 2, 30, "the sidecar's adoption")
            listed = {c["id"]: c for c in call(socket_path, "GET", "/api/clusters")}
            assert sorted(listed) == ["bbbb0001", "bbbb0002"]
            assert all(c["status"] == "failed" for c in listed.values())
            time.sleep(1)
            assert mine.poll() is None and theirs.poll() is None
            for cluster_id in listed:
                call(socket_path, "DELETE", f"/api/clusters/{cluster_id}")
        finally:
            sidecar.stdin.close()
            sidecar.wait(timeout=30)
        assert mine.poll() is None and theirs.poll() is None
    finally:
        for process in (mine, theirs):
            process.kill()
            process.wait()


def test_a_record_of_a_same_named_machine_is_left_alone_with_its_tls_directory(dask_hpc, tmp_path):
    """Another machine given this hostname (a container, a misconfigured site) with the same
    state directory: its records are of another machine id, or of none (an older dask-hpc),
    and of another boot. Their pids mean nothing here, so they are not judged or swept."""
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        elsewhere = {
            "cccc0001": {"machine_id": "0" * 32},  # another machine, even written before this boot
            "cccc0002": {"machine_id": "0" * 32, "created_at": "2999-01-01T00:00:00.000Z"},
        }
        older = full_record("cccc0003", tmp_path, boot_id="0" * 8 + "-0000-0000-0000-" + "0" * 12, owner_pid=bystander.pid)
        del older["machine_id"]  # no machine id recorded: it cannot be told from a same-named machine's
        records = [
            full_record(
                cluster_id,
                tmp_path,
                boot_id="0" * 8 + "-0000-0000-0000-" + "0" * 12,
                owner_pid=bystander.pid,
                owner_start_time=start_time(bystander.pid),
                scheduler_pid=bystander.pid,
                scheduler_start_time=start_time(bystander.pid),
                **fields,
            )
            for cluster_id, fields in elsewhere.items()
        ] + [older]
        for record in records:
            write_record(dask_hpc.state_dir, record)
            (dask_hpc.state_dir / f"{record['id']}.tls").mkdir(mode=0o700)
            (dask_hpc.state_dir / f"{record['id']}.tls" / "ca.pem").write_text("theirs")
        assert dask_hpc.ls() == []
        assert dask_hpc("down", "--all").returncode == 0
        everything = dask_hpc("ls", "--all-hosts")
        assert everything.returncode == 0
        for record in records:
            assert (dask_hpc.state_dir / f"{record['id']}.json").exists(), record["id"]
            assert (dask_hpc.state_dir / f"{record['id']}.tls" / "ca.pem").read_text() == "theirs"
            assert f"{record['id']}  c-{record['id']}  running  on host {socket.gethostname()}" in everything.stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


@pytest.fixture
def node(dask_hpc, tmp_path):
    """A node of its own /tmp (mount namespace), over this test's directory: its
    /tmp/dask-hpc-<uid>-runtime is this test's alone to squat."""
    if os.geteuid() != 0:
        pytest.skip("a /tmp of its own needs root (mount namespaces)")
    simulated = SimulatedNode("squatted", tmp_path, dask_hpc.env)
    try:
        yield simulated
    finally:
        simulated.close()


@pytest.mark.timeout(180)
def test_a_runtime_directory_another_user_made_first_is_never_used_and_blocks_nothing(dask_hpc, node, other_user):
    squatted = f"/tmp/dask-hpc-{os.getuid()}-runtime"
    made = node.run("setpriv", f"--reuid={other_user.uid}", f"--regid={other_user.gid}", "--clear-groups", "mkdir", "-m", "0777", squatted)
    assert made.returncode == 0, made.stderr
    assert node.path(squatted).stat().st_uid == other_user.uid

    paths = node.dask_hpc("paths", "--json")
    assert paths.returncode == 0, paths.stderr
    runtime = json.loads(paths.stdout)["runtime_dir"]
    assert runtime != squatted and runtime.startswith(f"/tmp/dask-hpc-{os.getuid()}-")
    assert f"cannot use the runtime directory {squatted}: it belongs to uid {other_user.uid}" in paths.stderr
    again = node.dask_hpc("paths", "--json")
    assert json.loads(again.stdout)["runtime_dir"] == runtime and again.stderr == ""
    assert (dask_hpc.state_dir / "runtime-dir.squatted").read_text().strip() == runtime
    info = node.path(runtime).stat()
    assert info.st_uid == os.getuid() and info.st_mode & 0o777 == 0o700

    # The extension loads on that node: its sidecar's socket in the private directory.
    port, token = free_port(), "records-token"
    server = subprocess.Popen(
        [
            "nsenter",
            "--target",
            str(node.init.pid),
            "--pid",
            "--mount",
            "--uts",
            f"--wd={REPO}",
            "--",
            str(Path(sys.executable).parent / "jupyter"),
            "server",
            "--no-browser",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--ServerApp.root_dir={dask_hpc.jobfs.parent}",
            f"--DaskHpcApp.python={dask_hpc.python}",
        ],
        env=node.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/dask-hpc/api/resources"
        headers = {"Authorization": f"token {token}"}

        def ok():
            try:
                return requests.get(url, headers=headers, timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ok, 90, "the extension answering /dask-hpc/api/resources")
        assert any(name.startswith("sidecar-") for name in os.listdir(node.path(runtime)))
        assert os.listdir(node.path(squatted)) == [], "nothing of ours in the squatted directory"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

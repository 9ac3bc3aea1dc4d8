"""A project's scratch as TMPDIR: a directory at mode 2770, which every member of the project's
group may write without the sticky bit. Another member (a real second Unix user in that group)
could rename the cluster's root aside and put a directory of their own in its place, then read
spilled values and plant pickles; so the cluster's files never go under such a directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import CLI, batch_free_environ, client_of, processes_mentioning, wait_for, wait_until_gone

WHY = "is writable by its group without the sticky bit (mode 2770)"


@pytest.fixture
def project(project_scratch):
    """The shared 2770 scratch (conftest), by its short name here."""
    return project_scratch


def test_a_group_writable_tmpdir_is_passed_over_and_the_group_cannot_reach_the_cluster(dask_hpc, project, other_user):
    del dask_hpc.env["PBS_JOBFS"]
    dask_hpc.env["TMPDIR"] = str(project)
    planned = dask_hpc("plan", "--workload", "cpu", "--json")
    assert planned.returncode == 0, planned.stderr
    warning = f'TMPDIR="{project}" is not private: {project} {WHY}, so they can rename or replace what is in it; passed over it'
    assert any(w.startswith(warning) for w in json.loads(planned.stdout)["warnings"]), planned.stdout

    cluster = dask_hpc.up("--workload", "cpu", "--max-workers", "1")
    local = Path(cluster["local_directory"])
    root = local.parent
    assert root == Path(f"/tmp/dask-hpc-{os.getuid()}"), "the next private place: /tmp, last"
    assert any(w.startswith(warning) for w in cluster["plan"]["warnings"])
    assert list(project.iterdir()) == [], "nothing of the cluster under the project's directory"
    with client_of(cluster) as client:
        assert set(client.run(lambda: os.environ["TMPDIR"]).values()) == {str(local)}
        before = root.stat().st_ino
        # The group member tries what worked under the project's directory: move the root aside, look in.
        moved = other_user.run(["mv", str(root), f"{root}.theirs"])
        assert moved.returncode != 0 and root.stat().st_ino == before, moved
        listed = other_user.run(["ls", str(local)])
        assert listed.returncode != 0 and "Permission denied" in listed.stderr, listed
        assert client.submit(sum, [1, 2, 3]).result() == 6
    assert dask_hpc("down", "--all").returncode == 0


@pytest.fixture
def private_elsewhere():
    """State and sockets outside /tmp, which the next test replaces with the project's directory."""
    base = Path(tempfile.mkdtemp(prefix="dask-hpc-elsewhere-", dir="/var/tmp"))
    yield base
    # Its sidecar (the socket in its command line) and any cluster's processes (their state directory).
    left = wait_until_gone(processes_mentioning(str(base)) + processes_mentioning(str(base / "state")), 10)
    for process in left:
        process.kill()
    shutil.rmtree(base, ignore_errors=True)
    assert not left, f"orphans left by the test: {left}"


def in_a_node_whose_tmp_is(directory: Path, *argv: str) -> list[str]:
    """`argv` in a mount namespace of its own where /tmp is `directory` (the node's /tmp stays)."""
    return ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /tmp && exec "$@"', str(directory), *argv]


@pytest.mark.skipif(shutil.which("unshare") is None, reason="replacing /tmp for one process needs unshare(1)")
def test_with_no_private_place_up_exits_2_and_the_api_answers_400_naming_the_directory(project, private_elsewhere):
    env = {
        **batch_free_environ(),
        "PBS_JOBID": "4242.gadi-pbs",
        "PBS_NCPUS": "2",
        "PBS_VMEM": "6gb",
        "PBS_JOBFS": "/tmp/jobfs",  # under /tmp too: as unsafe as the rest
        "DASK_HPC_STATE_DIR": str(private_elsewhere / "state"),
        "DASK_HPC_RUNTIME_DIR": str(private_elsewhere / "run"),
    }
    env.pop("TMPDIR", None)
    (project / "jobfs").mkdir(mode=0o700)
    message = f"cannot use /tmp/dask-hpc-{os.getuid()} for cluster files: /tmp {WHY}"

    up = ["node", str(CLI), "up", "--detach", "--python", sys.executable, "--workload", "cpu", "--max-workers", "1"]
    result = subprocess.run(in_a_node_whose_tmp_is(project, *up), env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dask-hpc: {message}"), result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["jobfs"], "nothing made"
    assert list((project / "jobfs").iterdir()) == []

    socket_path = private_elsewhere / "sidecar.sock"
    serve = ["node", str(CLI), "serve", "--socket", str(socket_path), "--python", sys.executable, "--exit-with-stdin"]
    sidecar = subprocess.Popen(in_a_node_whose_tmp_is(project, *serve), env=env, stdin=subprocess.PIPE)
    try:
        wait_for(lambda: socket_path.exists(), 30, "the sidecar's socket")
        from jupyterlab_dask_hpc.unix_http import _UnixConnection

        connection = _UnixConnection(str(socket_path), 120)
        connection.request(
            "POST", "/api/clusters", body=json.dumps({"workload": "cpu", "max_workers": 1}), headers={"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        body = json.loads(answer.read())
        connection.close()
        assert answer.status == 400, body
        assert body["message"].startswith(message), body
        assert sorted(p.name for p in project.iterdir()) == ["jobfs"], "nothing made"
    finally:
        sidecar.stdin.close()
        sidecar.wait(timeout=30)

"""A home directory shared by many nodes: each node judges, stops and sweeps only its own records.

Two nodes are simulated with PID, mount and UTS namespaces: each has its own hostname, its own
process numbers and its own /tmp, and both see the test's directory (the state directory, as a
shared $HOME holds it) at the same path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from conftest import CLI, REPO, full_record, wait_for, write_record

# The first process of a simulated node: names the node, gives it a /tmp of its own with the
# shared directory still in place (bound from a descriptor opened before /tmp was covered), then
# reaps the orphans that land on it until the test closes its stdin.
NODE_INIT = textwrap.dedent(
    r"""
    import ctypes, os, subprocess, sys, threading, time
    hostname, shared = sys.argv[1], sys.argv[2]
    libc = ctypes.CDLL(None, use_errno=True)
    def mount(source, target, fstype, flags):
        if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, None) != 0:
            raise OSError(ctypes.get_errno(), f"mount {source} {target}")
    subprocess.run(["hostname", hostname], check=True)
    kept = os.open(shared, os.O_RDONLY | os.O_DIRECTORY)
    mount("tmpfs", "/tmp", "tmpfs", 0)
    os.chmod("/tmp", 0o1777)
    os.makedirs(shared, exist_ok=True)
    mount(f"/proc/self/fd/{kept}", shared, None, 4096)  # MS_BIND
    os.close(kept)
    print("ready", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(0.1)
    """
)


class SimulatedNode:
    """A node of its own over the shared directory; `run` runs a command on it."""

    def __init__(self, hostname: str, shared: Path, env: dict[str, str]):
        self.hostname = hostname
        self.env = {k: v for k, v in env.items() if k not in ("XDG_RUNTIME_DIR", "DASK_HPC_RUNTIME_DIR")}
        self.unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--uts", "--mount-proc", sys.executable, "-c", NODE_INIT, hostname, str(shared)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.unshare.stdout.readline()
        assert line.strip() == "ready", f"node {hostname} did not start: {line!r}"
        self.init = psutil.Process(self.unshare.pid).children()[0]
        self.pid_namespace = os.readlink(f"/proc/{self.init.pid}/ns/pid")

    def run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            # In this checkout, so that `python -c` imports its package, as the tests do.
            ["nsenter", "--target", str(self.init.pid), "--pid", "--mount", "--uts", f"--wd={REPO}", "--", *command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def dask_hpc(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.run(shutil.which("node"), str(CLI), *args, timeout=timeout)

    def path(self, inside: str) -> Path:
        """A path as this node sees it (its own /tmp)."""
        return Path(f"/proc/{self.init.pid}/root{inside}")

    def processes(self) -> list[psutil.Process]:
        """Every living process of this node but its first."""
        found = []
        for process in psutil.process_iter():
            try:
                if (
                    process.pid != self.init.pid
                    and os.readlink(f"/proc/{process.pid}/ns/pid") == self.pid_namespace
                    and process.status() != psutil.STATUS_ZOMBIE
                ):
                    found.append(process)
            except (OSError, psutil.Error):
                pass
        return found

    def outer_process(self, inner_pid: int) -> psutil.Process:
        """This node's process numbered `inner_pid` in its own namespace."""
        for process in self.processes():
            with open(f"/proc/{process.pid}/status") as status:
                numbers = next(line for line in status if line.startswith("NSpid:")).split()[1:]
            if int(numbers[-1]) == inner_pid:
                return process
        raise LookupError(f"no process {inner_pid} on {self.hostname}")

    def spawn_with_pids(self, inner_pids: list[int]) -> list[psutil.Process]:
        """`sleep`s of this node with exactly these process numbers (as another node's processes have)."""
        # The shell that spawns them must not take one of the numbers itself: it starts far above.
        self.run("sh", "-c", f"echo {max(inner_pids) + 1000} > /proc/sys/kernel/ns_last_pid")
        spawn = "; ".join(
            f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid; sleep 600 </dev/null >/dev/null 2>&1 & echo $!" for pid in inner_pids
        )
        result = self.run("sh", "-c", spawn)
        assert result.stdout.split() == [str(pid) for pid in inner_pids], (result.stdout, result.stderr)
        return [self.outer_process(pid) for pid in inner_pids]

    def close(self) -> None:
        self.unshare.stdin.close()  # its first process leaves; the kernel ends the node's others
        self.unshare.wait(timeout=30)


@pytest.fixture
def two_nodes(dask_hpc, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("simulating nodes needs root (PID, mount and UTS namespaces)")
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        pytest.skip("simulating nodes needs unshare and nsenter (util-linux)")
    nodes = []
    try:
        for name in ("host-a", "host-b"):
            nodes.append(SimulatedNode(name, tmp_path, dask_hpc.env))
        yield nodes
    finally:
        for node in nodes:
            node.close()


CONNECT_AND_COMPUTE = (
    "from jupyterlab_dask_hpc import connect\nwith connect({!r}) as client:\n    print(client.submit(sum, [1, 2, 3]).result())\n"
)


@pytest.mark.timeout(240)
def test_another_node_sharing_the_home_directory_leaves_a_nodes_cluster_alone(dask_hpc, two_nodes):
    a, b = two_nodes
    up = a.dask_hpc("up", "--detach", "--python", dask_hpc.python, "--workload", "cpu", "--max-workers", "2")
    assert up.returncode == 0, up.stderr
    cluster = json.loads(up.stdout)
    record = dask_hpc.state_dir / f"{cluster['id']}.json"
    tls = dask_hpc.state_dir / f"{cluster['id']}.tls"
    runtime = a.path("/tmp/dask-hpc-0-runtime")
    lifeline = next(p for p in (runtime, dask_hpc.state_dir) if (p / f"{cluster['id']}.lifeline.sock").is_socket())
    lifeline /= f"{cluster['id']}.lifeline.sock"
    processes_of_a = a.processes()

    def a_is_untouched():
        assert record.exists() and tls.is_dir() and lifeline.is_socket()
        assert a.path(cluster["control_socket"]).is_socket()
        assert all(process.is_running() for process in processes_of_a)

    # B's ls neither judges nor sweeps A's record, and shows it only when asked for every host.
    listed = b.dask_hpc("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    a_is_untouched()
    # The record says where it runs; the sockets are that node's own, never in the shared directory.
    assert (cluster["host"], cluster["boot_id"]) == ("host-a", open("/proc/sys/kernel/random/boot_id").read().strip())
    assert lifeline.parent == runtime and os.stat(runtime).st_mode & 0o777 == 0o700
    assert Path(cluster["control_socket"]).parent == Path("/tmp/dask-hpc-0-runtime")
    assert not list(dask_hpc.state_dir.glob("*.sock"))
    every_host = b.dask_hpc("ls", "--all-hosts", "--json")
    assert [(c["id"], c["host"]) for c in json.loads(every_host.stdout)] == [(cluster["id"], "host-a")]
    human = b.dask_hpc("ls", "--all-hosts")
    assert cluster["id"] in human.stdout and "on host host-a" in human.stdout
    on_a = a.dask_hpc("ls", "--json")
    assert [(c["id"], c["host"]) for c in json.loads(on_a.stdout)] == [(cluster["id"], "host-a")]

    # A sidecar starting on B (a Jupyter server there) neither adopts nor sweeps A's cluster.
    sidecar = subprocess.Popen(
        [
            "nsenter",
            "--target",
            str(b.init.pid),
            "--pid",
            "--mount",
            "--uts",
            "--",
            shutil.which("node"),
            str(CLI),
            "serve",
            "--socket",
            "/tmp/dask-hpc-0-runtime/sidecar-8888.sock",
            "--python",
            dask_hpc.python,
            "--exit-with-stdin",
        ],
        env=b.env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "dask-hpc: serving on /tmp/dask-hpc-0-runtime/sidecar-8888.sock; adopted 0 running cluster(s)" in sidecar.stderr.readline()
    sidecar.stdin.close()  # it stops its clusters (none) and leaves
    assert sidecar.wait(timeout=30) == 0
    a_is_untouched()

    # B's processes that happen to have the numbers of A's scheduler and workers are not A's.
    numbers = {cluster["scheduler_pid"], *(w["pid"] for w in cluster["workers"])}
    namesakes = b.spawn_with_pids(sorted(numbers))
    stopped = b.dask_hpc("down", "--all")
    assert stopped.returncode == 0, stopped.stderr
    assert cluster["id"] not in stopped.stdout
    time.sleep(1)  # a SIGTERM, had one been sent, would have ended a sleep by now
    assert all(process.is_running() for process in namesakes)
    a_is_untouched()

    # Naming A's cluster on B is an error that says where to go.
    for command in (("down", cluster["id"]), ("scale", cluster["id"], "1")):
        refused = b.dask_hpc(*command)
        assert refused.returncode == 1
        assert f"cluster {cluster['id']} runs on host host-a: run dask-hpc {command[0]} there" in refused.stderr
    refused = b.run(dask_hpc.python, "-c", CONNECT_AND_COMPUTE.format(cluster["id"]))
    assert refused.returncode == 1 and "LookupError" in refused.stderr and "host-a" in refused.stderr
    a_is_untouched()

    # A's cluster still works: a real client finds it through its record and computes.
    computed = a.run(dask_hpc.python, "-c", CONNECT_AND_COMPUTE.format(None))
    assert computed.returncode == 0, computed.stderr
    assert computed.stdout.strip() == "6"

    # And A stops it: nothing of it is left, on A or in the shared directory.
    assert a.dask_hpc("down", cluster["id"]).returncode == 0
    wait_for(lambda: not a.processes(), 30, "every process of A's cluster ending")
    assert not record.exists() and not tls.exists() and not lifeline.exists()
    assert all(process.is_running() for process in namesakes)


def test_a_record_of_an_earlier_boot_of_this_host_is_swept_without_a_signal(dask_hpc, tmp_path):
    """After a reboot, a record's process numbers name other processes: such a record is dead."""
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        dask_hpc.state_dir.mkdir(mode=0o700, exist_ok=True)
        tls = dask_hpc.state_dir / "0123abcd.tls"
        tls.mkdir(mode=0o700)
        # Another boot's record of this machine, written before this boot began.
        earlier_boot = {"boot_id": "00000000-0000-0000-0000-000000000000", "created_at": "2024-01-01T00:00:00Z"}
        pids = {"owner_pid": bystander.pid, "owner_start_time": 1, "scheduler_pid": bystander.pid, "scheduler_start_time": 1}
        record = write_record(dask_hpc.state_dir, full_record("0123abcd", tmp_path, name="before-the-reboot", **earlier_boot, **pids))
        assert dask_hpc.ls() == []
        assert not record.exists() and not tls.exists()
        assert dask_hpc("down", "--all").returncode == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_kernel_side_and_the_engine_agree_on_this_host_and_its_directories(dask_hpc, monkeypatch):
    from jupyterlab_dask_hpc.paths import engine_paths, this_host

    engine = json.loads(dask_hpc("paths", "--json").stdout)
    for key, value in dask_hpc.env.items():
        monkeypatch.setenv(key, value)
    assert this_host() == {"host": engine["host"], "boot_id": engine["boot_id"], "machine_id": engine["machine_id"]}
    assert engine_paths() == engine
    assert engine["state_dir"] == str(dask_hpc.state_dir)

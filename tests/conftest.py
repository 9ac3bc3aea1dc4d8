"""Fixtures for tests that run the real `dask-hpc` (lib/dask-hpc.mjs) with real Dask processes."""

from __future__ import annotations

import contextlib
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

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "lib" / "dask-hpc.mjs"
GiB = 2**30
# This venv's packages: put on PYTHONPATH for a Python that is not the venv's own.
VENV_PACKAGES = sysconfig.get_paths()["purelib"]


def batch_free_environ() -> dict[str, str]:
    """This process's environment without any batch system's variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PBS_", "SLURM_", "DASK_"))}


class DaskHpc:
    """Runs `dask-hpc` as a user would, in a fake PBS job with its own jobfs and state directory."""

    def __init__(self, tmp_path: Path):
        self.jobfs = tmp_path / "jobfs"
        self.jobfs.mkdir()
        self.state_dir = tmp_path / "state"
        # Where its clusters' directories go: a root of this user's own under the job filesystem.
        self.local_root = self.jobfs / f"dask-hpc-{os.getuid()}"
        self.env = batch_free_environ()
        self.env.update(
            PBS_JOBID="4242.gadi-pbs",
            PBS_NCPUS="2",
            PBS_VMEM="6gb",
            PBS_JOBFS=str(self.jobfs),
            DASK_HPC_STATE_DIR=str(self.state_dir),
            # This test's own sockets: orphan checks find its sidecar and owners by this path.
            DASK_HPC_RUNTIME_DIR=str(tmp_path / "run"),
        )
        self.python = sys.executable  # the test's Python has distributed: one Python everywhere
        self.user: str | None = None

    @classmethod
    def as_user(cls, directory: Path, user: str) -> "DaskHpc":
        """dask-hpc run by the unprivileged `user`, in `directory` (theirs): their HOME and
        identity, and the system's Python with this venv's packages, since the venv's own
        Python links into root's pyenv, which others cannot enter (the same Python 3.11 ABI)."""
        account = pwd.getpwnam(user)
        tool = cls(directory)
        shutil.chown(tool.jobfs, user, user)
        tool.user = user
        tool.local_root = tool.jobfs / f"dask-hpc-{account.pw_uid}"
        tool.env.update(HOME=account.pw_dir, USER=user, LOGNAME=user, PYTHONPATH=VENV_PACKAGES)
        tool.python = "/usr/bin/python3"
        return tool

    def __call__(self, *args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["node", str(CLI), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
            cwd=self.jobfs.parent if self.user else None,
        )

    def up(self, *args: str) -> dict:
        """`up --detach`: returns the cluster's description once all its workers are registered."""
        result = self("up", "--detach", "--python", self.python, *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def ls(self) -> list[dict]:
        result = self("ls", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def record_calls_of(command: Path, tool: "DaskHpc") -> Path:
    """Puts a stand-in for the batch command first on `tool`'s PATH: it writes the time and its
    arguments to the log returned, then runs `command`. How often the owner asks the batch server."""
    bin_dir = tool.state_dir.parent / "recording-bin"
    bin_dir.mkdir(exist_ok=True)
    log = tool.state_dir.parent / f"{command.name}.calls"
    stand_in = bin_dir / command.name
    stand_in.write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {shlex.quote(str(log))}\nexec {shlex.quote(str(command))} "$@"\n')
    stand_in.chmod(0o755)
    tool.env["PATH"] = f"{bin_dir}:{tool.env.get('PATH', '/usr/bin:/bin')}"
    return log


def recorded_calls(log: Path, since: float) -> list[tuple[float, list[str]]]:
    """The calls the stand-in of record_calls_of logged after `since` (time.time()): (time, arguments)."""
    if not log.exists():
        return []
    calls = [(float(when), args) for when, *args in (line.split() for line in log.read_text().splitlines())]
    return [(when, args) for when, args in calls if when >= since]


def wait_for(condition, seconds: float, what: str):
    """The condition's first true value, polled for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {seconds} s")


@contextlib.contextmanager
def jupyter_server(node: "DaskHpc", token: str, **env):
    """A whole `jupyter server` process with the extension, in `node`'s fake job; yields the
    base URL of the dask-hpc API once it answers, and the process. Stopped with SIGTERM at the
    end, unless the test has ended it otherwise."""
    import requests

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "jupyter"),
            "server",
            "--no-browser",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--ServerApp.root_dir={node.jobfs.parent}",
            f"--DaskHpcApp.python={node.python}",
            f"--DaskHpcApp.node={shutil.which('node')}",
        ],
        env={**node.env, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/dask-hpc/api"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/resources", headers={"Authorization": f"token {token}"}, timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            time.sleep(0.5)
        yield base, server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def logged_in(root: str, token: str):
    """A browser's session after Jupyter's login form at `root` (http://127.0.0.1:<port>): the
    login cookie, and the XSRF token that JupyterLab sends back as X-XSRFToken."""
    import requests

    session = requests.Session()
    session.get(f"{root}/login", timeout=30).raise_for_status()
    xsrf = session.cookies["_xsrf"]
    login = session.post(f"{root}/login", data={"password": token, "_xsrf": xsrf}, allow_redirects=False, timeout=30)
    assert login.status_code == 302, login.text
    assert any(cookie.name.startswith("username-") for cookie in session.cookies)
    return session, xsrf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_of(cluster: dict, **kwargs):
    """A real Client of a dask-hpc cluster: tls:// with the cluster's own certificate."""
    from distributed import Client

    from jupyterlab_dask_hpc.kernel_api import security

    return Client(cluster["scheduler_address"], security=security(cluster), timeout=30, **kwargs)


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (nannies' worker processes included)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    living = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                living.append(process)
        except psutil.NoSuchProcess:
            pass
    return living


def wait_until_gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """Waits up to `seconds` for every process to end; returns those still alive."""
    deadline = time.monotonic() + seconds
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(processes)


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            environ = process.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if text in cmdline or environ.get("DASK_HPC_STATE_DIR") == text or text in environ.get("TMPDIR", ""):
            found.append(process)
    return alive(found)


def yield_then_end_all(tool: "DaskHpc", directory: Path):
    """For a fixture: yields `tool`, then ends every cluster of it and removes `directory`;
    fails if a process of those clusters outlived them."""
    try:
        yield tool
    finally:
        tool("down", "--all")
        left = wait_until_gone(processes_mentioning(str(directory)), 30)
        shutil.rmtree(directory, ignore_errors=True)
    assert not left, f"processes of the user's clusters outlived them: {left}"


@pytest.fixture
def dask_hpc(tmp_path):
    tool = DaskHpc(tmp_path)
    yield tool
    # No test may leave a process of its cluster behind: stop stragglers, then fail loudly.
    leftovers = wait_until_gone(processes_mentioning(str(tmp_path)), 5)
    descriptions = []
    for process in leftovers:
        try:
            descriptions.append((process.pid, process.cmdline(), process.status(), process.ppid()))
        except psutil.Error:
            pass
    for process in leftovers:
        process.kill()
    assert not leftovers, f"orphans left by the test: {descriptions}"


@pytest.fixture
def batch_script_environment(dask_hpc, monkeypatch):
    """This process as a batch script in dask_hpc's fake job: its variables, no sidecar to ask."""
    for key, value in dask_hpc.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DASK_HPC_SIDECAR_SOCKET", raising=False)
    return dask_hpc


class OtherUser:
    """A second real Unix account on this node (`useradd`), the adversary of the shared-node
    tests: `run` starts a process as that user alone (its uid, gid, no extra groups)."""

    def __init__(self, name: str):
        self.name = name
        account = pwd.getpwnam(name)
        self.uid, self.gid, self.home = account.pw_uid, account.pw_gid, Path(account.pw_dir)

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "USER": self.name, **kwargs.pop("env", {})}
        return subprocess.Popen(argv, user=self.uid, group=self.gid, extra_groups=[], cwd=self.home, env=env, **kwargs)

    def run(self, argv: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "USER": self.name, **kwargs.pop("env", {})}
        return subprocess.run(
            argv,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )

    def processes(self) -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == self.uid]


@pytest.fixture
def other_user():
    """A fresh account for this test alone (a unique name, so parallel runs never share one);
    every process of it is killed and the account and its home removed afterwards."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("a second Unix user needs root and useradd")
    name = f"dhpc-other-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", "--user-group", name], check=True, capture_output=True)
    user = OtherUser(name)
    try:
        yield user
    finally:
        for process in user.processes():
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(user.processes(), timeout=10)
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def _listening_table(pid: int) -> dict[int, tuple[str, int]]:
    """The listening TCP sockets of the network namespace `pid` is in, inode → (ip, port), from
    /proc/PID/net/tcp{,6}: a batch host's namespace, which this process's own /proc/net is not."""
    table = {}
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] != "0A":  # TCP_LISTEN
                    continue
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                ip = socket.inet_ntop(socket.AF_INET if len(words) == 4 else socket.AF_INET6, words)
                table[int(fields[9])] = (ip, int(port, 16))
    return table


def listening_in_its_network_namespace(pid: int) -> list[tuple[str, int]]:
    """The (ip, port) every listening TCP socket of process `pid` is bound to, read in the
    process's own network namespace (a Slurm or PBS host's), by the socket inodes of its fds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[len("socket:[") : -1]))
    table = _listening_table(pid)
    return sorted(table[inode] for inode in inodes if inode in table)


ANY_ADDRESS = ("0.0.0.0", "::")


@pytest.fixture
def project_scratch(other_user):
    """`/tmp/dask-hpc-project-*/scratch`: made by root (as a site makes a project's scratch),
    owned by root, group the other user's, mode 2770: writable by the group, no sticky bit."""
    base = Path(tempfile.mkdtemp(prefix="dask-hpc-project-"))
    base.chmod(0o755)
    scratch = base / "scratch"
    scratch.mkdir()
    os.chown(scratch, 0, other_user.gid)
    scratch.chmod(0o2770)
    yield scratch
    shutil.rmtree(base, ignore_errors=True)


def assert_worker_jobs_private_with_http_on_loopback(client, cluster_id: str, other_user, project: Path) -> None:
    """Each worker job's TMPDIR is this user's under /tmp, out of the other user's reach, nothing
    of it under the project's scratch, and its HTTP server listens on its own host's loopback."""
    seen = client.run(lambda: (os.getpid(), os.environ["TMPDIR"]))
    workers = client.scheduler_info()["workers"]
    for address, (pid, tmpdir) in seen.items():
        assert tmpdir.startswith(f"/tmp/dask-hpc-{os.getuid()}/{cluster_id}-gw-job-"), tmpdir
        listed = other_user.run(["ls", tmpdir])
        assert listed.returncode != 0 and "Permission denied" in listed.stderr, listed
        listening = listening_in_its_network_namespace(pid)  # in the batch host's namespace
        http_port = workers[address]["services"]["dashboard"]
        assert [a for a in listening if a[1] == http_port] == [("127.0.0.1", http_port)], listening
    assert list(project.iterdir()) == [], "nothing of the job under the project's directory"


def start_time(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[19])


def full_record(cluster_id: str, tmp_path: Path, **fields) -> dict:
    """A record of this node and boot in the whole shape the engine writes."""
    from jupyterlab_dask_hpc.paths import this_host  # host, boot and machine as the kernel side reads them

    directory = tmp_path / f"gone-{cluster_id}"
    return {
        "id": cluster_id,
        "name": f"c-{cluster_id}",
        "status": "running",
        "scheduler_address": "tls://127.0.0.1:1",
        "scheduler_file": str(directory / "scheduler.json"),
        "dashboard_url": None,
        "dashboard_address": None,
        "tunnel_command": None,
        "local_directory": str(directory),
        "workers": [],
        "plan": {
            "workload": "cpu",
            "n_workers": 1,
            "threads_per_worker": 1,
            "memory_limit_bytes": 2**30,
            "local_directory": str(tmp_path / "roots"),
        },
        "adaptive": None,
        "python": sys.executable,
        **this_host(),
        "owner_pid": 1,
        "owner_start_time": 0,
        "scheduler_pid": None,
        "scheduler_start_time": None,
        "control_socket": None,
        "created_at": "2026-01-01T00:00:00.000Z",
        **fields,
    }


def write_record(state_dir: Path, record: dict) -> Path:
    state_dir.mkdir(mode=0o700, exist_ok=True)
    path = state_dir / f"{record['id']}.json"
    path.write_text(json.dumps(record))
    return path


# A command of `dask-hpc run` that would run past its job's end: it says what it was given,
# then computes until it is told to stop.
WALLTIME_CLIENT = """
import json, os, signal, sys, time
import dask
from distributed import Client
client = Client(timeout=30)
client.wait_for_workers(1, timeout=60)
print("STARTED " + json.dumps({"cluster": os.environ["DASK_HPC_CLUSTER_ID"], "workers": len(client.scheduler_info()["workers"]),
                               "retire_at": os.environ.get("DASK_HPC_RETIRE_AT"), "ends_at": os.environ.get("DASK_HPC_JOB_ENDS_AT"),
                               "caps": list(client.run(lambda: dask.config.get("distributed.worker.memory.max-spill")).values())}),
      flush=True)
def on_term(signum, frame):
    # run retires the workers before it signals the command: none is left to lose mid-task.
    print("TERM " + json.dumps({"workers": len(client.scheduler_info()["workers"]), "at": time.time()}), flush=True)
    client.close()
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
while True:
    client.submit(sum, range(1000), pure=False).result()
    time.sleep(1)
"""


def assert_run_stopped_before_the_end(output: str, job_id: str) -> dict:
    """`dask-hpc run` in a 4-minute job: the workers retired, then WALLTIME_CLIENT told to stop,
    a minute (the margin's floor; 10% of 4 minutes is less) before the end; exit 124. Returns
    what the client was given."""
    started = json.loads(next(line for line in output.splitlines() if line.startswith("STARTED ")).removeprefix("STARTED "))
    assert started["workers"] == 1 and started["retire_at"] and started["ends_at"], started
    ends_at = datetime.fromisoformat(started["ends_at"].replace("Z", "+00:00"))
    retire_at = datetime.fromisoformat(started["retire_at"].replace("Z", "+00:00"))
    assert ends_at - retire_at == timedelta(seconds=60), started
    terms = [line for line in output.splitlines() if line.startswith("TERM ")]
    assert terms, f"the command was never told to stop:\n{output}"
    term = json.loads(terms[0].removeprefix("TERM "))
    assert term["workers"] == 0, "the workers retired before the command was stopped"
    term_at = datetime.fromtimestamp(term["at"], timezone.utc)
    assert retire_at - timedelta(seconds=5) <= term_at < ends_at - timedelta(seconds=30), (term_at, started)
    assert f"dask-hpc: job {job_id} reaches its walltime" in output and "EXIT 124" in output, output
    return started

"""The `dask-hpc up` process that owns a cluster started from a Python process outside Jupyter.

Unless the user asks for a detached cluster, the owner's stdin is a pipe whose only writer is
this Python process: when the process ends, however it ends (exit without close, an exception,
SIGKILL), the kernel closes the pipe and the owner stops the cluster (`up --exit-with-stdin`).
Nothing in Python has to survive for that to happen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading

from .errors import DaskHpcError, refusal
from .paths import SIDECAR_SCRIPT, find_node, node_start_environment
from .unix_http import call

# The request fields `up` takes, as its flags.
_FLAGS = {
    "workload": "--workload",
    "max_workers": "--max-workers",
    "reserve_mem_gb": "--reserve-mem-gb",
    "max_mem_gb": "--max-mem-gb",
    "name": "--name",
}
STOP_SECONDS = 60


def up_command(body: dict, how: str) -> list[str]:
    """`dask-hpc up` for the request, `how` being --detach or --exit-with-stdin."""
    flags = []
    for field, flag in _FLAGS.items():
        if body.get(field) is not None:
            flags.append(f"{flag}={body[field]}")
    return [find_node(), str(SIDECAR_SCRIPT), "up", how, "--python", sys.executable, *flags]


def _failure(returncode: int, stderr: str) -> Exception:
    message = stderr.strip().removeprefix("dask-hpc: ")
    # Exit status 2: the request was refused before anything started.
    return refusal(message) if returncode == 2 else DaskHpcError(message or f"dask-hpc up exited with status {returncode}")


class Owner:
    """The owner of one cluster: a child tied to this process, or a detached one reached by its socket."""

    def __init__(self, state: dict, process: subprocess.Popen | None, dashboard: bool = True):
        self.state = state
        self.process = process
        self.dashboard = dashboard
        self.committed: threading.Event | None = None

    @classmethod
    def start(cls, body: dict, detached: bool = False, dashboard: bool = True) -> "Owner":
        env = node_start_environment()
        # The scheduler's dashboard preload (deferred_dashboard.py) reads this.
        env["DASK_HPC_DASHBOARD"] = "on" if dashboard else "off"
        if detached:
            result = subprocess.run(up_command(body, "--detach"), capture_output=True, text=True, env=env)
            if result.returncode != 0:
                raise _failure(result.returncode, result.stderr)
            return cls(json.loads(result.stdout), None, dashboard)
        # An unnamed file, not a pipe, for its messages: nobody reads them while it runs, and a
        # full pipe would stop it.
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(
            up_command(body, "--exit-with-stdin"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            # Its own session: a Ctrl-C for this script reaches this script, which closes the cluster.
            start_new_session=True,
        )
        description = b""
        while True:
            line = process.stdout.readline()
            if not line:
                break
            description += line
            if line.rstrip() == b"}":  # the description is printed whole, then nothing more
                return cls(json.loads(description), process, dashboard)
        returncode = process.wait()
        log.seek(0)
        stderr = log.read().decode(errors="replace")
        log.close()
        raise _failure(returncode, stderr)

    def _follow_to_the_end(self, committed: threading.Event) -> None:
        """Reads the owner's "stopping" (or its end), then waits for it to exit."""
        for line in self.process.stdout:
            if line.rstrip() == b"stopping":
                committed.set()
        committed.set()
        self.process.stdout.close()
        self.process.wait()

    def ask(self, method: str, body: dict | None = None, query: str = "") -> dict:
        socket_path = self.state.get("control_socket")
        if not socket_path or not self.running():
            raise DaskHpcError(f"cluster {self.state['id']} has stopped")
        self.state = call(socket_path, method, f"/api/clusters/{self.state['id']}{query}", body)
        return self.state

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        socket_path = self.state.get("control_socket")
        return bool(socket_path) and os.path.exists(socket_path)

    def stop(self) -> None:
        """Stops the cluster; quiet if it has already gone. A child owner is waited for until it
        has committed the stop (its record says "stopping" and the cluster's files are out of
        `dask_local_dir`): it ends the processes and then itself on its own, as it would if
        this process ended, and a thread here reaps it then."""
        if self.process is not None:
            if self.committed is not None:
                return  # asked already
            committed = self.committed = threading.Event()
            threading.Thread(target=self._follow_to_the_end, args=(committed,), name="dask-hpc-owner", daemon=True).start()
            self.process.stdin.close()  # what ending this process would do
            if not committed.wait(STOP_SECONDS):
                self.process.kill()
            return
        try:
            if self.running():
                # Its owner (the sidecar, a detached `up`) sees the stop through.
                self.ask("DELETE", query="?wait=stopping")
        except (FileNotFoundError, ConnectionRefusedError):
            pass  # it stopped in between: what we wanted

"""The one place that owns the sidecar's life: start, watch, restart with backoff, stop."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time

from .paths import node_start_environment

RESTART_BACKOFF_SECONDS = (0.2, 0.5, 1, 2, 5, 10)
# A sidecar that stayed up this long starts the backoff from the beginning when it dies.
STABLE_AFTER_SECONDS = 60
READY_LINE = "dask-hpc: serving on"


class Sidecar:
    """Runs `dask-hpc serve` on a private unix socket and keeps it running.

    Its stdin is a pipe from this process: if the Jupyter server dies, even by SIGKILL, the
    sidecar sees the pipe close, stops every cluster and exits. If the sidecar dies, it is
    restarted, and the new one adopts the clusters the old one left (their schedulers wait
    for an owner for a few seconds before they close).
    """

    def __init__(self, command: list[str], socket_path: str, log: logging.Logger):
        self.command = command
        self.socket_path = socket_path
        self.log = log
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._ready = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        with self._lock:
            self._stopping = False
            self._spawn()
        threading.Thread(target=self._supervise, name="dask-hpc-sidecar", daemon=True).start()

    def _spawn(self) -> None:
        self._ready.clear()
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=node_start_environment(),
            # Its own session: a Ctrl-C meant for the server reaches the sidecar through the
            # server's orderly shutdown, after the clusters are stopped, not in the middle.
            start_new_session=True,
        )

    def _supervise(self) -> None:
        backoff_index = 0
        while True:
            process = self.process
            started = time.monotonic()
            for line in process.stderr:
                line = line.rstrip()
                if line.startswith(READY_LINE):
                    self._ready.set()
                self.log.info("[dask-hpc] %s", line)
            status = process.wait()
            with self._lock:
                if self._stopping:
                    return
                if time.monotonic() - started > STABLE_AFTER_SECONDS:
                    backoff_index = 0
                delay = RESTART_BACKOFF_SECONDS[min(backoff_index, len(RESTART_BACKOFF_SECONDS) - 1)]
                backoff_index += 1
                self.log.warning("dask-hpc sidecar exited with status %s; restarting in %ss", status, delay)
            time.sleep(delay)
            with self._lock:
                if self._stopping:
                    return
                self.restarts += 1
                self._spawn()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def detach(self, timeout: float = 10) -> None:
        """SIGUSR2: the sidecar leaves without stopping its clusters, for a restarted server to adopt."""
        self._end(signal.SIGUSR2, timeout)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM: the sidecar stops its clusters (retire, terminate, kill) and exits."""
        self._end(signal.SIGTERM, timeout)

    def _end(self, signal_number: int, timeout: float) -> None:
        """Ends supervision, sends the signal, and SIGKILLs a sidecar that has not left in time."""
        with self._lock:
            self._stopping = True
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal_number)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

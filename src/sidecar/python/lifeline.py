"""Scheduler preload of dask-hpc: the scheduler ends when no dask-hpc process owns it.

The owner holds the scheduler's stdin open (its first line, "go", says the cluster's TLS
files are written: see _wait_for_the_owners_word); a restarted owner (the sidecar after a crash)
adopts the cluster by connecting to the unix socket named in DASK_HPC_LIFELINE_SOCKET and
keeping that connection open. When no owner is left for DASK_HPC_ADOPTION_GRACE seconds, the
scheduler closes, which closes its workers and their nannies: no orphans, even after SIGKILL.
Worker jobs still waiting in the batch system's queue are cancelled too (DASK_HPC_WORKER_JOBS).

The same connection is how the owner asks its scheduler things (workers, metrics, adaptive
target, retiring workers: scheduler_queries.py): one JSON line {"id": N, "op": ...} per
request, one line {"id": N, "result": ...} or {"id": N, "error": "..."} per answer, in the order
they complete. The socket is the user's alone (0600 in a 0700 directory), unlike an HTTP route
on the dashboard's port, which every user of the node can reach.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import socket
import subprocess
import sys
import threading

import scheduler_queries  # beside this file: dask puts its directory on sys.path while it loads us
import worker_connections

logger = logging.getLogger("dask_hpc.lifeline")

# Past the graceful close, leave for sure: a wedged event loop must not keep the node busy.
HARD_EXIT_AFTER_SECONDS = 15.0


class Lifeline:
    def __init__(self, scheduler, grace_seconds: float):
        self.scheduler = scheduler
        self.grace_seconds = grace_seconds
        self.owners = 0
        self.lock = threading.Lock()
        self.orphaned_timer: threading.Timer | None = None

    def hold(self, wait_for_eof) -> None:
        """Counts one owner for as long as `wait_for_eof` blocks."""
        with self.lock:
            self.owners += 1
            if self.orphaned_timer is not None:
                self.orphaned_timer.cancel()
                self.orphaned_timer = None
        try:
            wait_for_eof()
        except OSError:
            pass
        with self.lock:
            self.owners -= 1
            if self.owners == 0:
                logger.info("dask-hpc owner gone; closing in %ss unless adopted", self.grace_seconds)
                self.orphaned_timer = threading.Timer(self.grace_seconds, self.close)
                self.orphaned_timer.daemon = True
                self.orphaned_timer.start()

    def close(self) -> None:
        with self.lock:
            if self.owners > 0:
                return
        logger.info("dask-hpc owner gone; closing the scheduler and its workers")
        cancel_worker_jobs(os.environ.get("DASK_HPC_WORKER_JOBS"))
        hard_exit = threading.Timer(HARD_EXIT_AFTER_SECONDS, os._exit, args=(3,))
        hard_exit.daemon = True
        hard_exit.start()
        self.scheduler.loop.add_callback(self.scheduler.close, reason="dask-hpc owner gone")

    def serve_owners(self, server: socket.socket) -> None:
        while True:
            connection, _ = server.accept()
            thread = threading.Thread(target=self.hold, args=(lambda c=connection: self.answer_until_eof(c),), daemon=True)
            thread.start()

    def answer_until_eof(self, connection: socket.socket) -> None:
        """Answers the owner's requests, each on the scheduler's loop, until it closes."""
        sending = threading.Lock()

        def send(message: dict) -> None:
            data = (json.dumps(message) + "\n").encode()
            with sending:
                try:
                    connection.sendall(data)
                except OSError:
                    pass  # the owner is gone: hold() counts it out at EOF

        with connection, connection.makefile("rb") as lines:
            for line in lines:
                if line.strip():
                    self.answer(line, send)

    def answer(self, line: bytes, send) -> None:
        try:
            request = json.loads(line)
            request_id = request["id"]
        except (ValueError, KeyError, TypeError):
            send({"id": None, "error": f"not a request: {line[:200]!r}"})
            return
        asked = asyncio.run_coroutine_threadsafe(scheduler_queries.answer(self.scheduler, request), self.scheduler.loop.asyncio_loop)

        def done(future) -> None:
            try:
                send({"id": request_id, "result": future.result()})
            except Exception as error:  # the owner reports it; the scheduler goes on
                send({"id": request_id, "error": f"{type(error).__name__}: {error}"})

        asked.add_done_callback(done)


def listen_for_owners(path: str) -> socket.socket:
    """The owner-only unix socket, bound before the scheduler says it is up: the owner connects then."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    old_umask = os.umask(0o177)  # the socket: owner only
    try:
        server.bind(path)
    finally:
        os.umask(old_umask)
    server.listen(8)
    return server


def cancel_worker_jobs(described: str | None) -> None:
    """Cancels this cluster's worker jobs by their name: queued ones would start with no scheduler.

    `described` is {"system": "slurm"|"pbs", "name": job name}; commands get argument lists, no shell.
    """
    if not described:
        return
    jobs = json.loads(described)
    user = getpass.getuser()
    try:
        if jobs["system"] == "slurm":
            subprocess.run(["scancel", "--name", jobs["name"], "--user", user], timeout=30, check=False)
        else:
            found = subprocess.run(["qselect", "-N", jobs["name"], "-u", user], capture_output=True, text=True, timeout=30, check=False)
            ids = found.stdout.split()
            if ids:
                subprocess.run(["qdel", *ids], timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("dask-hpc could not cancel worker jobs %s: %s", jobs["name"], error)


def _wait_for_the_owners_word() -> None:
    """The owner writes the cluster's TLS files while this Python starts, and writes "go" on
    stdin once they are there. Preloads load before the scheduler reads its TLS files, so
    waiting here lets both happen at once (the scheduler's start-up is the cluster's)."""
    received = b""
    while not received.endswith(b"\n"):
        byte = os.read(sys.stdin.fileno(), 1)  # unbuffered: the rest of stdin is the lifeline's
        if not byte:
            sys.exit("dask-hpc: the owner left before this scheduler could start")
        received += byte
    if received.strip() != b"go":
        sys.exit(f"dask-hpc: unexpected start signal {received!r} on stdin")


# `dask scheduler` imports a preload twice (checking its options, then loading it, a reload
# that keeps module globals): the word is waited for once.
if not globals().get("_started"):
    _wait_for_the_owners_word()
    _started = True


def _read_stdin_until_eof() -> None:
    while os.read(sys.stdin.fileno(), 4096):
        pass


def dask_setup(scheduler) -> None:
    lifeline = Lifeline(scheduler, float(os.environ.get("DASK_HPC_ADOPTION_GRACE", "10")))
    socket_path = os.environ.get("DASK_HPC_LIFELINE_SOCKET")
    if socket_path:
        server = listen_for_owners(socket_path)
        threading.Thread(target=lifeline.serve_owners, args=(server,), daemon=True).start()
    threading.Thread(target=lifeline.hold, args=(_read_stdin_until_eof,), daemon=True).start()
    worker_connections.connect_ahead(scheduler)

"""The scheduler's dashboard comes from a preload once the scheduler is up (deferred_dashboard.py):
a page asked for before it is there waits and is sent to itself again; after, it is Dask's."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import textwrap
import time

from conftest import REPO

PRELOAD = REPO / "lib" / "python" / "deferred_dashboard.py"


def start_scheduler(tmp_path, slow_import_seconds: float) -> tuple[subprocess.Popen, int]:
    # A sitecustomize that holds the dashboard's import back: the "before" is then certain.
    (tmp_path / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import builtins, threading, time
        real_import = builtins.__import__
        def slow_import(name, *args, **kwargs):
            if name == "distributed.dashboard.scheduler" and threading.current_thread().name == "dask-hpc-dashboard":
                time.sleep({slow_import_seconds})
            return real_import(name, *args, **kwargs)
        builtins.__import__ = slow_import
    """)
    )
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dashboard-address",
            "127.0.0.1:0",
            "--no-dashboard",
            "--preload",
            str(PRELOAD),
        ],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in scheduler.stderr:
        found = re.search(r"dashboard at:\s+\S+:(\d+)", line)
        if found:
            return scheduler, int(found.group(1))
    raise AssertionError("the scheduler printed no dashboard address")


def get(port: int, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    return connection.getresponse()


def test_a_dashboard_page_asked_for_before_the_dashboard_is_there_waits_for_it(tmp_path):
    scheduler, port = start_scheduler(tmp_path, slow_import_seconds=2)
    try:
        assert get(port, "/health").read() == b"ok"  # the scheduler's own routes answer at once
        asked = time.monotonic()
        early = get(port, "/status?theme=dark")
        waited = time.monotonic() - asked
        assert early.status == 302 and early.getheader("Location") == "./status?theme=dark"
        assert waited > 1, "the page should have waited for the dashboard"
        page = get(port, "/status")
        assert page.status == 200 and b"Dask" in page.read()
        assert get(port, "/individual-task-stream").status == 200  # the Lab tabs' plots
        assert get(port, "/no-such-page").status == 404  # once it is there, the rest is Bokeh's
    finally:
        scheduler.terminate()
        scheduler.wait(20)

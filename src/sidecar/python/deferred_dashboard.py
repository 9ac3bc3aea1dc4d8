"""Scheduler preload of dask-hpc: the dashboard is loaded once the scheduler is up.

Importing the Bokeh dashboard takes a scheduler about half a second, before it listens, and
its workers wait for it. dask-hpc starts the scheduler with --no-dashboard (its HTTP server
still runs, with the JSON API) and this preload: a thread imports the dashboard while the
scheduler already takes its workers, then the dashboard joins the running HTTP server. A
dashboard page asked for in between waits for it and is then sent to itself again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from tornado import web
from tornado.ioloop import IOLoop

logger = logging.getLogger("dask_hpc.dashboard")

# A page asked for before the dashboard is there waits at most this long.
WAIT_SECONDS = 60


class _WaitForDashboard(web.RequestHandler):
    def initialize(self, attached: asyncio.Event) -> None:
        self.attached = attached

    async def get(self) -> None:
        await asyncio.wait_for(self.attached.wait(), WAIT_SECONDS)
        # Relative, so that it also holds under the route of the server extension (dask-hpc/dashboard/ID/status).
        path, _, query = self.request.uri.partition("?")
        self.redirect("./" + path.rsplit("/", 1)[-1] + (f"?{query}" if query else ""))


class _UntilAttached(web.Application):
    """Answers what no other route of the scheduler's server takes, until the dashboard is there."""

    def __init__(self, attached: asyncio.Event):
        super().__init__([(r"/.*", _WaitForDashboard, {"attached": attached})])
        self.attached = attached

    def find_handler(self, request, **kwargs):
        if self.attached.is_set():
            return None  # the server's next application, the dashboard, answers now
        return super().find_handler(request, **kwargs)


def dask_setup(scheduler) -> None:
    if os.environ.get("DASK_HPC_DASHBOARD") == "off":  # setup_dask_client(dashboard=False)
        logger.info("dask-hpc: no dashboard, as asked")
        return
    loop = IOLoop.current()
    attached = asyncio.Event()
    scheduler.http_application.add_application(_UntilAttached(attached))

    def attach(dashboard) -> None:
        try:
            if dashboard is not None:
                dashboard.connect(scheduler.http_application, scheduler.http_server, scheduler)
                logger.info("dask-hpc: dashboard ready")
        finally:
            attached.set()

    def load() -> None:
        try:
            import distributed.dashboard.scheduler as dashboard
        except ImportError as error:  # no Bokeh in this Python: the scheduler runs without
            logger.warning("dask-hpc: no dashboard (%s); pip install bokeh for it", error)
            dashboard = None
        loop.add_callback(attach, dashboard)

    threading.Thread(target=load, name="dask-hpc-dashboard", daemon=True).start()

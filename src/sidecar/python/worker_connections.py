"""The scheduler opens its connection to each worker as the worker registers, not at the first
result a client asks for: a client's gather goes through the scheduler, whose first connection
to a worker is a TLS handshake (tens of ms of the user's first task). The connection waits in
the scheduler's pool (`rpc`), where gather and every later call to that worker take it."""

from __future__ import annotations

import asyncio
import logging

from distributed.diagnostics.plugin import SchedulerPlugin

logger = logging.getLogger("dask_hpc.worker_connections")


class ConnectAhead(SchedulerPlugin):
    name = "dask-hpc-connect-ahead"

    def __init__(self):
        self.connecting: set[asyncio.Task] = set()  # held: a task nobody holds may be collected

    def add_worker(self, scheduler, worker: str) -> None:
        # Not awaited: the worker's registration is answered without waiting for this.
        task = asyncio.ensure_future(self.connect(scheduler, worker))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def connect(self, scheduler, worker: str) -> None:
        try:
            comm = await scheduler.rpc.connect(worker)
        except Exception as error:  # the worker left meanwhile: gather connects as it always did
            logger.debug("no connection ahead to %s: %s", worker, error)
            return
        scheduler.rpc.reuse(worker, comm)


def connect_ahead(scheduler) -> None:
    scheduler.add_plugin(ConnectAhead())

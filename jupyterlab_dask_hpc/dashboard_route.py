"""{base_url}dask-hpc/dashboard/<cluster id>/<path>: a live cluster's dashboard (HTTP and Bokeh's
WebSocket) relayed by jupyter-server-proxy, behind Jupyter's login.

The URL names a cluster, never a port: the port comes from the live cluster, and the socket
listening on it must belong to that cluster's scheduler process. Another user of the node who
listens on a freed or guessed port is never relayed to. Jupyter's credentials (cookie,
Authorization, XSRF token, the `token` query argument) are removed before the request leaves.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, quote, urlencode, urlparse

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web
from tornado.websocket import WebSocketClosedError

from . import unix_http
from .errors import DaskHpcError
from .kernel_api import running_clusters
from .listeners import listener_belongs_to
from .paths import recorded_here, this_host

DASHBOARD_ROUTE = r"/dask-hpc/dashboard/([^/]+)(/.*|)"
BY_PORT_ROUTE = r"/dask-hpc/dashboard/port/(\d+)(/.*|)"
# Never relayed: what Jupyter authenticates with. Referer may carry a ?token= of the page.
CREDENTIAL_HEADERS = ("Cookie", "Authorization", "X-XSRFToken", "Referer")
CREDENTIAL_QUERY_ARGUMENTS = ("token", "_xsrf")
SIDECAR_TIMEOUT_SECONDS = 10


def live_clusters(sidecar) -> list[dict]:
    """This user's running clusters on this node: the sidecar's, then those that other owners
    (`dask-hpc up`, `setup_dask_client()` in a kernel) recorded in the state directory."""
    clusters = []
    try:
        clusters = unix_http.call(sidecar.socket_path, "GET", "/api/clusters", timeout=SIDECAR_TIMEOUT_SECONDS)
    except (OSError, ValueError, DaskHpcError):
        pass  # the sidecar restarting: the records still say which clusters run
    known = {cluster["id"] for cluster in clusters}
    clusters += [cluster for cluster in running_clusters() if cluster.get("id") not in known]
    here = this_host()
    return [c for c in clusters if c.get("status") == "running" and c.get("dashboard_address") and recorded_here(c, here)]


def dashboard_port(cluster: dict) -> int | None:
    try:
        return urlparse(cluster["dashboard_address"]).port
    except ValueError:
        return None


class DashboardHandler(ProxyHandler):
    """jupyter-server-proxy's handler, with the port taken from the cluster the URL names."""

    def initialize(self, sidecar):
        self.sidecar = sidecar

    async def prepare(self, *args, **kwargs):
        await super().prepare(*args, **kwargs)  # Jupyter's authentication first
        if self._finished:
            return  # sent to the login page: an unauthenticated request looks nothing up
        # Jupyter's token in the query (?token=…) authenticated this request; it goes no further.
        arguments = parse_qsl(self.request.query, keep_blank_values=True)
        self.request.query = urlencode([(k, v) for k, v in arguments if k not in CREDENTIAL_QUERY_ARGUMENTS])
        # Here, before a WebSocket's handshake is accepted, so that a refusal is an HTTP answer.
        self.scheduler_port = await self._scheduler_port(self.path_args[0])

    def proxy_request_headers(self):
        headers = super().proxy_request_headers()
        for name in CREDENTIAL_HEADERS:
            headers.pop(name, None)
        return headers

    async def _scheduler_port(self, cluster_id: str) -> int:
        clusters = await asyncio.get_running_loop().run_in_executor(None, live_clusters, self.sidecar)
        cluster = next((c for c in clusters if c["id"] == cluster_id), None)
        port = dashboard_port(cluster) if cluster else None
        if cluster is None or port is None:
            raise web.HTTPError(404, f"no running Dask cluster {cluster_id!r} with a dashboard here; it may have stopped")
        owned = await asyncio.get_running_loop().run_in_executor(None, listener_belongs_to, port, cluster.get("scheduler_pid"))
        if not owned:
            raise web.HTTPError(
                502,
                f"port {port} of cluster {cluster_id!r} is not held by its scheduler (pid {cluster.get('scheduler_pid')}): not relayed",
            )
        # For the Location rewrite and the X-Forwarded-Context the dashboard sees.
        self.proxy_base = url_path_join("dask-hpc/dashboard", quote(cluster_id, safe=""))
        return port

    # 127.0.0.1, the address the scheduler binds and whose listener was checked: "localhost"
    # may resolve to ::1 first, where anyone could listen on the same port number.
    async def http_get(self, cluster_id, path):
        return await self.proxy(cluster_id, path)

    async def head(self, cluster_id, path):
        return await self.proxy(cluster_id, path)

    async def proxy(self, cluster_id, path):
        return await super().proxy("127.0.0.1", self.scheduler_port, path)

    async def open(self, cluster_id, path):
        return await self.proxy_open("127.0.0.1", self.scheduler_port, path)

    def write_message(self, message, binary=False):
        # A tab that closes or reloads leaves the dashboard's messages in flight: jupyter-server-proxy
        # writes each to the closed browser socket, and tornado logs a WebSocketClosedError traceback.
        # The browser is gone; so is the message. The base class closes the dashboard's side.
        try:
            sent = super().write_message(message, binary=binary)
        except WebSocketClosedError:
            return None
        sent.add_done_callback(lambda future: future.cancelled() or future.exception())  # retrieved: not logged
        return sent

    # The dashboard is read: nothing else is relayed (the base class leaves XSRF to the proxied app).
    def _read_only(self, *args):
        raise web.HTTPError(405, "the dashboard route relays GET, HEAD and WebSockets only")

    post = put = delete = patch = options = _read_only


class DashboardByPortHandler(JupyterHandler):
    """{base_url}dask-hpc/dashboard/port/<port>/<path>: what `distributed.dashboard.link` can
    format, for a plain `Client(address)`. It only redirects to the route of the live cluster of
    this user whose dashboard is on that port (404 otherwise): it relays nothing itself."""

    def initialize(self, sidecar):
        self.sidecar = sidecar

    @web.authenticated
    async def get(self, port, path):
        clusters = await asyncio.get_running_loop().run_in_executor(None, live_clusters, self.sidecar)
        cluster = next((c for c in clusters if dashboard_port(c) == int(port)), None)
        if cluster is None:
            raise web.HTTPError(404, f"no running Dask cluster of yours has its dashboard on port {port}")
        target = url_path_join(self.base_url, "dask-hpc/dashboard", quote(cluster["id"], safe=""), quote(path or "/status"))
        query = urlencode([(k, v) for k, v in parse_qsl(self.request.query, keep_blank_values=True) if k not in CREDENTIAL_QUERY_ARGUMENTS])
        self.redirect(target + (f"?{query}" if query else ""))


def dashboard_handlers(sidecar) -> list[tuple]:
    """The two routes, the by-port one first: its prefix would otherwise read as a cluster id."""
    return [
        (BY_PORT_ROUTE, DashboardByPortHandler, {"sidecar": sidecar}),
        (DASHBOARD_ROUTE, DashboardHandler, {"sidecar": sidecar}),
    ]

"""Relays {base_url}dask-hpc/api/* to the sidecar: REST and the events WebSocket, uninterpreted."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server_proxy.handlers import NamedLocalProxyHandler
from tornado import web

SIDECAR_READY_TIMEOUT_SECONDS = 30
# The sidecar's limit too (src/sidecar/server/request-body.ts); refused here before it is relayed.
MAX_BODY_BYTES = 64 * 1024


class SidecarRelayHandler(NamedLocalProxyHandler):
    """jupyter-server-proxy's handler pointed at the sidecar's unix socket.

    Its `prepare` enforces Jupyter's authentication on every method and on the WebSocket.
    """

    def initialize(self, sidecar):
        self.sidecar = sidecar

    @property
    def unix_socket(self):
        return self.sidecar.socket_path

    # jupyter-server-proxy leaves XSRF to the proxied app, and the sidecar has no cookies to
    # check: Jupyter checks here as for its own APIs. A cookie-authenticated POST, PATCH, PUT
    # or DELETE needs the X-XSRFToken header (403 without it, 404 from another origin); a
    # token-authenticated one does not. The WebSocket's Origin is checked by check_origin.
    check_xsrf_cookie = JupyterHandler.check_xsrf_cookie

    # Refusals made here are JSON with a message, as the sidecar's and Jupyter's own APIs'.
    write_error = APIHandler.write_error

    async def prepare(self, *args, **kwargs):
        await super().prepare(*args, **kwargs)  # authentication and XSRF first
        if len(self.request.body) > MAX_BODY_BYTES:
            raise web.HTTPError(413, f"the request body is over the limit of {MAX_BODY_BYTES} bytes (64 KiB)")

    def get_login_url(self):
        # An API answers 403, as Jupyter's own APIs do, rather than redirecting to a login page.
        raise web.HTTPError(403)

    async def _sidecar_ready(self):
        ready = await asyncio.get_running_loop().run_in_executor(None, self.sidecar.wait_ready, SIDECAR_READY_TIMEOUT_SECONDS)
        if not ready:
            raise web.HTTPError(503, "the dask-hpc sidecar is not running; see the Jupyter server's log")

    def proxy_request_options(self):
        # Relay every request as it came: tornado's client otherwise refuses a PATCH without a
        # body, or an OPTIONS or DELETE with one, before the sidecar can say what is wrong.
        return {**super().proxy_request_options(), "allow_nonstandard_methods": True}

    async def proxy(self, port, path):
        await self._sidecar_ready()
        # Tornado has unquoted the path: quote it again, so that a "?" or "#" inside a cluster
        # id stays part of the path instead of starting a query.
        return await super().proxy(port, "/api/" + quote(path.lstrip("/"), safe="/"))

    async def open(self, path):
        await self._sidecar_ready()
        return await super().open("/api/" + path.lstrip("/"))


class NodeMissingHandler(APIHandler):
    """The API when no Node.js can run the sidecar: every authenticated request is a 503
    whose message says what to install (the sidebar shows it)."""

    def initialize(self, message):
        self.message = message

    def get_login_url(self):
        raise web.HTTPError(403)

    @web.authenticated
    def _refuse(self, *args):
        raise web.HTTPError(503, self.message)

    get = post = patch = delete = put = _refuse

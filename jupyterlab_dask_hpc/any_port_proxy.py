"""Turns off jupyter-server-proxy's routes to an arbitrary port: {base_url}proxy/PORT/…,
proxy/HOST:PORT/… and their proxy/absolute/ forms.

They relay the browser's Jupyter cookie and XSRF token to whatever listens on the port, and on
a shared node that may be another user (docs/security.md). Installing this package pulls in
jupyter-server-proxy, so without this it would add those routes where there were none. A
site's named `ServerProxy.servers` ({base_url}NAME/) and the dashboard route are untouched.
`DaskHpcApp.allow_proxy_any_port = True` leaves the routes on.
"""

from __future__ import annotations

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

# jupyter-server-proxy's own patterns (its handlers.setup_handlers).
ANY_PORT_PATTERNS = (
    r"/proxy/([^/:@]+):(\d+)(/.*|)",
    r"/proxy/absolute/([^/:@]+):(\d+)(/.*|)",
    r"/proxy/(\d+)(/.*|)",
    r"/proxy/absolute/(\d+)(/.*|)",
)


class AnyPortProxyOffHandler(JupyterHandler):
    """Answers every method of those routes 404, saying why and how a site turns them back on."""

    # The message as JSON, as Jupyter's APIs answer (its HTML error page needs a user first).
    write_error = APIHandler.write_error

    async def prepare(self):
        await super().prepare()
        raise web.HTTPError(
            404,
            "jupyterlab-dask-hpc turns off jupyter-server-proxy's {base_url}proxy/PORT/ routes: they hand "
            "Jupyter's login cookie to whatever listens on the port. Dask dashboards are under "
            "{base_url}dask-hpc/dashboard/; an administrator can turn the routes back on with "
            "c.DaskHpcApp.allow_proxy_any_port = True (docs/security.md).",
        )

    def check_xsrf_cookie(self):
        pass  # the refusal is the same for every method


def turn_off_any_port_proxy(web_app) -> None:
    """Puts the refusal before every other route, whichever extension loaded first: tornado
    answers with the first rule that matches."""
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*", [(url_path_join(base_url, pattern), AnyPortProxyOffHandler) for pattern in ANY_PORT_PATTERNS])
    # add_handlers inserts before the last rule (the fallback); move ours to the front.
    rules = web_app.default_router.rules
    rules.insert(0, rules.pop(-2))

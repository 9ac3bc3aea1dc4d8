"""The dashboard through the route the product owns, {base_url}dask-hpc/dashboard/<cluster id>/,
against another real user of the node who listens on loopback ports (docs/security.md)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import subprocess
import sys
import textwrap
import time

import pytest
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web
from test_server_extension import api, jp_server_cleanup, server_config  # noqa: F401 (a fixture)
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketHandler

from conftest import full_record, process_tree, start_time, wait_until_gone, write_record

pytest_plugins = ["pytest_jupyter.jupyter_server"]

LOGIN_COOKIE = "LOGIN-COOKIE-SECRET"
XSRF = "XSRF-SECRET"

# The other user's server: prints each request's path and headers as a JSON line, answers 200.
RECORDER = textwrap.dedent(
    """
    import http.server, json, sys
    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            print(json.dumps({"path": self.path, "headers": dict(self.headers)}), flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "8")
            self.end_headers()
            self.wfile.write(b"squatter")
        do_HEAD = do_POST = do_GET
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Recorder)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


KERNEL_LINKS = textwrap.dedent(
    """
    import sys
    from distributed import Client
    from jupyterlab_dask_hpc import connect
    from jupyterlab_dask_hpc.kernel_api import running_clusters, security
    with connect(sys.argv[1]) as client:
        print(client.dashboard_link)
    cluster = next(c for c in running_clusters() if c["id"] == sys.argv[1])
    with Client(cluster["scheduler_address"], security=security(cluster)) as client:
        print(client.dashboard_link)
    """
)


class SiteApp:
    """A site's own app, proxied by name ({base_url}site-app/) as ServerProxy.servers configures."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-c", RECORDER, "0"], stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())


@pytest.fixture
def site_app():
    app = SiteApp()
    yield app
    app.process.kill()
    app.process.wait()


@pytest.fixture
def jp_server_config(dask_hpc, monkeypatch, site_app, request):
    """The product's server, where the site also runs an app through jupyter-server-proxy;
    parametrized indirectly with allow_proxy_any_port."""
    config = server_config(dask_hpc, monkeypatch)
    config["ServerProxy"] = {"servers": {"site-app": {"port": site_app.port, "command": [], "absolute_url": False}}}
    config["DaskHpcApp"]["allow_proxy_any_port"] = getattr(request, "param", False)
    return config


class Squatter:
    """The other user's HTTP server on 127.0.0.1:port (0: any free one), recording what reaches it."""

    def __init__(self, other_user, port: int = 0):
        self.process = other_user.popen(["/usr/bin/python3", "-c", RECORDER, str(port)], stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        assert ready, "the other user's server did not start"
        self.port = int(self.process.stdout.readline())

    def received(self) -> list[dict]:
        """Every request that reached it so far."""
        requests = []
        while select.select([self.process.stdout], [], [], 0.5)[0]:
            line = self.process.stdout.readline()
            if not line:
                break
            requests.append(json.loads(line))
        return requests

    def stop(self):
        self.process.kill()
        self.process.wait()


def credentials(jp_serverapp) -> list[str]:
    return [jp_serverapp.identity_provider.token, LOGIN_COOKIE, XSRF]


def as_the_browser(jp_serverapp) -> dict:
    """What a logged-in browser sends (the login cookie, _xsrf and its header), and the token too."""
    return {
        "Cookie": f'_xsrf={XSRF}; username-127-0-0-1="{LOGIN_COOKIE}"',
        "X-XSRFToken": XSRF,
        "Authorization": f"token {jp_serverapp.identity_provider.token}",
        "Referer": f"http://127.0.0.1/lab?token={jp_serverapp.identity_provider.token}",
    }


async def as_a_browser_follows(http_server_client, jp_base_url, jp_serverapp, parts, method, port):
    """The request with the browser's credentials, and the redirects within Jupyter's origin
    after it. The path is sent as a browser sends it (jp_fetch would escape the ':' of host:port)."""
    path = jp_base_url + "/".join(parts) + f"?token={jp_serverapp.identity_provider.token}&port={port}"
    for _ in range(5):
        response = await http_server_client.fetch(
            path,
            method=method,
            body=b"" if method == "POST" else None,
            headers=as_the_browser(jp_serverapp),
            follow_redirects=False,
            raise_error=False,
        )
        location = response.headers.get("Location", "")
        if response.code not in (301, 302, 307, 308) or not location.startswith(jp_base_url):
            return response
        path = location
    return response


def leaked(requests: list[dict], secrets: list[str]) -> list[dict]:
    return [r for r in requests if any(secret in json.dumps(r) for secret in secrets)]


async def start_cluster(jp_fetch, name: str) -> dict:
    return await api(
        jp_fetch, "POST", "clusters", json.dumps({"workload": "cpu", "max_workers": 1, "name": name}), params={"wait": "ready"}
    )


def dashboard_port(cluster: dict) -> int:
    return int(cluster["dashboard_address"].rsplit(":", 1)[1])


def route_path(cluster_url: str, jp_base_url: str) -> list[str]:
    return cluster_url[len(jp_base_url) :].split("/")


async def open_dashboard(jp_fetch, parts, **kwargs):
    """The page, once the scheduler's deferred dashboard is there (until then it sends the
    browser to the same page again: deferred_dashboard.py)."""
    for _ in range(20):
        page = await jp_fetch(*parts, follow_redirects=False, raise_error=False, **kwargs)
        if page.code != 302:
            return page
        await asyncio.sleep(0.5)
    return page


@pytest.mark.timeout(180)
async def test_no_url_of_the_jupyter_origin_hands_the_login_to_another_users_port(
    jp_fetch, http_server_client, jp_base_url, jp_serverapp, other_user
):
    squatter = Squatter(other_user)
    port = str(squatter.port)
    cluster = await start_cluster(jp_fetch, "mine")
    try:
        urls = [
            # the product's routes, the other user's port in every place a link could put it
            ("dask-hpc", "dashboard", port, "status"),
            ("dask-hpc", "dashboard", "port", port, "status"),
            ("dask-hpc", "dashboard", port),
            ("dask-hpc", "dashboard", cluster["id"], port),
            ("dask-hpc", "dashboard", cluster["id"], "proxy", port, "127.0.0.1", "status"),
            ("dask-hpc", "dashboard", cluster["id"], "status", f"..%2F..%2F{port}"),
            ("dask-hpc", "api", "clusters", port),
            # jupyter-server-proxy's routes to any port, which the product turns off
            ("proxy", port, "status"),
            ("proxy", "absolute", port, "status"),
            ("proxy", f"127.0.0.1:{port}", "status"),
            ("proxy", f"localhost:{port}", "status"),
            ("proxy", "absolute", f"127.0.0.1:{port}", "status"),
        ]
        answers = {}
        for parts in urls:
            for method in ("GET", "POST"):
                response = await as_a_browser_follows(http_server_client, jp_base_url, jp_serverapp, parts, method, port)
                answers["/".join(parts), method] = response.code
        received = squatter.received()
        assert leaked(received, credentials(jp_serverapp)) == [], received
        # The proxy routes say why they are off.
        refused = await jp_fetch("proxy", port, "status", raise_error=False)
        assert refused.code == 404 and b"allow_proxy_any_port" in refused.body
        for refused_path in (f"proxy/{port}/status", f"proxy/127.0.0.1:{port}/status", f"proxy/absolute/{port}/status"):
            assert answers[refused_path, "GET"] == 404
        assert answers["dask-hpc/dashboard/port/" + port + "/status", "GET"] == 404
    finally:
        squatter.stop()
        await api(jp_fetch, "DELETE", f"clusters/{cluster['id']}")


@pytest.mark.timeout(180)
async def test_a_stopped_clusters_link_reaches_nobody_who_takes_its_port(jp_fetch, jp_base_url, jp_serverapp, other_user):
    cluster = await start_cluster(jp_fetch, "gone")
    port = dashboard_port(cluster)
    assert cluster["dashboard_url"] == f"{jp_base_url}dask-hpc/dashboard/{cluster['id']}/status"
    page = await open_dashboard(jp_fetch, route_path(cluster["dashboard_url"], jp_base_url), headers=as_the_browser(jp_serverapp))
    assert page.code == 200 and b"Bokeh" in page.body and b"Dask" in page.body
    # In a kernel of this server: connect()'s client names the cluster's route; a plain
    # Client(address) can only format the port, so it links the by-port route ...
    kernel = subprocess.run(
        [sys.executable, "-c", KERNEL_LINKS, cluster["id"]], capture_output=True, text=True, env=os.environ.copy(), timeout=60
    )
    assert kernel.stdout.split() == [cluster["dashboard_url"], f"{jp_base_url}dask-hpc/dashboard/port/{port}/status"], kernel.stderr
    # ... which sends the browser to the cluster's own.
    by_port = await jp_fetch("dask-hpc", "dashboard", "port", str(port), "status", follow_redirects=False, raise_error=False)
    assert by_port.code == 302 and by_port.headers["Location"] == cluster["dashboard_url"]
    tree = process_tree(cluster["scheduler_pid"])

    await api(jp_fetch, "DELETE", f"clusters/{cluster['id']}")
    assert wait_until_gone(tree, 10) == []
    squatter = Squatter(other_user, port)
    try:
        for parts in (route_path(cluster["dashboard_url"], jp_base_url), ["dask-hpc", "dashboard", "port", str(port), "status"]):
            old = await jp_fetch(*parts, headers=as_the_browser(jp_serverapp), follow_redirects=True, raise_error=False)
            assert old.code == 404 and b"squatter" not in old.body
        assert squatter.received() == []
    finally:
        squatter.stop()


@pytest.mark.timeout(180)
async def test_bokehs_websocket_works_through_the_route(jp_fetch, jp_ws_fetch, jp_base_url, jp_serverapp):
    cluster = await start_cluster(jp_fetch, "bokeh")
    stopped = False
    try:
        page = await open_dashboard(jp_fetch, route_path(cluster["dashboard_url"], jp_base_url))
        # Bokeh's session token is in the page; the WebSocket carries it as a subprotocol.
        token = re.search(rb'"token":\s*"([^"]+)"', page.body).group(1).decode()
        socket = await jp_ws_fetch("dask-hpc", "dashboard", cluster["id"], "status", "ws", subprotocols=["bokeh", token])
        first = await asyncio.wait_for(socket.read_message(), 30)
        assert first is not None and "ACK" in (first if isinstance(first, str) else first.decode(errors="replace"))
        socket.close()
        # Once the cluster is gone, so is the WebSocket route.
        await api(jp_fetch, "DELETE", f"clusters/{cluster['id']}")
        stopped = True
        with pytest.raises(Exception) as refused:
            await jp_ws_fetch("dask-hpc", "dashboard", cluster["id"], "status", "ws", subprotocols=["bokeh", token])
        assert getattr(refused.value, "code", None) == 404
    finally:
        if not stopped:
            await api(jp_fetch, "DELETE", f"clusters/{cluster['id']}")


class _Recorded:
    requests: list[dict] = []


class _RecordPage(tornado.web.RequestHandler):
    def get(self, path):
        _Recorded.requests.append({"path": self.request.uri, "headers": dict(self.request.headers)})
        self.write("recorded")


class _RecordSocket(WebSocketHandler):
    def open(self):
        _Recorded.requests.append({"path": self.request.uri, "headers": dict(self.request.headers)})
        self.write_message("hello")


class _ChattySocket(WebSocketHandler):
    """Sends as Bokeh does while a plot updates: a message every few milliseconds."""

    def open(self):
        self.sender = tornado.ioloop.PeriodicCallback(lambda: self.write_message("update" * 10000), 1)
        self.sender.start()

    def on_close(self):
        self.sender.stop()


@pytest.fixture
def recorded_dashboard(dask_hpc, jp_asyncio_loop, tmp_path):
    """A 'scheduler' of this user's (this test's process, recorded as a running cluster in the
    state directory, as `dask-hpc up` records one) that records what reaches its dashboard port."""

    listeners = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = listeners[0].getsockname()[1]
    server = tornado.httpserver.HTTPServer(
        tornado.web.Application([(r"/status/ws", _RecordSocket), (r"/chatty/ws", _ChattySocket), (r"(/.*)", _RecordPage)])
    )
    server.add_sockets(listeners)  # on the loop of the test and the server
    # The whole shape the engine writes: a record of another shape is skipped (cluster-record.ts).
    here = {
        "scheduler_pid": os.getpid(),
        "scheduler_start_time": start_time(os.getpid()),
        "owner_pid": os.getpid(),
        "owner_start_time": start_time(os.getpid()),
        "dashboard_address": f"http://127.0.0.1:{port}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    record = write_record(dask_hpc.state_dir, full_record("feedbeef", tmp_path, name="recorder", **here))
    _Recorded.requests = []
    yield port
    record.unlink()
    server.stop()


@pytest.mark.timeout(60)
async def test_what_reaches_a_dashboard_carries_no_jupyter_credential_http_or_websocket(
    jp_fetch, jp_ws_fetch, jp_serverapp, recorded_dashboard
):
    browser, token = as_the_browser(jp_serverapp), credentials(jp_serverapp)[0]
    page = await jp_fetch("dask-hpc", "dashboard", "feedbeef", "status", headers=browser, params={"token": token, "theme": "dark"})
    assert page.body == b"recorded"
    socket = await jp_ws_fetch("dask-hpc", "dashboard", "feedbeef", "status", "ws", headers=browser, params={"token": token})
    assert await asyncio.wait_for(socket.read_message(), 10) == "hello"
    socket.close()
    assert [r["path"].split("?")[0] for r in _Recorded.requests] == ["/status", "/status/ws"]
    assert "theme=dark" in _Recorded.requests[0]["path"]  # the dashboard's own arguments pass
    assert leaked(_Recorded.requests, credentials(jp_serverapp)) == [], _Recorded.requests
    for request in _Recorded.requests:
        assert not {"Cookie", "Authorization", "X-Xsrftoken", "Referer"} & set(request["headers"])
    # Only reading is relayed: the route leaves XSRF to nobody.
    posted = await jp_fetch("dask-hpc", "dashboard", "feedbeef", "status", method="POST", body=b"", raise_error=False)
    assert posted.code == 405 and len(_Recorded.requests) == 2


@pytest.mark.timeout(60)
async def test_the_dashboard_routes_relay_nothing_without_jupyters_login(http_server_client, jp_base_url, jp_ws_fetch, recorded_dashboard):
    for path in ("dask-hpc/dashboard/feedbeef/status", f"dask-hpc/dashboard/port/{recorded_dashboard}/status"):
        page = await http_server_client.fetch(jp_base_url + path, follow_redirects=False, raise_error=False)
        assert page.code == 302 and "/login" in page.headers["Location"]  # Jupyter's login page
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("dask-hpc", "dashboard", "feedbeef", "status", "ws", headers={"Authorization": ""})
    assert refused.value.code == 403
    assert _Recorded.requests == []


@pytest.mark.parametrize("jp_server_config", [False, True], indirect=True, ids=["default", "allow_proxy_any_port"])
async def test_a_sites_named_proxy_apps_keep_working_and_any_port_comes_back_only_when_allowed(
    jp_fetch, http_server_client, jp_base_url, jp_auth_header, jp_server_config, site_app
):
    allowed = jp_server_config["DaskHpcApp"]["allow_proxy_any_port"]
    named = await jp_fetch("site-app", "hello", raise_error=False)
    assert named.code == 200 and named.body == b"squatter"  # the recorder's answer
    for path in (f"proxy/{site_app.port}/hello", f"proxy/127.0.0.1:{site_app.port}/hello", f"proxy/absolute/{site_app.port}/hello"):
        any_port = await http_server_client.fetch(jp_base_url + path, headers=jp_auth_header, raise_error=False)
        assert (any_port.code, any_port.body == b"squatter") == ((200, True) if allowed else (404, False))


@pytest.mark.timeout(60)
async def test_a_port_held_by_another_process_than_the_clusters_scheduler_is_not_relayed(jp_fetch, dask_hpc, recorded_dashboard):
    # The record names another live process as its scheduler (a record gone wrong): the port's
    # listener is not that process's, so nothing is relayed and the answer says why.
    record = dask_hpc.state_dir / "feedbeef.json"
    other = subprocess.Popen(["sleep", "60"])
    try:
        named = {"scheduler_pid": other.pid, "scheduler_start_time": start_time(other.pid)}
        record.write_text(json.dumps({**json.loads(record.read_text()), **named}))
        page = await jp_fetch("dask-hpc", "dashboard", "feedbeef", "status", raise_error=False)
        assert page.code == 502 and f"port {recorded_dashboard}".encode() in page.body and b"not held by its scheduler" in page.body
        assert _Recorded.requests == []
    finally:
        other.kill()
        other.wait()


@pytest.mark.timeout(180)
async def test_a_cluster_that_dask_hpc_up_started_is_served_through_its_route_until_it_stops(jp_fetch, jp_base_url, dask_hpc):
    # Not the sidecar's: found in this node's records, its scheduler's listener checked the same way.
    cluster = await asyncio.to_thread(dask_hpc.up, "--workload", "cpu", "--max-workers", "1", "--name", "terminal")
    route = ["dask-hpc", "dashboard", cluster["id"], "status"]
    try:
        page = await open_dashboard(jp_fetch, route)
        assert page.code == 200 and b"Bokeh" in page.body
        by_port = await jp_fetch(
            "dask-hpc", "dashboard", "port", str(dashboard_port(cluster)), "status", follow_redirects=False, raise_error=False
        )
        assert by_port.headers["Location"] == f"{jp_base_url}dask-hpc/dashboard/{cluster['id']}/status"
    finally:
        stopped = await asyncio.to_thread(dask_hpc, "down", cluster["id"])
        assert stopped.returncode == 0, stopped.stderr
    assert (await jp_fetch(*route, raise_error=False)).code == 404


@pytest.mark.timeout(60)
async def test_closing_a_dashboard_tab_while_the_dashboard_sends_logs_no_traceback(jp_ws_fetch, recorded_dashboard, caplog):
    """Issue 26: closing a dashboard tab printed a WebSocketClosedError traceback in the server's
    log (jupyter-server-proxy writes the dashboard's next message to the closed browser socket)."""
    for _ in range(20):  # the race is narrow: each round gives it another chance
        socket = await jp_ws_fetch("dask-hpc", "dashboard", "feedbeef", "chatty", "ws")
        assert await asyncio.wait_for(socket.read_message(), 10) is not None
        socket.protocol.stream.close()  # as a tab closes or reloads: the connection goes, no closing handshake
        await asyncio.sleep(0.2)
    noisy = [r for r in caplog.records if r.exc_info or "WebSocketClosedError" in r.getMessage()]
    assert not noisy, [r.getMessage() + repr(r.exc_info) for r in noisy]

"""What the API refuses before it acts, through a whole `jupyter server` process and on the
sidecar's own socket: forged cross-site requests (the login cookie without Jupyter's XSRF
token, a cross-origin WebSocket), bodies that are not JSON, bodies over 64 KiB and JSON
nested too deep. Each refusal is prompt, says what was wrong and changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest
import requests
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from conftest import DaskHpc, jupyter_server, logged_in, processes_mentioning, wait_until_gone
from jupyterlab_dask_hpc.unix_http import _UnixConnection

TOKEN = "guards-token"
TOKEN_AUTH = {"Authorization": f"token {TOKEN}"}
JSON = {"Content-Type": "application/json"}
LIMIT = 64 * 1024
TOO_LARGE = "the request body is over the limit of 65536 bytes (64 KiB)"
DEEP = "[" * 20_000 + "]" * 20_000


class Server:
    def __init__(self, base: str, process, node: DaskHpc):
        self.api = base  # http://127.0.0.1:<port>/dask-hpc/api
        self.root = base[: -len("/dask-hpc/api")]
        self.port = urlparse(base).port
        self.socket = str(Path(node.env["DASK_HPC_RUNTIME_DIR"]) / f"sidecar-{self.port}.sock")
        self.process = process

    def clusters(self) -> list:
        return requests.get(f"{self.api}/clusters", headers=TOKEN_AUTH, timeout=30).json()

    def sidecar(self) -> psutil.Process:
        (sidecar,) = [p for p in psutil.Process(self.process.pid).children(recursive=True) if "serve" in p.cmdline()]
        return sidecar

    def logged_in(self) -> tuple[requests.Session, str]:
        return logged_in(self.root, TOKEN)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("guards")
    node = DaskHpc(root)
    with jupyter_server(node, TOKEN) as (base, process):
        yield Server(base, process, node)
    assert wait_until_gone(processes_mentioning(str(root)), 30) == []


FORGERIES = [
    # (method, path, body, content type): what a page on another site can make a browser send.
    ("POST", "clusters", "", None),  # a no-cors fetch without a body: every default
    ("POST", "clusters", '{"workload": "cpu"}', "text/plain"),  # a no-cors fetch with a body
    ("POST", "clusters", '{"workload": "cpu", "worker_jobs": {"prologue": "x=y"}}', "text/plain"),  # a text/plain form
    ("POST", "job-script", "{}", "application/json"),
    ("PATCH", "clusters/abcdef12", '{"n_workers": 1}', "application/json"),
    ("DELETE", "clusters/abcdef12", None, None),
]


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1:1", "http://localhost"])
@pytest.mark.parametrize(("method", "path", "body", "content_type"), FORGERIES)
def test_the_login_cookie_without_the_xsrf_token_is_refused_as_jupyter_refuses_it(server, origin, method, path, body, content_type):
    session, _ = server.logged_in()
    headers = {**({"Origin": origin} if origin else {}), **({"Content-Type": content_type} if content_type else {})}
    forged = session.request(method, f"{server.api}/{path}", data=body, headers=headers, timeout=30)
    # Jupyter's own API, the same forgery: 403 (404 when the Origin is another site's).
    jupyters = session.request(method, f"{server.root}/api/sessions", data=body, headers=headers, timeout=30)
    assert forged.status_code == jupyters.status_code == (403 if origin is None else 404), (forged.text, jupyters.text)
    assert server.clusters() == []


def test_the_login_cookie_with_the_xsrf_token_is_accepted_as_the_sidebar_sends_it(server):
    session, xsrf = server.logged_in()
    plan = session.post(f"{server.api}/plan", data="{}", headers={"X-XSRFToken": xsrf, **JSON}, timeout=30)
    assert plan.status_code == 200 and plan.json()["n_workers"] >= 1
    # Past the check: the sidecar answers (no such cluster), not Jupyter.
    missing = session.patch(f"{server.api}/clusters/abcdef12", data='{"n_workers": 1}', headers={"X-XSRFToken": xsrf, **JSON}, timeout=30)
    assert missing.status_code == 404 and "abcdef12" in missing.json()["message"]


def test_a_token_needs_no_xsrf_token(server):
    plan = requests.post(f"{server.api}/plan", data="{}", headers={**TOKEN_AUTH, **JSON}, timeout=30)
    assert plan.status_code == 200
    missing = requests.delete(f"{server.api}/clusters/abcdef12", headers=TOKEN_AUTH, timeout=30)
    assert missing.status_code == 404


NOT_JSON = [
    (None, '{"workload": "cpu"}'),  # requests sends no Content-Type for a str body unless told
    ("text/plain", '{"workload": "cpu"}'),
    ("application/x-www-form-urlencoded", "workload=cpu"),
    ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="workload"\r\n\r\ncpu\r\n--x--\r\n'),
    ("application/jsonx", '{"workload": "cpu"}'),
]


@pytest.mark.parametrize(("content_type", "body"), NOT_JSON)
def test_a_body_that_is_not_declared_json_is_415_and_creates_nothing(server, content_type, body):
    headers = {**TOKEN_AUTH, **({"Content-Type": content_type} if content_type else {})}
    refused = requests.post(f"{server.api}/clusters", data=body, headers=headers, timeout=30)
    assert refused.status_code == 415, refused.text
    assert "application/json" in refused.json()["message"]
    assert server.clusters() == []


def test_json_with_a_charset_is_json(server):
    plan = requests.post(
        f"{server.api}/plan", data="{}", headers={**TOKEN_AUTH, "Content-Type": "application/json; charset=utf-8"}, timeout=30
    )
    assert plan.status_code == 200


def ws_request(server: Server, session: requests.Session, origin: str) -> HTTPRequest:
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    url = f"ws://127.0.0.1:{server.port}/dask-hpc/api/events"
    return HTTPRequest(url, headers={"Cookie": cookie, "Origin": origin})


def test_the_events_websocket_refuses_another_origin_with_the_login_cookie(server):
    session, _ = server.logged_in()

    async def connect(origin):
        socket = await websocket_connect(ws_request(server, session, origin))
        socket.close()

    with pytest.raises(HTTPClientError) as refused:
        asyncio.run(connect("http://localhost:1"))
    assert refused.value.code == 403
    asyncio.run(connect(f"http://127.0.0.1:{server.port}"))  # the Lab page's own origin


def chunks(size: int):
    sent = 0
    while sent < size:
        piece = min(65536, size - sent)
        sent += piece
        yield b" " * piece


@pytest.mark.parametrize("size", [LIMIT + 1, 200_000, 10_000_000])
@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_64_kib_is_413_at_once_through_jupyter(server, size, chunked):
    body = chunks(size) if chunked else b" " * size
    started = time.monotonic()
    refused = requests.post(f"{server.api}/clusters", data=body, headers={**TOKEN_AUTH, **JSON}, timeout=30)
    assert refused.status_code == 413, refused.text
    assert refused.json()["message"] == TOO_LARGE
    assert time.monotonic() - started < 10
    assert server.clusters() == []


def test_a_body_of_64_kib_is_read(server):
    body = b'{"workload": "cpu"}'.ljust(LIMIT)
    plan = requests.post(f"{server.api}/plan", data=body, headers={**TOKEN_AUTH, **JSON}, timeout=30)
    assert plan.status_code == 200, plan.text


def sidecar_call(server: Server, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    connection = _UnixConnection(server.socket, timeout=20)
    try:
        connection.request("POST", "/api/clusters", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("size", [200_000, 10_000_000])
def test_a_body_over_64_kib_is_413_at_once_on_the_sidecar_socket_and_holds_nothing(server, size):
    sidecar = server.sidecar()
    open_before = sidecar.num_fds()
    started = time.monotonic()
    status, answer = sidecar_call(server, b" " * size)
    assert (status, answer["message"]) == (413, TOO_LARGE)
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while sidecar.num_fds() > open_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sidecar.num_fds() <= open_before
    assert server.clusters() == []


def test_a_body_that_is_not_json_on_the_sidecar_socket_is_415(server):
    status, answer = sidecar_call(server, b"workload=cpu", content_type="application/x-www-form-urlencoded")
    assert status == 415 and "application/json" in answer["message"]


# 20,000 objects deep would be over 64 KiB: 12,000 are not.
@pytest.mark.parametrize("deep", [DEEP, '{"":' * 12_000 + "1" + "}" * 12_000, '{"workload": "cpu", "name": ' + DEEP + "}"])
def test_json_nested_20000_deep_is_400_not_500(server, deep):
    for path in ["clusters", "plan", "job-script"]:
        refused = requests.post(f"{server.api}/{path}", data=deep, headers={**TOKEN_AUTH, **JSON}, timeout=30)
        assert refused.status_code == 400, (path, refused.status_code, refused.text)
        assert refused.json() == {"message": "the request body is nested deeper than 32 levels", "field": "body"}
    status, answer = sidecar_call(server, deep.encode())
    assert status == 400 and "nested deeper" in answer["message"]
    assert server.clusters() == []

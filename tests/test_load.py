"""Load on loopback through a real Jupyter server: concurrent creates, scales and deletes of
real clusters while many WebSocket subscribers listen and a poller times GET /clusters. Every
request is answered, no cluster is lost or duplicated, every subscriber hears every cluster
start and go, and the sidecar stays responsive with bounded memory."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import psutil
import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from conftest import DaskHpc, jupyter_server, processes_mentioning, wait_until_gone

TOKEN = "load-token"
HEADERS = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
CLUSTERS = 6
SUBSCRIBERS = 50
SAME_NAME_CREATES = 4


async def call(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict | list]:
    request = HTTPRequest(
        f"{base}/{path}", method=method, headers=HEADERS, body=None if body is None else json.dumps(body), request_timeout=300
    )
    response = await AsyncHTTPClient().fetch(request, raise_error=False)
    return response.code, json.loads(response.body) if response.body else {}


async def subscriber(base: str, heard: dict, stop: asyncio.Event):
    """One WebSocket listener: records, per cluster, whether it heard it running and removed."""
    url = base.replace("http://", "ws://") + "/events"
    socket = await websocket_connect(HTTPRequest(url, headers=HEADERS))
    while not stop.is_set():
        try:
            message = await asyncio.wait_for(socket.read_message(), 0.5)
        except asyncio.TimeoutError:
            continue
        if message is None:
            raise AssertionError("a subscriber's WebSocket closed")
        event = json.loads(message)
        if event["type"] == "cluster" and event["cluster"]["status"] == "running":
            heard.setdefault(event["cluster"]["id"], set()).add("running")
        elif event["type"] == "cluster-removed":
            heard.setdefault(event["id"], set()).add("removed")
    socket.close()


async def poller(base: str, latencies: list[float], rss: list[int], sidecar: psutil.Process, stop: asyncio.Event):
    while not stop.is_set():
        started = time.perf_counter()
        code, _ = await call(base, "GET", "clusters")
        latencies.append(time.perf_counter() - started)
        assert code == 200
        rss.append(sidecar.memory_info().rss)
        await asyncio.sleep(0.1)


def sidecar_of(root) -> psutil.Process:
    [sidecar] = [p for p in processes_mentioning(str(root)) if "serve" in p.cmdline() and any("dask-hpc" in a for a in p.cmdline())]
    return sidecar


@pytest.mark.timeout(600)
def test_concurrent_creates_scales_and_deletes_with_many_subscribers(tmp_path):
    node = DaskHpc(tmp_path)
    with jupyter_server(node, TOKEN) as (base, _):
        sidecar = sidecar_of(tmp_path)
        idle_rss = sidecar.memory_info().rss
        figures = asyncio.run(load(base, sidecar))
    assert wait_until_gone(processes_mentioning(str(tmp_path)), 30) == []
    figures["idle_rss_mb"] = idle_rss / 2**20
    print("\nload:", json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))
    assert figures["peak_rss_mb"] < figures["idle_rss_mb"] + 60, "the sidecar's memory must stay bounded"
    assert figures["get_p99_s"] < 2.0, "the sidecar must stay responsive under load"


async def load(base: str, sidecar: psutil.Process) -> dict:
    stop = asyncio.Event()
    heard = [dict() for _ in range(SUBSCRIBERS)]
    listeners = [asyncio.create_task(subscriber(base, heard[i], stop)) for i in range(SUBSCRIBERS)]
    latencies: list[float] = []
    rss: list[int] = []
    watch = asyncio.create_task(poller(base, latencies, rss, sidecar, stop))
    await asyncio.sleep(1)  # every subscriber connected
    started = time.perf_counter()

    # Many clusters on one small node: each shares it knowingly (overcommit), or the node would be full.
    # The same name asked for at once: exactly one cluster gets it.
    same = await asyncio.gather(
        *[
            call(base, "POST", "clusters", {"workload": "cpu", "max_workers": 1, "name": "twin", "overcommit": True})
            for _ in range(SAME_NAME_CREATES)
        ]
    )
    assert sorted(code for code, _ in same) == [201] + [400] * (SAME_NAME_CREATES - 1), same
    # Many at once, each answered once running.
    created = await asyncio.gather(
        *[call(base, "POST", "clusters?wait=ready", {"workload": "cpu", "max_workers": 1, "overcommit": True}) for _ in range(CLUSTERS - 1)]
    )
    assert all(code == 201 and body["status"] == "running" for code, body in created), created
    ids = {body["id"] for _, body in created} | {body["id"] for code, body in same if code == 201}
    assert len(ids) == CLUSTERS
    await wait_until_running(base, ids)

    # Scale every cluster up (knowingly past the node, as they were launched), then down, all at once.
    for size in (2, 1):
        scaled = await asyncio.gather(*[call(base, "PATCH", f"clusters/{cid}", {"n_workers": size, "overcommit": True}) for cid in ids])
        assert all(code == 200 and len(body["workers"]) == size for code, body in scaled), scaled
    listed = (await call(base, "GET", "clusters"))[1]
    assert sorted(c["id"] for c in listed) == sorted(ids), "no cluster lost or duplicated"

    deleted = await asyncio.gather(*[call(base, "DELETE", f"clusters/{cid}") for cid in ids])
    assert all(code == 200 and body["status"] == "stopped" for code, body in deleted), deleted
    elapsed = time.perf_counter() - started
    assert (await call(base, "GET", "clusters"))[1] == []

    await asyncio.sleep(1)  # the last removal events reach every subscriber
    stop.set()
    await asyncio.gather(*listeners, watch)
    for listener in heard:
        assert {cid: listener.get(cid) for cid in ids} == {cid: {"running", "removed"} for cid in ids}
    return {
        "clusters": CLUSTERS,
        "subscribers": SUBSCRIBERS,
        "requests": SAME_NAME_CREATES + (CLUSTERS - 1) + 2 * CLUSTERS + CLUSTERS + len(latencies),
        "seconds": elapsed,
        "get_p50_s": statistics.median(latencies),
        "get_p99_s": sorted(latencies)[int(0.99 * (len(latencies) - 1))],
        "peak_rss_mb": max(rss) / 2**20,
    }


async def wait_until_running(base: str, ids: set[str]):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = (await call(base, "GET", "clusters"))[1]
        if all(c["status"] == "running" for c in listed if c["id"] in ids):
            return
        await asyncio.sleep(0.5)
    raise AssertionError("clusters did not all run")

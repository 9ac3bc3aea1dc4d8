"""The server extension in a real Jupyter server (pytest-jupyter), with the real sidecar and real Dask."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time

import psutil
import pytest
from tornado.httpclient import HTTPClientError

from conftest import process_tree, wait_until_gone

pytest_plugins = ["pytest_jupyter.jupyter_server"]

ROUTES = [
    ("GET", "resources", None),
    ("POST", "plan", "{}"),
    ("GET", "clusters", None),
    ("POST", "clusters", '{"workload": "cpu"}'),
    ("GET", "clusters/abcdef12", None),
    ("PATCH", "clusters/abcdef12", '{"n_workers": 1}'),
    ("DELETE", "clusters/abcdef12", None),
]


@pytest.fixture(autouse=True)
def jp_server_cleanup(jp_asyncio_loop, dask_hpc):
    """pytest-jupyter's cleanup, made to run before dask_hpc's check that nothing is left."""
    from jupyter_server.serverapp import ServerApp

    yield
    app = ServerApp.instance()
    jp_asyncio_loop.run_until_complete(app._cleanup())
    ServerApp.clear_instance()


@pytest.fixture
def jp_server_config(dask_hpc, monkeypatch):
    return server_config(dask_hpc, monkeypatch)


def server_config(dask_hpc, monkeypatch) -> dict:
    # The server and the sidecar it starts live in the fake PBS job of the dask_hpc fixture.
    for key, value in dask_hpc.env.items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith(("PBS_", "SLURM_")) and k not in dask_hpc.env]:
        monkeypatch.delenv(key)
    # Registered here so that what the extension sets in os.environ is undone after the test.
    monkeypatch.setenv("DASK_HPC_SIDECAR_SOCKET", "")
    monkeypatch.setenv("DASK_HPC_BASE_URL", "")
    monkeypatch.setenv("DASK_DISTRIBUTED__DASHBOARD__LINK", "")
    monkeypatch.delenv("DASK_DISTRIBUTED__DASHBOARD__LINK")
    return {
        "ServerApp": {"jpserver_extensions": {"jupyterlab_dask_hpc": True, "jupyter_server_proxy": True}},
        "DaskHpcApp": {"python": dask_hpc.python},
    }


JSON = {"Content-Type": "application/json"}  # the API takes no other body (tornado's client would say a form)


async def api(jp_fetch, method, path, body=None, **kwargs):
    response = await jp_fetch("dask-hpc", "api", *path.split("/"), method=method, body=body, headers=dict(JSON), **kwargs)
    return json.loads(response.body)


def sidecar_process() -> psutil.Process:
    candidates = [
        p for p in psutil.Process().children(recursive=True) if "serve" in p.cmdline() and any("dask-hpc" in a for a in p.cmdline())
    ]
    assert len(candidates) == 1, [p.cmdline() for p in candidates]
    return candidates[0]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_refuses_without_authentication(jp_fetch, method, path, body):
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("dask-hpc", "api", *path.split("/"), method=method, body=body, headers={"Authorization": ""}, follow_redirects=False)
    assert refused.value.code == 403


async def test_the_events_websocket_refuses_without_authentication(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("dask-hpc", "api", "events", headers={"Authorization": ""})
    assert refused.value.code == 403


async def test_resources_and_plan_are_the_engines(jp_fetch, dask_hpc):
    resources = await api(jp_fetch, "GET", "resources")
    assert (resources["batch_system"], resources["cores"], resources["jobfs"]) == ("pbs", 2, str(dask_hpc.jobfs))
    # The jobfs bar: its whole size and what is free, read again at each call (the sidebar polls it).
    assert resources["jobfs_size_bytes"] >= resources["jobfs_free_bytes"] > 0
    # The form greys out runner mode with this reason before anyone presses Launch.
    if shutil.which("pbsdsh") is None:
        assert resources["runner_unavailable"] == "pbsdsh is not on PATH: workers cannot be started on this job's nodes"
    plan = await api(jp_fetch, "POST", "plan", json.dumps({"workload": "cpu", "reserve_mem_gb": 2}))
    assert (plan["n_workers"], plan["memory_limit_bytes"]) == (2, 2 * 2**30)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"workload": "gpu"}', "workload"),
        ('{"max_workers": -3}', "max_workers"),
        ('{"reserve_mem_gb": 500}', "reserve_mem_gb"),
        ('{"name": "../../etc"}', "name"),
        ('{"colour": "red"}', "colour"),
        ("not json", "body"),
    ],
)
async def test_bad_input_is_400_naming_the_field_and_creates_nothing(jp_fetch, dask_hpc, body, field):
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("dask-hpc", "api", "clusters", method="POST", body=body, headers=dict(JSON))
    assert refused.value.code == 400
    answer = json.loads(refused.value.response.body)
    assert answer["field"] == field and field in answer["message"] or field == "body"
    assert await api(jp_fetch, "GET", "clusters") == []
    assert not dask_hpc.local_root.exists()


async def test_create_list_scale_connect_dashboard_delete(jp_fetch, jp_base_url, dask_hpc):
    from jupyterlab_dask_hpc import connect

    cluster = await api(jp_fetch, "POST", "clusters", json.dumps({"workload": "cpu", "name": "lab"}), params={"wait": "ready"})
    assert cluster["status"] == "running" and len(cluster["workers"]) == 2
    assert cluster["dashboard_url"] == f"{jp_base_url}dask-hpc/dashboard/{cluster['id']}/status"
    assert cluster["tunnel_command"].startswith("ssh -N -L 8787:127.0.0.1:")
    assert [c["id"] for c in await api(jp_fetch, "GET", "clusters")] == [cluster["id"]]
    tree = process_tree(cluster["scheduler_pid"]) + [p for w in cluster["workers"] for p in process_tree(w["pid"])]

    def workers_seen_by_a_kernel():
        with connect("lab") as client:
            return len(client.scheduler_info()["workers"]), client.submit(lambda: 40 + 2).result()

    assert await asyncio.to_thread(workers_seen_by_a_kernel) == (2, 42)

    metrics = await api(jp_fetch, "GET", f"clusters/{cluster['id']}/metrics")
    assert metrics["n_workers"] == 2 and metrics["memory_limit_bytes"] == 2 * cluster["plan"]["memory_limit_bytes"]
    assert 0 < metrics["memory_bytes"] < metrics["memory_limit_bytes"]

    # A third worker does not fit the 2-core job: refused as launch would be, and nothing changes.
    with pytest.raises(HTTPClientError) as refused:
        await api(jp_fetch, "PATCH", f"clusters/{cluster['id']}", json.dumps({"n_workers": 3}))
    assert refused.value.code == 400
    answer = json.loads(refused.value.response.body)
    assert answer["field"] == "overcommit"
    assert answer["message"].startswith("n_workers=3 needs 3 cores (1 per worker) of the 2 left, and ")
    assert "this job has 2 cores and " in answer["message"] and "Ask for at most 2 workers" in answer["message"]
    assert len((await api(jp_fetch, "GET", f"clusters/{cluster['id']}"))["workers"]) == 2
    assert (await asyncio.to_thread(workers_seen_by_a_kernel))[0] == 2
    # Saying overcommit shares the job knowingly, as at launch.
    scaled = await api(jp_fetch, "PATCH", f"clusters/{cluster['id']}", json.dumps({"n_workers": 3, "overcommit": True}))
    assert len(scaled["workers"]) == 3
    assert (await asyncio.to_thread(workers_seen_by_a_kernel))[0] == 3

    # A kernel started by this server inherits its environment: its client links the cluster's route.
    kernel = subprocess.run(
        [dask_hpc.python, "-c", "from jupyterlab_dask_hpc import connect; print(connect('lab').dashboard_link)"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert kernel.stdout.strip() == cluster["dashboard_url"], kernel.stderr

    # The dashboard through the cluster's route, under the server's base URL.
    page = await jp_fetch(*cluster["dashboard_url"][len(jp_base_url) :].split("/"))
    assert page.code == 200 and b"Dask" in page.body

    stopped = await api(jp_fetch, "DELETE", f"clusters/{cluster['id']}")
    assert stopped["status"] == "stopped"
    assert await api(jp_fetch, "GET", "clusters") == []
    assert wait_until_gone(tree, 10) == []


async def test_events_arrive_over_the_websocket(jp_fetch, jp_ws_fetch):
    socket = await jp_ws_fetch("dask-hpc", "api", "events")
    created = await api(jp_fetch, "POST", "clusters", json.dumps({"workload": "cpu", "max_workers": 1}))
    statuses = []
    deadline = time.monotonic() + 60
    while "running" not in statuses and time.monotonic() < deadline:
        event = json.loads(await asyncio.wait_for(socket.read_message(), 60))
        if event["type"] == "cluster" and event["cluster"]["id"] == created["id"]:
            statuses.append(event["cluster"]["status"])
    assert statuses[0] == "starting" and "running" in statuses
    await api(jp_fetch, "DELETE", f"clusters/{created['id']}")
    removed = []
    while not removed:
        event = json.loads(await asyncio.wait_for(socket.read_message(), 30))
        if event["type"] == "cluster-removed":
            removed.append(event["id"])
    assert removed == [created["id"]]
    socket.close()


@pytest.mark.timeout(120)
async def test_a_killed_sidecar_is_restarted_and_adopts_its_clusters(jp_fetch):
    cluster = await api(jp_fetch, "POST", "clusters", json.dumps({"workload": "cpu"}), params={"wait": "ready"})
    old_sidecar = sidecar_process()
    old_sidecar.send_signal(signal.SIGKILL)
    # Past the adoption grace (10 s), an orphan would have closed: the cluster must still run.
    await asyncio.sleep(13)
    new_sidecar = sidecar_process()
    assert new_sidecar.pid != old_sidecar.pid
    clusters = await api(jp_fetch, "GET", "clusters")
    assert [c["id"] for c in clusters] == [cluster["id"]]
    assert clusters[0]["status"] == "running" and clusters[0]["owner_pid"] == new_sidecar.pid
    assert psutil.pid_exists(cluster["scheduler_pid"])
    scaled = await api(jp_fetch, "PATCH", f"clusters/{cluster['id']}", json.dumps({"n_workers": 1}))
    assert len(scaled["workers"]) == 1
    tree = [psutil.Process(cluster["scheduler_pid"])] + [psutil.Process(w["pid"]) for w in scaled["workers"]]
    await api(jp_fetch, "DELETE", f"clusters/{cluster['id']}")
    assert wait_until_gone(tree, 10) == []


@pytest.mark.timeout(120)
async def test_a_cluster_whose_sidecar_is_killed_while_it_starts_ends_as_failed_with_the_reason(jp_fetch, jp_ws_fetch):
    created = await api(jp_fetch, "POST", "clusters", json.dumps({"workload": "cpu", "max_workers": 1}))
    assert created["status"] == "starting"
    old_sidecar = sidecar_process()
    old_sidecar.send_signal(signal.SIGKILL)
    started = [psutil.Process(pid) for pid in {created["scheduler_pid"], *(w["pid"] for w in created["workers"])} if psutil.pid_exists(pid)]

    deadline = time.monotonic() + 60
    clusters = []
    while time.monotonic() < deadline:
        try:
            clusters = await api(jp_fetch, "GET", "clusters")
            if clusters and clusters[0]["status"] != "starting":
                break
        except HTTPClientError:
            pass  # the new sidecar is not there yet
        await asyncio.sleep(0.5)
    assert [c["id"] for c in clusters] == [created["id"]], "the cluster must not vanish"
    assert clusters[0]["status"] == "failed"
    assert "ended before the cluster was ready" in clusters[0]["error"]
    # A subscriber (the sidebar reconnects after the restart) is told so.
    socket = await jp_ws_fetch("dask-hpc", "api", "events")
    event = json.loads(await asyncio.wait_for(socket.read_message(), 30))
    assert event["type"] == "cluster" and event["cluster"]["id"] == created["id"] and event["cluster"]["status"] == "failed"
    socket.close()
    assert wait_until_gone(started, 20) == [], "what it had started is ended"
    assert not os.path.exists(created["local_directory"])
    await api(jp_fetch, "DELETE", f"clusters/{created['id']}")
    assert await api(jp_fetch, "GET", "clusters") == []


async def test_setup_dask_client_inside_jupyter_goes_through_the_sidecar(jp_fetch):
    from jupyterlab_dask_hpc import setup_dask_client

    def notebook():
        client, cluster, local_dir = setup_dask_client("cpu", max_workers=2, name="seed000")
        try:
            return len(client.scheduler_info()["workers"]), local_dir, cluster.id
        finally:
            client.close()

    workers, local_dir, cluster_id = await asyncio.to_thread(notebook)
    assert workers == 2
    listed = await api(jp_fetch, "GET", "clusters")
    assert [(c["id"], c["name"], c["local_directory"]) for c in listed] == [(cluster_id, "seed000", local_dir)]
    await api(jp_fetch, "DELETE", f"clusters/{cluster_id}")


async def test_close_inside_jupyter_answers_once_the_stop_is_committed(jp_fetch):
    """The worker ignores SIGTERM, so its end waits for the engine's SIGKILL 5 s later: close()
    has answered long before, with the cluster stopping and its directory already cleared, and
    the sidecar finishes the stop on its own."""
    from jupyterlab_dask_hpc import setup_dask_client

    def notebook():
        client, cluster, local_dir = setup_dask_client("cpu", max_workers=1, name="quick-close")
        client.run(lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN) and None, nanny=True)
        client.close()
        cluster.close()
        return cluster.state, local_dir, os.path.exists(local_dir)

    state, local_dir, directory_left = await asyncio.to_thread(notebook)
    assert state["status"] == "stopping"
    assert not directory_left
    deadline = time.monotonic() + 30
    while await api(jp_fetch, "GET", "clusters"):
        assert time.monotonic() < deadline, "the sidecar did not finish the stop within 30 s"
        await asyncio.sleep(0.2)
    assert sidecar_process().children(recursive=True) == []

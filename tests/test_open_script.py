"""scripts/open.sh: notebooks outside the checkout, and no rebuild when nothing changed."""

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def open_sh(notebooks: Path) -> tuple[subprocess.CompletedProcess, float]:
    # --show-config: Jupyter prints the configuration it would serve with, then exits.
    env = {**os.environ, "DASK_HPC_NOTEBOOKS": str(notebooks)}
    started = time.monotonic()
    done = subprocess.run(["bash", "scripts/open.sh", "--show-config"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return done, time.monotonic() - started


def test_open_serves_notebooks_from_their_own_folder_and_skips_a_current_build(tmp_path):
    notebooks = tmp_path / "my notebooks"
    first, _ = open_sh(notebooks)  # builds if the checkout changed since the last build
    assert first.returncode == 0, first.stderr[-2000:]
    second, seconds = open_sh(notebooks)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "not rebuilding" in second.stderr
    assert "npm" not in second.stdout + second.stderr  # setup.sh did not run
    assert seconds < 60
    assert f".root_dir = '{notebooks}'" in second.stdout
    assert notebooks.is_dir()


def test_the_default_notebooks_folder_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", "notebooks/analysis.ipynb"], cwd=REPO)
    assert ignored.returncode == 0
    assert "$PWD/notebooks" in (REPO / "scripts/open.sh").read_text()

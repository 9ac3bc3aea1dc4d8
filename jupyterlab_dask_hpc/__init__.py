"""jupyterlab-dask-hpc: Dask clusters that fit the HPC node JupyterLab runs on.

- The Jupyter server extension (`app.DaskHpcApp`) supervises the `dask-hpc` sidecar and
  relays `{base_url}dask-hpc/api/` to it.
- The kernel API: `connect()` and `setup_dask_client()` (seed 000's signature).
"""
from ._version import __version__  # written by the build (hatch)
from .kernel_api import HpcCluster, connect, setup_dask_client

__all__ = ["HpcCluster", "__version__", "connect", "setup_dask_client"]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-dask-hpc"}]


def _jupyter_server_extension_points():
    from .app import DaskHpcApp

    return [{"module": "jupyterlab_dask_hpc", "app": DaskHpcApp}]

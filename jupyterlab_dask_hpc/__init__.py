"""jupyterlab-dask-hpc: Dask clusters that fit the HPC node JupyterLab runs on.

- The Jupyter server extension (`app.DaskHpcApp`) supervises the `dask-hpc` sidecar and
  relays `{base_url}dask-hpc/api/` to it.
- The kernel API: `connect()` and `setup_dask_client()` (seed 000's signature), raising the
  `DaskHpcError` family (errors.py).
"""

from ._version import __version__  # written by the build (hatch)
from .errors import ConfigurationError, DaskHpcError, InsufficientResourcesError, InvalidConfigurationError
from .kernel_api import connect

__all__ = [
    "ConfigurationError",
    "DaskHpcError",
    "HpcCluster",
    "InsufficientResourcesError",
    "InvalidConfigurationError",
    "__version__",
    "connect",
    "setup_dask_client",
]


def __getattr__(name):
    # setup_dask_client and HpcCluster need distributed: imported on first use, not by the server extension.
    if name in ("HpcCluster", "setup_dask_client"):
        from . import kernel_api

        return getattr(kernel_api, name)
    raise AttributeError(name)


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-dask-hpc"}]


def _jupyter_server_extension_points():
    from .app import DaskHpcApp

    return [{"module": "jupyterlab_dask_hpc", "app": DaskHpcApp}]

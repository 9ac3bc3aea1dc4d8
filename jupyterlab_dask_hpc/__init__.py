"""jupyterlab-dask-hpc: Dask clusters that fit the HPC node JupyterLab runs on.

The engine is the `dask-hpc` Node program (src/sidecar). This package will hold the Jupyter
server extension that supervises it and the kernel API (`connect`, `setup_dask_client`);
until then it only declares the extension points, so `pip install .` makes a valid package.
"""

from ._version import __version__  # written by the build (hatch)


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-dask-hpc"}]


def _jupyter_server_extension_points():
    return [{"module": "jupyterlab_dask_hpc"}]


def _load_jupyter_server_extension(server_app):
    """The server extension arrives with the server-extension issue; for now it says so."""
    server_app.log.info("jupyterlab_dask_hpc: server extension not implemented yet")

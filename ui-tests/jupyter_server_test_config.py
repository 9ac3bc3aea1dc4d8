"""The Jupyter server of the UI tests: Galata's test settings (no token, the app exposed to the page)."""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.port = int(os.environ.get("UI_TESTS_PORT", "8899"))  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821  (CI machines run as root)

"""What setup_dask_client changes in the calling process, and puts back when its cluster closes.

Seed 000: the client's own temporary files go to the job filesystem too, through `TMPDIR`,
`DASK_TEMPORARY_DIRECTORY` and Dask's `temporary-directory` (and `distributed.worker.local-directory`
for workers this process might start itself).
"""

from __future__ import annotations

import os
import tempfile

import dask

_VARIABLES = ("TMPDIR", "DASK_TEMPORARY_DIRECTORY")
_CONFIG_KEYS = ("temporary-directory", "distributed.worker.local-directory")
_UNSET = object()


class TemporaryFilesHere:
    """Points this process's temporary files at `directory`; `restore()` undoes what is still ours."""

    def __init__(self, directory: str):
        self.directory = directory
        self.previous_variables = {name: os.environ.get(name) for name in _VARIABLES}
        self.previous_config = {key: dask.config.get(key, default=_UNSET) for key in _CONFIG_KEYS}
        self.previous_tempdir = tempfile.tempdir
        for name in _VARIABLES:
            os.environ[name] = directory
        dask.config.set({key: directory for key in _CONFIG_KEYS})
        tempfile.tempdir = None  # tempfile.gettempdir() reads TMPDIR again

    def restore(self) -> None:
        """Puts back each setting this changed, unless something else has changed it since."""
        for name, value in self.previous_variables.items():
            if os.environ.get(name) != self.directory:
                continue
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for key, value in self.previous_config.items():
            if dask.config.get(key, default=None) != self.directory:
                continue
            if value is _UNSET:
                _unset(key)
            else:
                dask.config.set({key: value})
        if tempfile.tempdir in (None, self.directory):
            tempfile.tempdir = self.previous_tempdir


def _unset(key: str) -> None:
    *parents, leaf = key.split(".")
    node = dask.config.config
    for parent in parents:
        node = node.get(parent, {})
    node.pop(leaf, None)

"""The errors of the kernel API: one family, named for Python users.

Code written for dask-setup caught its `InsufficientResourcesError` and
`InvalidConfigurationError`; the same names are here, under `DaskHpcError`.
"""

from __future__ import annotations

import re


class DaskHpcError(RuntimeError):
    """The engine refused or failed: the message is its own, meant for a user."""


class ConfigurationError(DaskHpcError, ValueError):
    """An argument is wrong; nothing was started."""


class InsufficientResourcesError(ConfigurationError):
    """The arguments ask for more than this node or job has; nothing was started."""


# dask-setup's name for the same thing: code that caught it changes only its import.
InvalidConfigurationError = ConfigurationError

# The engine's words for its request fields and `dask-hpc` flags, as the Python parameters.
_PYTHON_NAMES = {
    "workload": "workload_type",
    "max_workers": "max_workers",
    "reserve_mem_gb": "reserve_mem_gb",
    "max_mem_gb": "max_mem_gb",
    "name": "name",
}
_FLAG = re.compile(r"--(workload|max-workers|reserve-mem-gb|max-mem-gb|name)\b")
_FIELD = re.compile(r"\b(workload|max_workers|reserve_mem_gb|max_mem_gb)\b")
_NO_ROOM = re.compile(r"leaves no memory|a Dask worker needs|nodes; this job has|has \S+ free")


def in_python_terms(message: str) -> str:
    """An engine message with its flags and fields named as setup_dask_client's parameters."""
    message = _FLAG.sub(lambda m: _PYTHON_NAMES[m.group(1).replace("-", "_")], message)
    return _FIELD.sub(lambda m: _PYTHON_NAMES[m.group(1)], message)


def refusal(message: str) -> ConfigurationError:
    """The error for a request the engine refused before starting anything."""
    message = in_python_terms(message)
    kind = InsufficientResourcesError if _NO_ROOM.search(message) else ConfigurationError
    return kind(message)

"""setup_dask_client's arguments, all checked before anything starts (seed 000, dask-setup 2.3.0)."""

from __future__ import annotations

import numbers
import warnings

from .errors import ConfigurationError

WORKLOADS = ("cpu", "io", "mixed")

# dask-setup's built-in profiles, field for field; explicit arguments win over them.
PROFILES = {
    "climate_analysis": {"workload_type": "cpu", "reserve_mem_gb": 60.0, "adaptive": False, "dashboard": True},
    "zarr_io_heavy": {"workload_type": "io", "reserve_mem_gb": 40.0, "adaptive": False, "dashboard": True},
    "development": {"workload_type": "mixed", "max_workers": 2, "reserve_mem_gb": 8.0, "adaptive": False, "dashboard": True},
    "production": {"workload_type": "mixed", "reserve_mem_gb": 80.0, "adaptive": True, "min_workers": 4, "dashboard": False},
    "interactive": {"workload_type": "mixed", "max_workers": 4, "reserve_mem_gb": 20.0, "adaptive": False, "dashboard": True},
}

# dask-setup parameters with no meaning here: the value that changes nothing, and what to use instead.
UNSUPPORTED = {
    "config": (
        None,
        "pass the DaskSetupConfig's fields as arguments (workload_type, max_workers, reserve_mem_gb, "
        "max_mem_gb, dashboard, adaptive, min_workers) or a profile",
    ),
    "fallback_on_detection_failure": (
        False,
        "dask-hpc reads the job's cores and memory from PBS or Slurm, the cgroup "
        "and the node and never guesses; give max_mem_gb or max_workers to use less",
    ),
    "adaptive_memory": (False, "the plan sets the spill thresholds (dask-hpc up --memory-target/--memory-spill for others)"),
    "multi_node_config": (
        None,
        "for workers on other nodes start the cluster with `dask-hpc up --system pbs|slurm "
        "--job-cores N --job-mem-gb X` (or the sidebar's worker jobs) and use connect()",
    ),
}
MODES_HERE = ("interactive", "local")


def _whole(name: str, value, minimum: int):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigurationError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return int(value)


def _gib(name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value or value < 0:
        raise ConfigurationError(f"{name} must be a number of GiB, 0 or more, not {value!r}")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {value!r}")
    return value


def _refuse_unsupported(extra: dict) -> None:
    for name, value in extra.items():
        if name == "mode":
            if value not in MODES_HERE:
                raise ConfigurationError(
                    f"mode={value!r} is not taken: the cluster runs on this node (mode 'interactive' or 'local'); "
                    + UNSUPPORTED["multi_node_config"][1]
                )
            continue
        harmless, instead = UNSUPPORTED[name]
        if value != harmless:
            raise ConfigurationError(f"{name}={value!r} is not taken here: {instead}")


def checked(arguments: dict, extra: dict) -> dict:
    """The arguments with the profile's values filled in, every one checked; raises
    ConfigurationError naming the parameter at fault, before anything has started."""
    _refuse_unsupported(extra)
    profile = arguments.pop("profile")
    if profile is not None:
        if profile not in PROFILES:
            raise ConfigurationError(
                f"profile={profile!r} is not one of the built-in profiles ({', '.join(PROFILES)}); "
                "profiles of your own are not read: pass their fields as arguments"
            )
        for key, value in PROFILES[profile].items():
            if arguments.get(key) is None:
                arguments[key] = value
    workload = "io" if arguments["workload_type"] is None else arguments["workload_type"]
    if workload == "gpu":
        raise ConfigurationError("workload_type='gpu': GPU nodes are not supported yet; use 'cpu', 'io' or 'mixed' on this node's cores")
    if workload not in WORKLOADS:
        raise ConfigurationError(f"workload_type must be one of {', '.join(map(repr, WORKLOADS))}, not {workload!r}")
    checked_arguments = {
        "workload_type": workload,
        "max_workers": _whole("max_workers", arguments["max_workers"], 1),
        "min_workers": _whole("min_workers", arguments["min_workers"], 0),
        "reserve_mem_gb": _gib("reserve_mem_gb", arguments["reserve_mem_gb"]),
        "max_mem_gb": _gib("max_mem_gb", arguments["max_mem_gb"]),
        "dashboard": _flag("dashboard", True if arguments["dashboard"] is None else arguments["dashboard"]),
        "adaptive": _flag("adaptive", False if arguments["adaptive"] is None else arguments["adaptive"]),
        "suggest_chunks": _flag("suggest_chunks", bool(arguments["suggest_chunks"])),
        "detached": _flag("detached", arguments["detached"]),
        "name": arguments["name"],
        "ds": arguments["ds"],
    }
    if arguments["name"] is not None and not isinstance(arguments["name"], str):
        raise ConfigurationError(f"name must be a string, not {arguments['name']!r}")
    if checked_arguments["max_mem_gb"] == 0:
        raise ConfigurationError("max_mem_gb=0 leaves no memory for workers; give the GiB Dask may use, or None for all")
    if checked_arguments["reserve_mem_gb"] == 0:
        raise ConfigurationError(
            "reserve_mem_gb=0 gives every byte of the job to workers, and the job is killed when they fill it; "
            "give the GiB to keep for the system (at least 1), or None for the default (1 GiB + 10%, at most 50 GiB)"
        )
    if checked_arguments["reserve_mem_gb"] is not None and checked_arguments["reserve_mem_gb"] < 1:
        warnings.warn(
            f"reserve_mem_gb={checked_arguments['reserve_mem_gb']} leaves the system less than 1 GiB of this job's memory",
            stacklevel=3,
        )
    minimum, maximum = checked_arguments["min_workers"], checked_arguments["max_workers"]
    if minimum is not None and not checked_arguments["adaptive"]:
        raise ConfigurationError(f"min_workers={minimum} applies with adaptive=True only; add adaptive=True or drop min_workers")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ConfigurationError(f"min_workers={minimum} is above max_workers={maximum}")
    return checked_arguments

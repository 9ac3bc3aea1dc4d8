"""What the dask-hpc owner asks its scheduler, answered on the scheduler's event loop.

Asked over the lifeline socket (lifeline.py), which only the user can open: the scheduler
serves no HTTP route that changes anything, so no other user of the node can retire workers.
Each answer is plain JSON (names as strings), whatever keys the user's tasks have.
"""

from __future__ import annotations


def _workers(scheduler) -> list[dict]:
    return [{"name": str(ws.name), "address": ws.address} for ws in scheduler.workers.values()]


def _metrics(scheduler) -> dict:
    """The workers' memory, spill and CPU, summed, as the scheduler heard them last heartbeat."""
    totals = {"n_workers": 0, "memory_bytes": 0, "memory_limit_bytes": 0, "spilled_bytes": 0, "cpu_percent": 0.0}
    for ws in scheduler.workers.values():
        metrics = ws.metrics or {}
        totals["n_workers"] += 1
        totals["memory_bytes"] += int(metrics.get("memory") or 0)
        totals["memory_limit_bytes"] += int(ws.memory_limit or 0)
        totals["spilled_bytes"] += int((metrics.get("spilled_bytes") or {}).get("disk") or 0)
        totals["cpu_percent"] += float(metrics.get("cpu") or 0)
    return totals


async def answer(scheduler, request: dict):
    """The answer to one request {"op": ..., ...}; raises ValueError for an unknown one."""
    op = request.get("op")
    if op == "workers":
        return _workers(scheduler)
    if op == "metrics":
        return _metrics(scheduler)
    if op == "adaptive_target":
        return scheduler.adaptive_target()
    if op == "retire_workers":
        # Their data moves to the others first; the nannies then close them.
        retired = await scheduler.retire_workers(workers=[str(a) for a in request.get("workers", [])])
        return sorted(retired)
    raise ValueError(f"unknown request {op!r}")

"""Chunk sizes for a dataset on a planned cluster (setup_dask_client's suggest_chunks and ds).

The plan says how many bytes a chunk should have on this cluster (`recommended_chunk_bytes`:
a share of each thread's memory, 256-512 MiB where there is room); this finds, for a dataset's
largest variable, the chunk lengths of about that size, halving the longest dimension first.
"""

from __future__ import annotations


def _largest_variable(ds):
    """The dataset's (or DataArray's) largest variable: its dimension names, sizes and item size."""
    variables = list(ds.data_vars.values()) if hasattr(ds, "data_vars") else [ds]
    if not variables:
        raise ValueError("the dataset has no data variables to chunk")
    largest = max(variables, key=lambda v: v.size * v.dtype.itemsize)
    return dict(zip(largest.dims, largest.shape, strict=True)), largest.dtype.itemsize


def recommend_chunks(ds, target_bytes: int) -> dict[str, int]:
    """{dimension: chunk length} for `ds.chunk(...)`, each chunk of the largest variable at most
    about `target_bytes` (one element, if a single element is larger)."""
    sizes, itemsize = _largest_variable(ds)
    chunks = dict(sizes)

    def chunk_bytes() -> int:
        total = itemsize
        for length in chunks.values():
            total *= length
        return total

    while chunk_bytes() > target_bytes and any(length > 1 for length in chunks.values()):
        longest = max(chunks, key=chunks.get)
        chunks[longest] = (chunks[longest] + 1) // 2
    return chunks


def describe(chunks: dict[str, int] | None, target_bytes: int) -> str:
    from dask.utils import format_bytes

    advice = f"Chunks: about {format_bytes(target_bytes)} each suits this cluster's workers"
    if chunks:
        advice += f"; for this dataset: ds.chunk({chunks})"
    return advice

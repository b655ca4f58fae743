"""CSR transpose on every core.

scipy's ``csr.T.tocsr()`` runs on one thread: at 25M interactions it took
0.58 s of a 4 s three-iteration fit. Here each thread counts, then scatters,
a contiguous block of rows; block b's cells go after block b - 1's in every
output row, so the result is exactly scipy's (rows in order, indices sorted).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

PARALLEL_MIN_NNZ = 1 << 20  # below this scipy is as fast, and no kernel has to load


@njit(parallel=True, cache=True)
def _count_columns(indptr, indices, bounds, counts):
    for part in prange(len(bounds) - 1):
        counts_of_part = counts[part]
        for cell in range(indptr[bounds[part]], indptr[bounds[part + 1]]):
            counts_of_part[indices[cell]] += 1


@njit(parallel=True, cache=True)
def _scatter(indptr, indices, data, bounds, next_slots, out_indices, out_data):
    for part in prange(len(bounds) - 1):
        slots = next_slots[part]
        for row in range(bounds[part], bounds[part + 1]):
            for cell in range(indptr[row], indptr[row + 1]):
                column = indices[cell]
                slot = slots[column]
                out_indices[slot] = row
                out_data[slot] = data[cell]
                slots[column] = slot + 1


def transpose_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    n_cols: int,
    n_parts: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR arrays of the transpose of an ``(n_rows, n_cols)`` CSR matrix.

    Parameters
    ----------
    indptr, indices, data
        The matrix's CSR arrays (``indices`` need not be sorted within a row).
    n_cols
        Columns of the matrix: rows of the result.
    n_parts
        Blocks of rows counted and scattered in parallel; numba's thread count
        by default. Fewer are used where the per-block counts would outgrow
        the data.

    Returns
    -------
    tuple of numpy.ndarray
        ``(indptr, indices, data)`` of the transpose, in the input's dtypes,
        with sorted indices in every row.
    """
    n_rows = len(indptr) - 1
    nnz = int(indptr[-1])
    n_parts = get_num_threads() if n_parts is None else n_parts
    n_parts = max(1, min(n_parts, n_rows, nnz // max(n_cols, 1)))
    targets = nnz * np.arange(1, n_parts) // n_parts
    cuts = np.searchsorted(indptr, targets, side="right") - 1
    bounds = np.unique(np.concatenate(([0], cuts, [n_rows]))).astype(np.int64)
    counts = np.zeros((len(bounds) - 1, n_cols), dtype=np.int64)
    _count_columns(indptr, indices, bounds, counts)
    out_indptr = np.zeros(n_cols + 1, dtype=indptr.dtype)
    np.cumsum(counts.sum(axis=0), out=out_indptr[1:])
    # where each block's cells start in every output row: after the earlier blocks'
    next_slots = out_indptr[:-1] + (np.cumsum(counts, axis=0) - counts)
    out_indices = np.empty(nnz, dtype=indices.dtype)
    out_data = np.empty(nnz, dtype=data.dtype)
    _scatter(indptr, indices, data, bounds, next_slots, out_indices, out_data)
    return out_indptr, out_indices, out_data

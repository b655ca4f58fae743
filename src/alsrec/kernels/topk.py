"""Batched top-n selection over a block of score rows, with per-row exclusions."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(inline="always", cache=True)
def _worse(score_a, index_a, score_b, index_b):
    """True when candidate a ranks below candidate b (lower score, or tie and higher index)."""
    return score_a < score_b or (score_a == score_b and index_a > index_b)


@njit(cache=True)
def _sift_down(heap_scores, heap_index, size, pos):
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(
            heap_scores[right], heap_index[right], heap_scores[left], heap_index[left]
        ):
            child = right
        if _worse(heap_scores[child], heap_index[child], heap_scores[pos], heap_index[pos]):
            heap_scores[pos], heap_scores[child] = heap_scores[child], heap_scores[pos]
            heap_index[pos], heap_index[child] = heap_index[child], heap_index[pos]
            pos = child
        else:
            return


@njit(parallel=True, cache=True)
def top_n(
    scores, rows, exclude_indptr, exclude_indices, banned, n, threshold, out_index, out_score
):
    """Best ``n`` columns of each score row, best first; ties go to the lower column.

    Parameters
    ----------
    scores : (b, n_items) float array; excluded entries are overwritten with -inf.
    rows : (b,) int64 row of each score row in the exclusion CSR (-1: exclude nothing).
    exclude_indptr, exclude_indices : CSR of columns to exclude per row.
    banned : int64 columns excluded from every row.
    n : how many to keep.
    threshold : keep only scores >= threshold (use -inf for no threshold).
    out_index : (b, n) int64, filled with -1 where fewer than n qualify.
    out_score : (b, n) float, NaN where fewer than n qualify.
    """
    n_rows, n_cols = scores.shape
    for r in prange(n_rows):
        row = rows[r]
        if row >= 0:
            for nz in range(exclude_indptr[row], exclude_indptr[row + 1]):
                scores[r, exclude_indices[nz]] = -np.inf
        for b in range(len(banned)):
            scores[r, banned[b]] = -np.inf
        heap_scores = np.empty(n, dtype=np.float64)
        heap_index = np.empty(n, dtype=np.int64)
        size = 0
        for col in range(n_cols):
            s = scores[r, col]
            if not s >= threshold or s == -np.inf:  # also drops NaN
                continue
            if size < n:
                # insert at the end and sift up (min-heap on "worse")
                pos = size
                heap_scores[pos] = s
                heap_index[pos] = col
                size += 1
                while pos > 0:
                    parent = (pos - 1) // 2
                    if _worse(
                        heap_scores[pos], heap_index[pos], heap_scores[parent], heap_index[parent]
                    ):
                        heap_scores[pos], heap_scores[parent] = (
                            heap_scores[parent],
                            heap_scores[pos],
                        )
                        heap_index[pos], heap_index[parent] = heap_index[parent], heap_index[pos]
                        pos = parent
                    else:
                        break
            elif s > heap_scores[0]:  # later columns tie-lose to earlier ones
                heap_scores[0] = s
                heap_index[0] = col
                _sift_down(heap_scores, heap_index, size, 0)
        # pop worst-first into the tail so the output is best-first
        for slot in range(n):
            out_index[r, slot] = -1
            out_score[r, slot] = np.nan
        while size > 0:
            out_index[r, size - 1] = heap_index[0]
            out_score[r, size - 1] = heap_scores[0]
            size -= 1
            heap_scores[0] = heap_scores[size]
            heap_index[0] = heap_index[size]
            _sift_down(heap_scores, heap_index, size, 0)

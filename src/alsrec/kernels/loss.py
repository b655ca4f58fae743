"""The exact ALS objective in O(nnz k + (m + n) k^2) with the Gramian trick.

    L = sum_{(u,i) in S} c_ui (p_ui - s_ui)^2 + w0 sum_{(u,i) not in S} s_ui^2
        + sum_u reg_u |x_u|^2 + sum_i reg_i |y_i|^2,        s_ui = x_u . y_i

The unobserved sum is ``w0 * (sum_all s^2 - sum_S s^2)`` and
``sum_all s^2 = <X^T X, Y^T Y>`` (Frobenius inner product of the Gramians),
so no dense m x n matrix is ever formed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alsrec.kernels.solvers import FASTMATH, gramian
from alsrec.kernels.weights import Weights, confidence, target


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def _observed_terms(indptr, indices, values, x, y, weights):
    """Per row: sum_{i in S_u} c (p - s)^2 - w0 s^2 (summed afterwards in a fixed order).

    Reassociation lets the float64 dot products vectorise; each row is still
    summed in one fixed order, so the loss does not depend on the thread count.
    """
    n_rows = len(indptr) - 1
    k = x.shape[1]
    per_row = np.zeros(n_rows, dtype=np.float64)
    w0 = weights.unobserved
    for row in prange(n_rows):
        total = 0.0
        for nz in range(indptr[row], indptr[row + 1]):
            col = indices[nz]
            value = values[nz]
            s = 0.0
            for j in range(k):
                s += np.float64(x[row, j]) * y[col, j]
            c = confidence(value, weights)
            err = target(value, weights) - s
            total += c * err * err - w0 * s * s
        per_row[row] = total
    return per_row


def observed_loss(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    row_factors: np.ndarray,
    col_factors: np.ndarray,
    weights: Weights,
) -> float:
    """sum_{(u,i) in S} c_ui (p_ui - s_ui)^2 - w0 s_ui^2 over the CSR rows given.

    The observed part of the objective; sums over disjoint row blocks add up
    to the whole (the Spark backend sums them across executors).
    """
    return float(_observed_terms(indptr, indices, values, row_factors, col_factors, weights).sum())


def objective(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_reg: np.ndarray,
    item_reg: np.ndarray,
    weights: Weights,
) -> float:
    """The full weighted objective for users x items CSR arrays and both factor matrices."""
    observed = observed_loss(indptr, indices, values, user_factors, item_factors, weights)
    w0 = weights.unobserved
    unobserved = 0.0
    if w0 != 0.0:
        unobserved = w0 * float(np.sum(gramian(user_factors, 4096) * gramian(item_factors, 4096)))
    x_norms = np.einsum("ij,ij->i", user_factors, user_factors, dtype=np.float64)
    y_norms = np.einsum("ij,ij->i", item_factors, item_factors, dtype=np.float64)
    # elementwise sums, not BLAS dots: no BLAS thread wakes between numba kernels
    penalty = float(np.sum(user_reg * x_norms) + np.sum(item_reg * y_norms))
    return float(observed + unobserved + penalty)

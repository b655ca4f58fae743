"""Plain numpy reference implementations of the kernels, for tests.

Written for clarity, not speed: every row builds A_u and b_u densely from the
definitions in ``solvers`` and solves with ``numpy.linalg.solve`` in float64.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from alsrec.kernels.weights import Weights, cell_weights


def solve_rows(
    matrix: sp.csr_matrix,
    other: np.ndarray,
    reg: np.ndarray,
    weights: Weights,
) -> np.ndarray:
    """Exact ridge solution of every row of ``matrix`` against fixed ``other``."""
    other = np.asarray(other, dtype=np.float64)
    k = other.shape[1]
    w0 = weights.unobserved
    gram = w0 * other.T @ other
    out = np.zeros((matrix.shape[0], k))
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        cols = matrix.indices[start:end]
        values = matrix.data[start:end]
        if end == start and reg[row] == 0 and w0 == 0:
            continue
        c, p = cell_weights(values, weights)
        ys = other[cols]
        a = gram + (ys.T * (c - w0)) @ ys + reg[row] * np.eye(k)
        b = ys.T @ (c * p)
        out[row] = np.linalg.solve(a, b)
    return out


def dense_objective(
    matrix: sp.csr_matrix,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_reg: np.ndarray,
    item_reg: np.ndarray,
    weights: Weights,
) -> float:
    """The objective computed cell by cell over the dense matrix."""
    x = np.asarray(user_factors, dtype=np.float64)
    y = np.asarray(item_factors, dtype=np.float64)
    scores = x @ y.T
    observed = matrix.toarray() != 0
    dense_values = matrix.toarray().astype(np.float64)
    cell_c, cell_p = cell_weights(dense_values, weights)
    c = np.where(observed, cell_c, weights.unobserved)
    p = np.where(observed, cell_p, 0.0)
    return float(
        np.sum(c * (p - scores) ** 2)
        + user_reg @ np.sum(x * x, axis=1)
        + item_reg @ np.sum(y * y, axis=1)
    )

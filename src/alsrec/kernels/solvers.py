"""Per-row ALS solves over CSR arrays: exact (Cholesky) and conjugate gradient.

For each row u of the CSR matrix (users when solving users, items when
solving items) with the other side's factors Y fixed, both solvers find

    x_u = argmin  sum_{i in S_u} c_ui (p_ui - x . y_i)^2
                + w0 * sum_{i not in S_u} (x . y_i)^2 + reg_u |x|^2

i.e. A_u x_u = b_u with

    A_u = w0 Y^T Y + sum_{i in S_u} (c_ui - w0) y_i y_i^T + reg_u I
    b_u = sum_{i in S_u} c_ui p_ui y_i

``gram`` is ``w0 * Y^T Y``, computed once per half-step, so a row costs
O(|S_u| k^2 + k^3) with Cholesky and O(steps (k^2 + |S_u| k)) with CG, never
O(n_items k^2). Long rows add their Gram contribution with blocked matrix
products (BLAS gemm on gathered blocks of ``BLOCK`` rows of Y), short rows with
rank-1 updates of the lower triangle.

Rows are processed in chunks of roughly equal cost (``balanced_chunks``), one
numba task per chunk, each with its own scratch buffers. Every row's result
depends only on its inputs, so factors are bit-identical whatever the number
of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alsrec.kernels.weights import confidence, target

BLOCK = 128  # rows of Y gathered per gemm
GEMM_MIN_ROWS = 24  # below this, rank-1 updates beat a BLAS call
PIVOT_TOLERANCE = 1e-10  # relative size under which a Cholesky pivot counts as zero


def balanced_chunks(indptr: np.ndarray, factors: int, n_chunks: int) -> np.ndarray:
    """Split rows into ``n_chunks`` contiguous ranges of roughly equal solve cost.

    The cost of a row is modelled as ``(|S_u| + factors) * factors`` (Gram
    contribution plus the k^3 / k factorisation term). Returns chunk start
    offsets, length ``n_chunks + 1`` (fewer when there are few rows).
    """
    n_rows = len(indptr) - 1
    if n_rows == 0:
        return np.zeros(1, dtype=np.int64)
    lengths = np.diff(indptr).astype(np.float64)
    cost = np.cumsum((lengths + factors) * factors)
    targets = cost[-1] * np.arange(1, n_chunks) / n_chunks
    cuts = np.searchsorted(cost, targets, side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [n_rows]))).astype(np.int64)
    return bounds


@njit(cache=True)
def _cholesky_solve(a, b, out_row):
    """Solve a x = b for symmetric positive definite ``a`` (lower triangle used).

    Factorises in float64 for accuracy whatever the storage dtype. Returns
    False (and leaves ``out_row`` unchanged) when ``a`` is not numerically
    positive definite.
    """
    k = a.shape[0]
    low = np.zeros((k, k), dtype=np.float64)
    for j in range(k):
        diagonal = np.float64(a[j, j])
        s = diagonal
        for p in range(j):
            s -= low[j, p] * low[j, p]
        # A pivot lost to rounding means A is singular (e.g. lambda = 0 and too few
        # ratings); "not >" also catches NaN.
        if not s > PIVOT_TOLERANCE * abs(diagonal):
            return False
        d = np.sqrt(s)
        low[j, j] = d
        for i in range(j + 1, k):
            t = np.float64(a[i, j])
            for p in range(j):
                t -= low[i, p] * low[j, p]
            low[i, j] = t / d
    z = np.empty(k, dtype=np.float64)
    for i in range(k):
        t = np.float64(b[i])
        for p in range(i):
            t -= low[i, p] * z[p]
        z[i] = t / low[i, i]
    for i in range(k - 1, -1, -1):
        t = z[i]
        for p in range(i + 1, k):
            t -= low[p, i] * z[p]
        z[i] = t / low[i, i]
    for i in range(k):
        out_row[i] = z[i]
    return True


@njit(parallel=True, cache=True)
def solve_cholesky(
    indptr, indices, values, other, gram, reg, w0, conf_mode, alpha, target_mode, chunks, out
):
    """Exact per-row solves; writes ``out[u]`` for every row, returns failing row count.

    Parameters
    ----------
    indptr, indices, values : CSR arrays of the rows being solved.
    other : (n_other, k) factors held fixed.
    gram : (k, k) ``w0 * other.T @ other``.
    reg : (n_rows,) regularisation of each row.
    w0 : weight of every unobserved cell.
    conf_mode, alpha, target_mode : how values map to c and p (see ``weights``).
    chunks : row ranges from :func:`balanced_chunks`.
    out : (n_rows, k) result; rows that fail to factorise are left unchanged.
    """
    k = other.shape[1]
    n_chunks = len(chunks) - 1
    failures = np.zeros(max(n_chunks, 1), dtype=np.int64)
    gathered_any = w0 != 1.0 or conf_mode != 0
    for chunk in prange(n_chunks):
        a = np.empty((k, k), dtype=other.dtype)
        b = np.empty(k, dtype=np.float64)
        block = np.empty((BLOCK, k), dtype=other.dtype)
        weighted = np.empty((BLOCK, k), dtype=other.dtype)
        for row in range(chunks[chunk], chunks[chunk + 1]):
            start, end = indptr[row], indptr[row + 1]
            if end == start and reg[row] == 0.0 and w0 == 0.0:
                out[row, :] = 0.0  # no data and no prior: the minimum-norm answer
                continue
            a[:, :] = gram
            for j in range(k):
                a[j, j] += reg[row]
                b[j] = 0.0
            for block_start in range(start, end, BLOCK):
                block_end = min(block_start + BLOCK, end)
                n = block_end - block_start
                for t in range(n):
                    col = indices[block_start + t]
                    value = values[block_start + t]
                    c = confidence(value, conf_mode, alpha)
                    coef = c * target(value, target_mode)
                    weight = c - w0
                    for j in range(k):
                        y = other[col, j]
                        b[j] += coef * y
                        block[t, j] = y
                        weighted[t, j] = weight * y
                if not gathered_any:
                    continue  # c == w0 everywhere (the blog's model): A is the same for all rows
                if n >= GEMM_MIN_ROWS:
                    a += np.dot(block[:n].T, weighted[:n])
                else:
                    for t in range(n):
                        for i in range(k):
                            wi = weighted[t, i]
                            for j in range(i + 1):
                                a[i, j] += wi * block[t, j]
            if not _cholesky_solve(a, b, out[row]):
                failures[chunk] += 1
    return failures.sum()


@njit(parallel=True, cache=True)
def solve_cg(
    indptr,
    indices,
    values,
    other,
    gram,
    reg,
    w0,
    conf_mode,
    alpha,
    target_mode,
    chunks,
    steps,
    out,
):
    """Conjugate-gradient per-row solves, warm-started from ``out``, updated in place.

    ``steps`` iterations of CG on A_u x = b_u without forming A_u: each
    product A_u p costs O(k^2 + |S_u| k). With ``steps >= k`` it reaches the
    exact solution (up to rounding). Returns the number of rows whose residual
    became non-finite.
    """
    k = other.shape[1]
    n_chunks = len(chunks) - 1
    failures = np.zeros(max(n_chunks, 1), dtype=np.int64)
    for chunk in prange(n_chunks):
        x = np.empty(k, dtype=np.float64)
        r = np.empty(k, dtype=np.float64)
        p = np.empty(k, dtype=np.float64)
        ap = np.empty(k, dtype=np.float64)
        for row in range(chunks[chunk], chunks[chunk + 1]):
            start, end = indptr[row], indptr[row + 1]
            for j in range(k):
                x[j] = out[row, j]
            # r = b - A x
            for i in range(k):
                s = -reg[row] * x[i]
                for j in range(k):
                    s -= gram[i, j] * x[j]
                r[i] = s
            for nz in range(start, end):
                col = indices[nz]
                value = values[nz]
                c = confidence(value, conf_mode, alpha)
                dot = 0.0
                for j in range(k):
                    dot += other[col, j] * x[j]
                coef = c * target(value, target_mode) - (c - w0) * dot
                for j in range(k):
                    r[j] += coef * other[col, j]
            rs_old = 0.0
            for j in range(k):
                p[j] = r[j]
                rs_old += r[j] * r[j]
            for _ in range(steps):
                if rs_old < 1e-20:
                    break
                for i in range(k):
                    s = reg[row] * p[i]
                    for j in range(k):
                        s += gram[i, j] * p[j]
                    ap[i] = s
                for nz in range(start, end):
                    col = indices[nz]
                    value = values[nz]
                    weight = confidence(value, conf_mode, alpha) - w0
                    dot = 0.0
                    for j in range(k):
                        dot += other[col, j] * p[j]
                    dot *= weight
                    for j in range(k):
                        ap[j] += dot * other[col, j]
                p_ap = 0.0
                for j in range(k):
                    p_ap += p[j] * ap[j]
                if not p_ap > 0.0:
                    break
                step = rs_old / p_ap
                rs_new = 0.0
                for j in range(k):
                    x[j] += step * p[j]
                    r[j] -= step * ap[j]
                    rs_new += r[j] * r[j]
                for j in range(k):
                    p[j] = r[j] + (rs_new / rs_old) * p[j]
                rs_old = rs_new
            if not np.isfinite(rs_old):
                failures[chunk] += 1
            for j in range(k):
                out[row, j] = x[j]
    return failures.sum()


@njit(parallel=True, cache=True)
def gramian(factors, block_rows):
    """``factors.T @ factors`` summed over fixed row blocks in a fixed order.

    The block partial products run in parallel, but the final sum always adds
    the same blocks in the same order, so the result does not depend on the
    number of threads (a threaded BLAS call would not promise that).
    """
    n, k = factors.shape
    n_blocks = (n + block_rows - 1) // block_rows
    partial = np.zeros((max(n_blocks, 1), k, k), dtype=np.float64)
    for blk in prange(n_blocks):
        start = blk * block_rows
        stop = min(start + block_rows, n)
        part = np.dot(factors[start:stop].T, factors[start:stop])
        for i in range(k):
            for j in range(k):
                partial[blk, i, j] = part[i, j]
    total = np.zeros((k, k), dtype=np.float64)
    for blk in range(n_blocks):
        total += partial[blk]
    return total

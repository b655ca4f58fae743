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
O(n_items k^2). Short rows are solved through the Woodbury identity; longer
rows gather blocks of ``BLOCK`` rows of Y and add their Gram contribution to
the lower triangle with a vectorised loop. No kernel calls BLAS inside numba's
threads, so results never depend on a BLAS library's own threading.

Rows are processed in chunks of roughly equal cost (``balanced_chunks``), one
numba task per chunk, each with its own scratch buffers. Every row's result
depends only on its inputs, so factors are bit-identical whatever the number
of threads.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from alsrec.kernels import dense
from alsrec.kernels.simd import (
    half_bits,
    half_row_to,
    padded_product,
    padded_residual,
    padded_times,
    padded_width,
    prefetch_row,
)
from alsrec.kernels.weights import CONFIDENCE_ONE, Weights, confidence, target

BLOCK = 128  # rows of Y gathered per block of the Gram update
GRAM_BLOCK = 4096  # rows per partial product of the deterministic Gramian
ROW_BUFFER_CAP = 1 << 15  # rows of a CG row buffer; longer rows stream through it
HALF_MAX = 65504.0  # the largest finite float16
PREFETCH_AHEAD = 16  # cells; 8 and 24-32 measured slower at k = 64
PIVOT_TOLERANCE = 1e-10  # relative size under which a Cholesky pivot counts as zero
# Reassociation lets LLVM vectorise the dot-product reductions (4-8x); results stay
# deterministic (same code, same order on every run and thread count). No "nnan"/"ninf":
# the finiteness checks below must keep working.
FASTMATH = {"reassoc", "contract"}


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


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _cholesky_solve(a, b, low, z, out_row):
    """Solve a x = b for symmetric positive definite ``a`` (lower triangle used).

    ``low`` (k x k) and ``z`` (k) are float64 scratch. Factorises in float64
    for accuracy whatever the storage dtype. Returns
    False (and leaves ``out_row`` unchanged) when ``a`` is not numerically
    positive definite.
    """
    k = a.shape[0]
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
        # four rows of the column per pass share each load of low[j] (1.46x at k = 64;
        # every cell is computed in the same order as one row at a time)
        i = j + 1
        while i + 4 <= k:
            t_0, t_1 = np.float64(a[i, j]), np.float64(a[i + 1, j])
            t_2, t_3 = np.float64(a[i + 2, j]), np.float64(a[i + 3, j])
            for p in range(j):
                pivot_row = low[j, p]
                t_0 -= low[i, p] * pivot_row
                t_1 -= low[i + 1, p] * pivot_row
                t_2 -= low[i + 2, p] * pivot_row
                t_3 -= low[i + 3, p] * pivot_row
            low[i, j] = t_0 / d
            low[i + 1, j] = t_1 / d
            low[i + 2, j] = t_2 / d
            low[i + 3, j] = t_3 / d
            i += 4
        while i < k:
            t = np.float64(a[i, j])
            for p in range(j):
                t -= low[i, p] * low[j, p]
            low[i, j] = t / d
            i += 1
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


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _cholesky_solve_in_place(s, t, n):
    """Solve ``s[:n, :n] z = t[:n]`` for SPD ``s`` (lower triangle), overwriting both.

    ``s`` becomes its Cholesky factor and ``t`` the solution; False when a
    pivot is not positive (the system is not positive definite).
    """
    for j in range(n):
        pivot = s[j, j]
        for p in range(j):
            pivot -= s[j, p] * s[j, p]
        if not pivot > 0.0:
            return False
        pivot = np.sqrt(pivot)
        s[j, j] = pivot
        for i in range(j + 1, n):
            total = s[i, j]
            for p in range(j):
                total -= s[i, p] * s[j, p]
            s[i, j] = total / pivot
    for i in range(n):
        total = t[i]
        for p in range(i):
            total -= s[i, p] * t[p]
        t[i] = total / s[i, i]
    for i in range(n - 1, -1, -1):
        total = t[i]
        for p in range(i + 1, n):
            total -= s[p, i] * t[p]
        t[i] = total / s[i, i]
    return True


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _woodbury_row(
    start,
    end,
    indices,
    values,
    rotated,
    rotation_t,
    eigenvalues,
    reg,
    weights,
    u,
    scaled,
    s,
    t,
    bt,
    xt,
    inverse,
    weight_of,
    out_row,
):
    """Exact solve of a short row through the Woodbury identity; False if not applicable.

    In the eigenbasis of the shared part, ``w0 Y^T Y + reg I = Q D Q^T`` with D
    diagonal, so for a row with n observed cells (weights w > 0, rotated rows
    U = Y_S Q):

        A~ = D + U^T W U,   A~^-1 b~ = D^-1 (b~ - U^T t),   (W^-1 + U D^-1 U^T) t = U D^-1 b~

    which costs O(n^2 k + n^3 + k^2) instead of O(n k^2 + k^3). Cells with
    weight 0 drop out; a negative weight (c < w0) makes W^-1 + U D^-1 U^T
    indefinite, so such rows take the general path.
    """
    k = rotated.shape[1]
    for j in range(k):
        d = eigenvalues[j] + reg
        if not d > 0.0:
            return False  # D singular (no regularisation): only the general path can tell
        inverse[j] = 1.0 / d
        bt[j] = 0.0
    n = 0
    for nz in range(start, end):
        col = indices[nz]
        value = values[nz]
        c = confidence(value, weights)
        coef = c * target(value, weights)
        for j in range(k):
            bt[j] += coef * rotated[col, j]
        weight = c - weights.unobserved
        if weight < 0.0:
            return False
        if weight > 0.0:
            for j in range(k):
                u[n, j] = rotated[col, j]
                scaled[n, j] = rotated[col, j] * inverse[j]  # D^-1 u
            weight_of[n] = weight
            n += 1
    for a in range(n):
        left = scaled[a]
        rhs = 0.0
        for j in range(k):
            rhs += left[j] * bt[j]
        t[a] = rhs
        # four cells of S's row per pass share each load of D^-1 u_a
        b = 0
        while b + 4 <= a + 1:
            s_0, s_1, s_2, s_3 = _dots_of_four(u, b, left)
            s[a, b] = s_0
            s[a, b + 1] = s_1
            s[a, b + 2] = s_2
            s[a, b + 3] = s_3
            b += 4
        while b <= a:
            s[a, b] = _dot(u, b, left)
            b += 1
        s[a, a] += 1.0 / weight_of[a]  # W^-1 on the diagonal
    if not _cholesky_solve_in_place(s, t, n):
        return False
    for j in range(k):
        xt[j] = bt[j] * inverse[j]
    # D^-1 (b~ - U^T t) = D^-1 b~ - (D^-1 U^T) t, four cells per pass
    for a in range(n):
        t[a] = -t[a]
    _accumulate_rows(scaled, n, t, xt)
    # x = Q x~ as axpys over the rows of Q^T, summed in float64 (bt is free now)
    for i in range(k):
        bt[i] = 0.0
    _accumulate_rows(rotation_t, k, xt, bt)
    for i in range(k):
        out_row[i] = bt[i]
    return True


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _add_weighted_outer(a, block, weighted, n):
    """Lower triangle of ``a += weighted[:n].T @ block[:n]`` (the row's Gram contribution).

    Cells just above the diagonal (up to the next multiple of 8 columns) are
    updated too and are meaningless; callers read the lower triangle only.

    A plain loop instead of BLAS: no BLAS call ever runs inside numba's threads
    (a threaded BLAS there oversubscribes the cores, and its thread count would
    change results). Four cells per pass keep ``a``'s row in registers for four
    fused multiply-adds, and two rows of ``a`` per pass share each load of the
    four cells' factors (1.3x at k = 64 over one row per pass; four rows were
    slower again). The inner loop runs over contiguous rows and vectorises.
    The order of additions is fixed, so the result is deterministic.
    """
    k = a.shape[0]
    q = 0
    while q + 4 <= n:
        for i in range(0, k - 1, 2):
            w_0, w_1 = weighted[q, i], weighted[q + 1, i]
            w_2, w_3 = weighted[q + 2, i], weighted[q + 3, i]
            v_0, v_1 = weighted[q, i + 1], weighted[q + 1, i + 1]
            v_2, v_3 = weighted[q + 2, i + 1], weighted[q + 3, i + 1]
            # j past the diagonal (up to a multiple of 8) costs a few upper-triangle cells
            # that nothing reads, and lets every row's loop run in whole 8-float vectors
            for j in range(min(k, (((i + 1) >> 3) + 1) << 3)):
                b_0, b_1, b_2, b_3 = block[q, j], block[q + 1, j], block[q + 2, j], block[q + 3, j]
                a[i, j] += w_0 * b_0 + w_1 * b_1 + w_2 * b_2 + w_3 * b_3
                a[i + 1, j] += v_0 * b_0 + v_1 * b_1 + v_2 * b_2 + v_3 * b_3
        if k % 2:  # the last row of an odd k, alone
            i = k - 1
            w_0, w_1 = weighted[q, i], weighted[q + 1, i]
            w_2, w_3 = weighted[q + 2, i], weighted[q + 3, i]
            for j in range(k):
                a[i, j] += (
                    w_0 * block[q, j]
                    + w_1 * block[q + 1, j]
                    + w_2 * block[q + 2, j]
                    + w_3 * block[q + 3, j]
                )
        q += 4
    while q < n:
        for i in range(k):
            wi = weighted[q, i]
            for j in range(i + 1):
                a[i, j] += wi * block[q, j]
        q += 1


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def add_row_cells(start, end, indices, values, other, weights, gathered_any, a, b, block, weighted):
    """Add one row's observed cells to its system: a += sum (c - w0) y y^T, b += sum c p y.

    The row assembly of every exact per-row solve (ALS's Cholesky path and the
    Gibbs sampler's draws). Cells ``start:end`` of the CSR arrays; ``block``
    and ``weighted`` are (BLOCK, k) scratch in ``a``'s dtype. Only ``a``'s
    lower triangle is updated, which is all a Cholesky factorisation reads.
    With ``gathered_any`` False (c == w0 on every cell) only ``b`` changes.
    """
    k = other.shape[1]
    w0 = weights.unobserved
    for block_start in range(start, end, BLOCK):
        block_end = min(block_start + BLOCK, end)
        n = block_end - block_start
        for q in range(n):
            if block_start + q + PREFETCH_AHEAD < len(indices):  # as in _gather_rows
                prefetch_row(other, indices[block_start + q + PREFETCH_AHEAD])
            col = indices[block_start + q]
            value = values[block_start + q]
            c = confidence(value, weights)
            coef = c * target(value, weights)
            weight = c - w0
            for j in range(k):
                y = other[col, j]
                b[j] += coef * y
                block[q, j] = y
                weighted[q, j] = weight * y
        if gathered_any:  # else c == w0 everywhere (the blog's model): A is shared
            _add_weighted_outer(a, block, weighted, n)


@njit(parallel=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _solve_cholesky(
    indptr,
    indices,
    values,
    other,
    gram,
    reg,
    weights,
    chunks,
    rotated,
    rotation_t,
    eigenvalues,
    short_max,
    out,
):
    k = other.shape[1]
    n_chunks = len(chunks) - 1
    failures = np.zeros(max(n_chunks, 1), dtype=np.int64)
    w0 = weights.unobserved
    gathered_any = w0 != 1.0 or weights.confidence != CONFIDENCE_ONE
    for chunk in prange(n_chunks):
        a = np.empty((k, k), dtype=other.dtype)
        b = np.empty(k, dtype=np.float64)
        block = np.empty((BLOCK, k), dtype=other.dtype)
        weighted = np.empty((BLOCK, k), dtype=other.dtype)
        low = np.empty((k, k), dtype=np.float64)
        z = np.empty(k, dtype=np.float64)
        short = max(short_max, 1)
        u = np.empty((short, k), dtype=np.float64)
        scaled = np.empty((short, k), dtype=np.float64)
        inverse = np.empty(k, dtype=np.float64)
        s = np.empty((short, short), dtype=np.float64)
        t = np.empty(short, dtype=np.float64)
        xt = np.empty(k, dtype=np.float64)
        weight_of = np.empty(short, dtype=np.float64)
        for row in range(chunks[chunk], chunks[chunk + 1]):
            start, end = indptr[row], indptr[row + 1]
            if end == start and reg[row] == 0.0 and w0 == 0.0:
                out[row, :] = 0.0  # no data and no prior: the minimum-norm answer
                continue
            if end - start <= short_max and _woodbury_row(
                start,
                end,
                indices,
                values,
                rotated,
                rotation_t,
                eigenvalues,
                reg[row],
                weights,
                u,
                scaled,
                s,
                t,
                b,
                xt,
                inverse,
                weight_of,
                out[row],
            ):
                continue
            a[:, :] = gram
            for j in range(k):
                a[j, j] += reg[row]
                b[j] = 0.0
            add_row_cells(
                start, end, indices, values, other, weights, gathered_any, a, b, block, weighted
            )
            if not _cholesky_solve(a, b, low, z, out[row]):
                failures[chunk] += 1
    return failures.sum()


@njit(parallel=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _weighted_targets_times(indptr, indices, values, other, weights, out):
    """out[u] = sum_{i in S_u} c_ui p_ui other[i] (the right-hand sides b_u)."""
    k = other.shape[1]
    for row in prange(len(indptr) - 1):
        for j in range(k):
            out[row, j] = 0.0
        for nz in range(indptr[row], indptr[row + 1]):
            value = values[nz]
            coef = confidence(value, weights) * target(value, weights)
            col = indices[nz]
            for j in range(k):
                out[row, j] += coef * other[col, j]


def shares_one_system(weights: Weights, reg: np.ndarray) -> bool:
    """True when every row has the same A_u (c == w0 on every cell, one lambda).

    That is the blog's model: then all rows are solved at once as
    ``X = B (w0 Y^T Y + lambda I)^-1`` with ``B = R_c Y``, one sparse product
    and one k x k solve, exactly.
    """
    return (
        weights.confidence == CONFIDENCE_ONE
        and weights.unobserved == 1.0
        and len(reg) > 0
        and bool(np.all(reg == reg[0]))
    )


def solve_cholesky(
    indptr,
    indices,
    values,
    other,
    reg,
    weights,
    chunks,
    out,
    short_max=None,
    gram=None,
):
    """Exact per-row solves; writes ``out[u]`` for every row, returns the failing row count.

    Parameters
    ----------
    indptr, indices, values : CSR arrays of the rows being solved.
    other : (n_other, k) factors held fixed.
    reg : (n_rows,) regularisation of each row.
    weights : Weights
        w0 and how values map to c and p (see :mod:`~alsrec.kernels.weights`).
    chunks : row ranges from :func:`balanced_chunks`.
    out : (n_rows, k) result; rows that fail to factorise are left unchanged.
    short_max : int, optional
        Rows with at most this many cells use the Woodbury form (default 3k/4:
        measured between k/2 and k, where it stops being cheaper than the
        blocked Gram product and a k x k Cholesky); 0 turns it off.
    gram : (k, k) float64, optional
        ``w0 * other^T other`` when the caller already has it (Spark aggregates it
        once per half-step); computed here otherwise.

    Returns
    -------
    int
        Rows whose system was not numerically positive definite.
    """
    k = other.shape[1]
    w0 = weights.unobserved
    if gram is None:
        gram = w0 * gramian(other, GRAM_BLOCK) if w0 else np.zeros((k, k))
    if shares_one_system(weights, reg):
        system = gram + reg[0] * np.eye(k)
        if dense.eigvalsh(system)[0] <= PIVOT_TOLERANCE * np.abs(system).max():
            return len(reg)  # singular: no row can be solved
        rhs = np.empty((len(indptr) - 1, k), dtype=np.float64)
        _weighted_targets_times(indptr, indices, values, other, weights, rhs)
        times_small(rhs, dense.inv(system), out)  # k x k inverse, then one product
        return 0
    eigenvalues, rotation = dense.eigh(gram)
    eigenvalues = np.maximum(eigenvalues, 0.0)  # a Gramian is PSD; clip rounding
    rotated = np.empty_like(other)
    times_small(other, np.ascontiguousarray(rotation, dtype=other.dtype), rotated)
    short_max = 3 * k // 4 if short_max is None else int(short_max)
    return int(
        _solve_cholesky(
            indptr,
            indices,
            values,
            other,
            gram,
            reg,
            weights,
            chunks,
            rotated,
            np.ascontiguousarray(rotation.T),
            eigenvalues,
            short_max,
            out,
        )
    )


def solve_cg(
    indptr, indices, values, other, reg, weights, chunks, steps, out, gram=None, half_gathers=None
):
    """Conjugate-gradient per-row solves, warm-started from ``out``, updated in place.

    ``steps`` iterations of CG on A_u x = b_u without forming A_u: each
    product A_u p costs O(k^2 + |S_u| k). With ``steps >= k`` it reaches the
    exact solution (up to rounding). Returns the number of rows whose residual
    became non-finite.

    Scratch memory is allocated once per thread: ``threads x min(longest row,
    ROW_BUFFER_CAP) x k'`` values (k' is k rounded up to whole vectors); rows
    longer than the cap are streamed through it in blocks. The fixed side is
    held once more, rotated (4 k n_other bytes for float32), or as a float16
    copy (2 k' n_other) with half gathers. ``gram`` (``w0 * other^T other``) is
    computed here unless given.

    ``half_gathers`` gathers each row's factor rows from a float16 copy of the
    fixed side (float32 factors only; :func:`prefers_half_gathers` decides
    when None): the sparse part of every A_u and b_u is then built from
    factors rounded to 11 significant bits, while the shared part and all
    arithmetic stay float32. A fixed row with a value beyond float16's range
    is gathered in full precision; the rule is per row, so a Spark block that
    holds only some rows makes the choice the single machine makes.
    """
    import numba

    k = other.shape[1]
    dtype = other.dtype
    longest = int(np.diff(indptr).max()) if len(indptr) > 1 else 0
    capacity = max(1, min(longest, ROW_BUFFER_CAP))
    threads = numba.config.NUMBA_NUM_THREADS
    if half_gathers is None:
        half_gathers = prefers_half_gathers(other.shape[0], k, dtype)
    elif half_gathers and dtype != np.float32:
        raise ValueError(f"half_gathers needs float32 factors, not {dtype}")
    w0 = weights.unobserved
    rotation = None
    if w0:
        # CG is invariant under an orthogonal change of basis. In the eigenbasis of the
        # shared part w0 Y^T Y = Q L Q^T that part is diagonal, so each CG product costs
        # O(k + |S_u| k) instead of O(k^2 + |S_u| k); the two rotations of all rows are
        # single matrix products.
        shared = w0 * gramian(other, GRAM_BLOCK) if gram is None else gram
        eigenvalues, rotation = dense.eigh(shared)
        eigenvalues = np.maximum(eigenvalues, 0.0)
        rotation = np.ascontiguousarray(rotation, dtype=dtype)
        _rotate_rows(out, rotation)  # the warm start, into the eigenbasis
    else:
        eigenvalues = np.zeros(k)
    half = np.zeros((0, 0), dtype=np.uint16)  # none: gather from basis_other
    exact_index = np.zeros(0, dtype=np.int64)  # no fixed row gathered apart
    if half_gathers:
        # rounded as it is rotated: no full-precision copy of the side is held
        if rotation is None:
            half, beyond = half_copy(other)
        else:
            half, beyond = times_small_to_half(other, rotation)
        exact_rows = np.flatnonzero(beyond)
        basis_other = np.ascontiguousarray(other[exact_rows])
        if rotation is not None:
            times_small(basis_other, rotation, basis_other)  # same bits as in the whole side
        if len(exact_rows):
            exact_index = np.full(other.shape[0], -1, dtype=np.int64)
            exact_index[exact_rows] = np.arange(len(exact_rows))
    elif rotation is not None:
        basis_other = np.empty_like(other)
        times_small(other, rotation, basis_other)
    else:
        basis_other = other
    # with half gathers the gathered rows stay float16 bits (the passes widen them as
    # they load: the same values, so the same bits, from half the bytes), unless some
    # fixed row must be gathered in full precision
    half_rows = bool(half_gathers) and not len(exact_index)
    padded = padded_width(k, dtype.itemsize)
    # np.zeros: the padding must read as 0 (kernels.simd); the unused buffer is empty
    rows_buffer = np.zeros((threads, 0 if half_rows else capacity, padded), dtype=dtype)
    half_rows_buffer = np.zeros((threads, capacity if half_rows else 0, padded), np.uint16)
    row_scratch = np.empty((threads, 2, capacity), dtype=dtype)
    solution = out
    failures = _solve_cg(
        indptr,
        indices,
        values,
        basis_other,
        eigenvalues.astype(dtype),
        reg.astype(dtype),
        weights,
        chunks,
        int(steps),
        solution,
        rows_buffer,
        half_rows_buffer,
        half_rows,
        row_scratch,
        half,
        exact_index,
    )
    if rotation is not None:
        _rotate_rows(out, rotation.T)  # back to the original basis
    return int(failures)


HALF_GATHER_MIN_BYTES = 1 << 23  # fixed sides from 8 MiB of float32 factors up


def prefers_half_gathers(n_fixed: int, k: int, dtype: np.dtype) -> bool:
    """Whether CG gathers a fixed side of ``n_fixed`` rows from a float16 copy.

    The gathers and the passes over the gathered rows are bound by memory
    once the fixed side's factors outgrow the per-core caches; in float16
    both move half the bytes (the passes widen each vector as they load it).
    Measured at 25M interactions, k = 64, in one process, alternating: the
    items' half-step (41 MB of user factors) 0.54 -> 0.35-0.42 s, the users'
    (15 MB of item factors) 0.34 -> 0.25 s, a fit's iteration 0.68-0.73 ->
    0.59-0.61 s, the loss after 3 iterations equal to seven digits. Sides of
    2.5-4.5 MB (ml-latest-small's and Last.fm's items at k = 64) gained 5-10%
    of a 7-11 ms iteration, not worth rounding: below 8 MiB the gathers stay
    exact, as they do where padded float16 rows would not be smaller (k <= 8).
    float64 factors were asked for precision and are never rounded.
    """
    dtype = np.dtype(dtype)
    half_row_bytes = 2 * padded_width(k, 4)
    return (
        dtype == np.float32 and half_row_bytes < 4 * k and n_fixed * k * 4 >= HALF_GATHER_MIN_BYTES
    )


def half_copy(other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float16 bits (uint16) of ``other``, rows zero-padded as kernels.simd reads them,
    and which rows hold a value beyond float16's range (to be gathered exactly)."""
    n, k = other.shape
    half = np.zeros((n, padded_width(k, 4)), dtype=np.uint16)
    beyond = np.zeros(n, dtype=np.bool_)
    _to_half_bits(other, half, beyond)
    return half, beyond


@njit(parallel=True, cache=True)
def _to_half_bits(other, half, beyond):
    """half[:, :k] = float16 bits of ``other``; beyond[row] where one overflowed."""
    n, k = other.shape
    for row in prange(n):
        beyond[row] = _row_to_half(other[row], k, half[row])


def _rotate_rows(matrix: np.ndarray, rotation: np.ndarray) -> None:
    """matrix[:] = matrix @ rotation, in place (see :func:`times_small`)."""
    times_small(matrix, np.ascontiguousarray(rotation, dtype=matrix.dtype), matrix)


TIMES_SMALL_ROWS = 64  # rows per task of times_small: one accumulator block per task


def times_small(matrix: np.ndarray, small: np.ndarray, out: np.ndarray) -> None:
    """out[r] = matrix[r] @ small for every row (small: k x k'), parallel over row blocks.

    The products between the per-row kernels (rotations into and out of the Gram
    eigenbasis, the shared solve of the zeros model) run here instead of in
    BLAS: OpenBLAS's idle threads spin after each call and took the cores from
    numba's workers (a CG fit ran 4.7x slower), and limiting them for the
    length of a fit would change process-wide state for that long. Each row is
    computed in a fixed order, so results do not depend on the thread count;
    ``out`` may be ``matrix`` (each block is read into a private accumulator
    before it is written). Accumulates in ``matrix``'s dtype, as sgemm/dgemm
    would.
    """
    no_half = np.zeros((0, 0), dtype=np.uint16)
    no_flags = np.zeros(0, dtype=np.bool_)
    padded = _padded_columns(small, matrix.dtype)
    _times_small(matrix, padded, small.shape[1], out, no_half, no_flags)


def times_small_to_half(matrix: np.ndarray, small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``matrix @ small`` as :func:`half_copy` gives it: float16 bits and rows beyond range.

    The same products as :func:`times_small`, rounded as each block is
    written, so no full-precision copy is ever held.
    """
    width = small.shape[1]
    half = np.zeros((matrix.shape[0], padded_width(width, 4)), dtype=np.uint16)
    beyond = np.zeros(matrix.shape[0], dtype=np.bool_)
    padded = _padded_columns(small, matrix.dtype)
    _times_small(matrix, padded, width, matrix[:0], half, beyond)
    return half, beyond


def _padded_columns(small: np.ndarray, dtype: np.dtype) -> np.ndarray:
    k, width = small.shape
    padded = np.zeros((k, padded_width(width, np.dtype(dtype).itemsize)), dtype=dtype)
    padded[:, :width] = small
    return padded


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def _times_small(matrix, padded_small, width, out, half, beyond):
    """Kernel of :func:`times_small` (into ``half``, flagging ``beyond``, when it
    has rows, else into ``out``); ``padded_small`` is ``small`` zero-padded to
    whole vectors (kernels.simd)."""
    n, k = matrix.shape
    n_blocks = (n + TIMES_SMALL_ROWS - 1) // TIMES_SMALL_ROWS
    to_half = half.shape[0] > 0
    for blk in prange(n_blocks):
        start = blk * TIMES_SMALL_ROWS
        count = min(start + TIMES_SMALL_ROWS, n) - start
        # The block is copied into a zero-padded multiple of four rows so that every
        # row takes the same instructions, and a row's result does not depend on where
        # its block starts (Spark blocks must match the single machine exactly).
        padded = (count + 3) // 4 * 4
        rows = np.zeros((padded, k), dtype=matrix.dtype)
        for i in range(count):
            for j in range(k):
                rows[i, j] = matrix[start + i, j]
        acc = np.empty((padded, padded_small.shape[1]), dtype=matrix.dtype)
        padded_times(rows, padded_small, acc)
        for i in range(count):
            if to_half:
                beyond[start + i] = _row_to_half(acc[i], width, half[start + i])
            else:
                for c in range(width):
                    out[start + i, c] = acc[i, c]


@njit(inline="always", cache=True)
def _row_to_half(values, width, bits):
    """bits[:width] = float16 bits of values[:width]; True if one is beyond float16's range."""
    beyond = False
    for c in range(width):
        value = values[c]
        if not abs(value) <= HALF_MAX:
            beyond = True
        bits[c] = half_bits(value)
    return beyond


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _gather_rows(
    indices, values, other, weights, start, count, rows, weight, coef, half, exact_index
):
    """Copy the ``count`` rows of ``other`` named by ``indices[start:]`` into ``rows``,
    with the cells' weights c - w0 and right-hand-side coefficients c p.

    The hardware prefetcher cannot see index-driven loads, so the loop asks for
    the row ``PREFETCH_AHEAD`` cells ahead (across row ends): more misses in
    flight, about 20% off a 25M-cell half-step whose factors miss the cache.
    """
    k = other.shape[1]
    use_half = half.shape[0] > 0
    for t in range(count):
        if start + t + PREFETCH_AHEAD < len(indices):  # into the next rows too
            if use_half:
                prefetch_row(half, indices[start + t + PREFETCH_AHEAD])
            else:
                prefetch_row(other, indices[start + t + PREFETCH_AHEAD])
        col = indices[start + t]
        value = values[start + t]
        c = confidence(value, weights)
        coef[t] = c * target(value, weights)
        weight[t] = c - weights.unobserved
        exact = col
        if use_half:  # other holds only the rows beyond float16's range, if any
            exact = exact_index[col] if len(exact_index) else -1
            if exact < 0:
                half_row_to(half, col, rows, t)
        if exact >= 0:  # never with uint16 rows: solve_cg uses them only without exact rows
            for j in range(k):
                rows[t, j] = other[exact, j]


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _dots_of_four(rows, t, v):
    """The dot products of ``rows[t:t + 4]`` with ``v``, accumulated in v's dtype.

    Four rows per pass share each load of ``v``; one row at a time, the loads
    of ``v`` and the per-row reduction bound the loop.
    """
    # zero in v's dtype (a 0.0 literal would make the sums float64; an infinite v[0]
    # gives NaN instead of inf, which the callers treat alike). The loop must
    # start at 0: from j = 1 its length is k - 1 and the 64-float vector body never
    # runs at k = 64 (the 8-wide and scalar remainders did all the work).
    a0 = a1 = a2 = a3 = v[0] - v[0]
    for j in range(len(v)):
        vj = v[j]
        a0 += rows[t, j] * vj
        a1 += rows[t + 1, j] * vj
        a2 += rows[t + 2, j] * vj
        a3 += rows[t + 3, j] * vj
    return a0, a1, a2, a3


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _dot(rows, t, v):
    """rows[t] . v, accumulated in v's dtype (the tail of :func:`_dots_of_four`)."""
    total = v[0] - v[0]
    for j in range(len(v)):
        total += rows[t, j] * v[j]
    return total


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _add_four_rows(rows, t, c_0, c_1, c_2, c_3, out):
    """out += c_0 rows[t] + c_1 rows[t + 1] + c_2 rows[t + 2] + c_3 rows[t + 3].

    ``out`` is loaded and stored once per four rows instead of once per row
    (it may alias ``rows`` as far as the compiler knows, so it is not kept in
    registers across rows).
    """
    for j in range(len(out)):
        out[j] += (
            c_0 * rows[t, j] + c_1 * rows[t + 1, j] + c_2 * rows[t + 2, j] + c_3 * rows[t + 3, j]
        )


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _accumulate_rows(rows, n, coefficients, out):
    """out += rows[:n].T @ coefficients[:n], four rows per pass."""
    t = 0
    while t + 4 <= n:
        _add_four_rows(
            rows, t, coefficients[t], coefficients[t + 1], coefficients[t + 2], coefficients[t + 3],
            out,
        )  # fmt: skip
        t += 4
    while t < n:
        scale = coefficients[t]
        for j in range(len(out)):
            out[j] += scale * rows[t, j]
        t += 1


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _sparse_product(
    indices, values, other, weights, start, n, resident, rows, weight, coef, v, out, half,
    exact_index,
):  # fmt: skip
    """out += U^T (w * (U v)) over the row's cells.

    A row that fits the buffer (``resident``) was gathered by the first pass;
    a longer one is streamed through the buffer a block at a time.
    """
    capacity = rows.shape[0]
    for block_start in range(0, n, capacity):
        count = min(capacity, n - block_start)
        if not resident:
            _gather_rows(
                indices, values, other, weights, start + block_start, count, rows, weight, coef,
                half, exact_index,
            )  # fmt: skip
        padded_product(rows, count, weight, v, out)


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _residual_and_jacobi(
    indices, values, other, weights, diagonal, row_reg, start, n, rows, weight, coef, x, r, out,
    half, exact_index,
):  # fmt: skip
    """r = b - A x and out = 1 / diag(A) (1 where an entry is not positive), in the eigenbasis.

    This pass gathers the row (a row longer than the buffer leaves its last
    block there). diag(A) is exact in the eigenbasis, where the shared part is
    diagonal, so the preconditioner captures the spread of w0 Y^T Y's spectrum
    (3 preconditioned steps reach the exact solve's loss on MovieLens).
    """
    k = len(diagonal)  # the vectors are padded (kernels.simd); only their first k count
    capacity = rows.shape[0]
    for j in range(k):
        out[j] = diagonal[j] + row_reg
        r[j] = -out[j] * x[j]
    for block_start in range(0, n, capacity):
        count = min(capacity, n - block_start)
        _gather_rows(
            indices, values, other, weights, start + block_start, count, rows, weight, coef,
            half, exact_index,
        )  # fmt: skip
        padded_residual(rows, count, weight, coef, x, r, out)
    for j in range(k):
        d = out[j]
        out[j] = 1.0 / d if d > 0.0 else 1.0


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _preconditioned_cg(
    indices,
    values,
    other,
    weights,
    diagonal,
    row_reg,
    start,
    n,
    resident,
    rows,
    weight,
    coef,
    inverse_diagonal,
    steps,
    x,
    r,
    z,
    p,
    ap,
    half,
    exact_index,
):
    """Up to ``steps`` Jacobi-preconditioned CG steps from ``x`` with residual ``r``.

    Updates ``x`` and ``r`` in place (``z``, ``p``, ``ap`` are scratch) and
    returns the squared residual norm, NaN or inf when the row diverged.
    """
    k = len(diagonal)
    rz_old = 0.0
    rs_old = 0.0
    for j in range(k):
        z[j] = inverse_diagonal[j] * r[j]
        p[j] = z[j]
        rz_old += np.float64(r[j]) * z[j]
        rs_old += np.float64(r[j]) * r[j]
    for _ in range(steps):
        if rs_old < 1e-20 or not rz_old > 0.0:
            break
        _shared_product(diagonal, row_reg, p, ap)
        _sparse_product(
            indices, values, other, weights, start, n, resident, rows, weight, coef, p, ap,
            half, exact_index,
        )  # fmt: skip
        p_ap = 0.0
        for j in range(k):
            p_ap += np.float64(p[j]) * ap[j]
        if not p_ap > 0.0:
            break
        step = rz_old / p_ap
        rz_new = 0.0
        rs_new = 0.0
        for j in range(k):
            x[j] += step * p[j]
            r[j] -= step * ap[j]
            z[j] = inverse_diagonal[j] * r[j]
            rz_new += np.float64(r[j]) * z[j]
            rs_new += np.float64(r[j]) * r[j]
        beta = rz_new / rz_old
        for j in range(k):
            p[j] = z[j] + beta * p[j]
        rz_old = rz_new
        rs_old = rs_new
    return rs_old


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _solve_row(
    indices, values, other, weights, diagonal, row_reg, start, n, rows, weight, coef,
    inverse_diagonal, steps, x, r, z, p, ap, half, exact_index,
):  # fmt: skip
    """One row's CG solve from ``x`` through the buffer ``rows`` (float, or float16 bits);
    returns the squared residual norm (see :func:`_preconditioned_cg`)."""
    _residual_and_jacobi(
        indices, values, other, weights, diagonal, row_reg, start, n, rows, weight, coef, x, r,
        inverse_diagonal, half, exact_index,
    )  # fmt: skip
    return _preconditioned_cg(
        indices, values, other, weights, diagonal, row_reg, start, n, n <= rows.shape[0], rows,
        weight, coef, inverse_diagonal, steps, x, r, z, p, ap, half, exact_index,
    )  # fmt: skip


@njit(parallel=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _solve_cg(
    indptr,
    indices,
    values,
    other,
    diagonal,
    reg,
    weights,
    chunks,
    steps,
    out,
    rows_buffer,
    half_rows_buffer,
    half_rows,
    row_scratch,
    half,
    exact_index,
):
    """Kernel of :func:`solve_cg`, in a basis where ``w0 * other.T @ other`` is ``diag(gram)``.

    Each row's factor rows are gathered once into the thread's contiguous
    buffer; the CG products then stream that buffer (cache-resident for most
    rows) instead of gathering scattered rows of ``other`` at every step, which
    is what bounds a per-nonzero implementation by memory latency. With
    ``half_rows`` the rows go to ``half_rows_buffer`` as float16 bits: the
    same widened values, so the same bits, from half the bytes.
    """
    k = other.shape[1]
    dtype = other.dtype
    n_chunks = len(chunks) - 1
    failures = np.zeros(max(n_chunks, 1), dtype=np.int64)
    padded = rows_buffer.shape[2]
    for chunk in prange(n_chunks):
        thread = get_thread_id()
        rows = rows_buffer[thread]
        rows_in_half = half_rows_buffer[thread]
        weight = row_scratch[thread, 0]
        coef = row_scratch[thread, 1]
        # padded like the rows (kernels.simd): x's and p's padding is never written and
        # stays 0; r's, ap's and inverse_diagonal's is written but never read
        x = np.zeros(padded, dtype=dtype)
        r = np.zeros(padded, dtype=dtype)
        p = np.zeros(padded, dtype=dtype)
        ap = np.zeros(padded, dtype=dtype)
        z = np.zeros(k, dtype=dtype)
        inverse_diagonal = np.zeros(padded, dtype=dtype)
        for row in range(chunks[chunk], chunks[chunk + 1]):
            start, end = indptr[row], indptr[row + 1]
            n = end - start
            row_reg = reg[row]
            for j in range(k):
                x[j] = out[row, j]
            # two calls: numba cannot hold a uint16 and a float buffer in one variable
            if half_rows:
                rs_old = _solve_row(
                    indices, values, other, weights, diagonal, row_reg, start, n, rows_in_half,
                    weight, coef, inverse_diagonal, steps, x, r, z, p, ap, half, exact_index,
                )  # fmt: skip
            else:
                rs_old = _solve_row(
                    indices, values, other, weights, diagonal, row_reg, start, n, rows, weight,
                    coef, inverse_diagonal, steps, x, r, z, p, ap, half, exact_index,
                )  # fmt: skip
            if not np.isfinite(rs_old):
                failures[chunk] += 1
            for j in range(k):
                out[row, j] = x[j]
    return failures.sum()


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _shared_product(diagonal, reg, v, out):
    """out = (diag(diagonal) + reg I) v: the shared part of A in its eigenbasis."""
    for i in range(len(diagonal)):
        out[i] = (diagonal[i] + reg) * v[i]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def gramian(factors, block_rows):
    """``factors.T @ factors`` in float64, summed over fixed row blocks in a fixed order.

    The block partial sums run in parallel, but each is a fixed loop and the
    final sum adds the same blocks in the same order, so the result does not
    depend on the number of threads (a threaded BLAS call would not promise
    that). Rank-1 row updates are contiguous axpys that vectorise fully.
    """
    n, k = factors.shape
    n_blocks = (n + block_rows - 1) // block_rows
    partial = np.zeros((max(n_blocks, 1), k, k), dtype=np.float64)
    for blk in prange(n_blocks):
        start = blk * block_rows
        stop = min(start + block_rows, n)
        accumulator = partial[blk]
        for row in range(start, stop):
            for i in range(k):
                scale = np.float64(factors[row, i])
                for j in range(k):
                    accumulator[i, j] += scale * factors[row, j]
    total = np.zeros((k, k), dtype=np.float64)
    for blk in range(n_blocks):
        total += partial[blk]
    return total

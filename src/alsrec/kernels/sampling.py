"""Gibbs-sampling kernels for Bayesian matrix factorisation (BPMF).

Each row's full conditional is Gaussian: with the other side's design rows
z_i fixed, prior N(m, P^-1) and noise precision tau,

    A_u = P + tau * sum_{i in S_u} z_i z_i^T
    b_u = P m + tau * sum_{i in S_u} v_ui z_i
    x_u ~ N(A_u^-1 b_u, A_u^-1)

The system is assembled by the ALS kernels' own row assembly
(:func:`~alsrec.kernels.solvers.add_row_cells`) in units of tau
(A_u / tau), factorised by the same Cholesky routine, and the draw adds
``L^-T e / sqrt(tau)`` with e standard normal (one extra triangular solve):
if A_u / tau = L L^T, then L^-T e / sqrt(tau) has covariance A_u^-1.

Random numbers come from a counter-based generator: the normals of row
``row`` in sweep ``sweep`` on side ``side`` are a pure function of
``(seed, sweep, side, row, j)`` (SplitMix64 finaliser, Box-Muller), so draws
are bit-identical whatever the number of threads or the chunking of rows.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alsrec.kernels.solvers import (
    BLOCK,
    FASTMATH,
    GRAM_BLOCK,
    _cholesky_solve,
    add_row_cells,
    gramian,
)
from alsrec.kernels.weights import CONFIDENCE_ONE, TARGET_VALUE, make_weights

# c = 1, p = v, w0 = 0: the row system is sum z z^T and sum v z (in units of tau)
_RATINGS = make_weights(0.0, CONFIDENCE_ONE, 0.0, TARGET_VALUE)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_53 = 1.0 / 9007199254740992.0


@njit(inline="always", cache=True)
def _mix(z):
    """SplitMix64's finaliser: a bijective 64-bit hash with full avalanche."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def stream_key(seed, sweep, side, row):
    """The 64-bit key of one row's random stream."""
    key = _mix(np.uint64(seed) + _GOLDEN)
    key = _mix(key ^ (np.uint64(sweep) + _GOLDEN))
    key = _mix(key ^ (np.uint64(side) + _GOLDEN))
    return _mix(key ^ (np.uint64(row) + _GOLDEN))


@njit(cache=True)
def fill_normals(key, out):
    """Standard normals ``out[j]`` from the stream ``key`` (Box-Muller on counter hashes)."""
    n = len(out)
    for pair in range((n + 1) // 2):
        counter = np.uint64(2 * pair)
        h1 = _mix(key + (counter + np.uint64(1)) * _GOLDEN)
        h2 = _mix(key + (counter + np.uint64(2)) * _GOLDEN)
        u1 = (np.float64(h1 >> np.uint64(11)) + 1.0) * _TWO_POW_53  # (0, 1]: log is finite
        u2 = np.float64(h2 >> np.uint64(11)) * _TWO_POW_53
        radius = np.sqrt(-2.0 * np.log(u1))
        angle = 2.0 * np.pi * u2
        out[2 * pair] = radius * np.cos(angle)
        if 2 * pair + 1 < n:
            out[2 * pair + 1] = radius * np.sin(angle)


def standard_normals(seed: int, sweep: int, side: int, row: int, size: int) -> np.ndarray:
    """The ``size`` normals the sampler uses for one row (for tests and fold-in)."""
    out = np.empty(size, dtype=np.float64)
    fill_normals(np.uint64(stream_key(seed, sweep, side, row)), out)
    return out


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _add_cholesky_noise(low, noise, scale, out_row):
    """out_row += scale * L^-T noise (back substitution with the lower factor L); noise is
    overwritten."""
    k = len(noise)
    for i in range(k - 1, -1, -1):
        t = noise[i]
        for p in range(i + 1, k):
            t -= low[p, i] * noise[p]
        noise[i] = t / low[i, i]
    for i in range(k):
        out_row[i] += scale * noise[i]


@njit(parallel=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _sample_rows(
    indptr,
    indices,
    values,
    design,
    scaled_precision,
    scaled_shift,
    weights,
    noise_scale,
    seed,
    sweep,
    side,
    chunks,
    out,
):
    k = design.shape[1]
    n_chunks = len(chunks) - 1
    failures = np.zeros(max(n_chunks, 1), dtype=np.int64)
    for chunk in prange(n_chunks):
        a = np.empty((k, k), dtype=np.float64)
        b = np.empty(k, dtype=np.float64)
        block = np.empty((BLOCK, k), dtype=np.float64)
        weighted = np.empty((BLOCK, k), dtype=np.float64)
        low = np.empty((k, k), dtype=np.float64)
        z = np.empty(k, dtype=np.float64)
        noise = np.empty(k, dtype=np.float64)
        for row in range(chunks[chunk], chunks[chunk + 1]):
            a[:, :] = scaled_precision
            b[:] = scaled_shift
            add_row_cells(
                indptr[row],
                indptr[row + 1],
                indices,
                values,
                design,
                weights,
                True,
                a,
                b,
                block,
                weighted,
            )
            if not _cholesky_solve(a, b, low, z, out[row]):
                failures[chunk] += 1
                continue
            fill_normals(stream_key(seed, sweep, side, row), noise)
            _add_cholesky_noise(low, noise, noise_scale, out[row])
    return failures.sum()


def sample_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    design: np.ndarray,
    prior_precision: np.ndarray,
    prior_mean: np.ndarray,
    noise_precision: float,
    seed: int,
    sweep: int,
    side: int,
    chunks: np.ndarray,
    out: np.ndarray,
) -> int:
    """Draw every row from its Gaussian full conditional; returns rows that failed.

    Parameters
    ----------
    indptr, indices, values : CSR arrays of the rows being drawn; ``values``
        are the targets v_ui (ratings minus every term not in the row's vector).
    design : (n_other, d) float64
        z_i, the other side's rows the row's vector multiplies.
    prior_precision, prior_mean : (d, d) and (d,) float64
        P and m of the shared Gaussian prior N(m, P^-1).
    noise_precision : float
        tau, the precision of the rating noise.
    seed, sweep, side : int
        Name the random stream; row ``r`` uses ``(seed, sweep, side, r)``.
    chunks : row ranges from :func:`~alsrec.kernels.balanced_chunks`.
    out : (n_rows, d) float64
        The draws; a row whose system is not numerically positive definite
        keeps its previous value and counts as failed.
    """
    tau = float(noise_precision)
    scaled_precision = np.ascontiguousarray(prior_precision / tau)
    scaled_shift = np.ascontiguousarray(prior_precision @ prior_mean / tau)
    return int(
        _sample_rows(
            indptr,
            indices,
            values,
            design,
            scaled_precision,
            scaled_shift,
            _RATINGS,
            1.0 / np.sqrt(tau),
            np.int64(seed),
            np.int64(sweep),
            np.int64(side),
            chunks,
            out,
        )
    )


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def row_residuals(indptr, indices, values, left, right, offset, out_sum, out_squares):
    """Per row u: sum and sum of squares of e_ui = v_ui - offset - left[u] . right[i].

    Per-row partial sums (added up afterwards in a fixed order) keep the
    totals independent of the number of threads.
    """
    k = left.shape[1]
    for row in prange(len(indptr) - 1):
        total = 0.0
        squares = 0.0
        for nz in range(indptr[row], indptr[row + 1]):
            col = indices[nz]
            prediction = offset
            for j in range(k):
                prediction += left[row, j] * right[col, j]
            e = values[nz] - prediction
            total += e
            squares += e * e
        out_sum[row] = total
        out_squares[row] = squares


def sample_wishart(
    rng: np.random.Generator, scale: np.ndarray, degrees_of_freedom: float
) -> np.ndarray:
    """One draw of W(scale, df) by Bartlett's decomposition: L A A^T L^T, scale = L L^T."""
    d = scale.shape[0]
    low = np.linalg.cholesky(scale)
    bartlett = np.zeros((d, d))
    for i in range(d):
        bartlett[i, i] = np.sqrt(rng.chisquare(degrees_of_freedom - i))
        bartlett[i, :i] = rng.standard_normal(i)
    factor = low @ bartlett
    return factor @ factor.T


def sample_normal_wishart(
    rng: np.random.Generator,
    rows: np.ndarray,
    mean0: np.ndarray,
    beta0: float,
    scale0_inverse: np.ndarray,
    nu0: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior draw of (mean, precision) of Gaussian ``rows`` under a Normal-Wishart prior.

    Prior: precision ~ W(W0, nu0), mean | precision ~ N(mean0, (beta0 precision)^-1).
    With n rows of sample mean xbar and scatter S (Salakhutdinov & Mnih 2008, eq. 14):

        beta_n = beta0 + n,  nu_n = nu0 + n,  mean_n = (beta0 mean0 + n xbar) / beta_n
        W_n^-1 = W0^-1 + S + beta0 n / beta_n (xbar - mean0)(xbar - mean0)^T

    Returns ``(mean, precision)``.
    """
    n, d = rows.shape
    xbar = rows.mean(axis=0)
    centred = rows - xbar
    scatter = gramian(np.ascontiguousarray(centred), GRAM_BLOCK)  # fixed order, no BLAS
    beta_n = beta0 + n
    gap = xbar - mean0
    scale_inverse = scale0_inverse + scatter + (beta0 * n / beta_n) * np.outer(gap, gap)
    scale_inverse = (scale_inverse + scale_inverse.T) / 2
    precision = sample_wishart(rng, np.linalg.inv(scale_inverse), nu0 + n)
    mean_n = (beta0 * mean0 + n * xbar) / beta_n
    covariance_low = np.linalg.cholesky(np.linalg.inv(beta_n * precision))
    mean = mean_n + covariance_low @ rng.standard_normal(d)
    return mean, precision

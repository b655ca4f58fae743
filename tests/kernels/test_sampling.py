"""Gibbs-sampling kernels held to closed forms: Gaussian conditionals, Wishart moments."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from alsrec.kernels import balanced_chunks
from alsrec.kernels.sampling import (
    row_residuals,
    sample_normal_wishart,
    sample_rows,
    sample_wishart,
    standard_normals,
)


def test_counter_streams_are_standard_normal_and_a_pure_function_of_their_name():
    draws = np.concatenate([standard_normals(7, 3, 0, row, 11) for row in range(20_000)])
    assert abs(draws.mean()) < 4 / np.sqrt(len(draws))
    assert abs(draws.var() - 1.0) < 4 * np.sqrt(2 / len(draws))
    assert abs(np.mean(draws**4) - 3.0) < 0.05  # Gaussian kurtosis, not just two moments
    # neighbouring coordinates and neighbouring rows are uncorrelated
    pairs = draws.reshape(-1, 11)
    assert abs(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) < 0.03
    assert abs(np.corrcoef(pairs[:-1, 0], pairs[1:, 0])[0, 1]) < 0.03
    np.testing.assert_array_equal(standard_normals(7, 3, 0, 5, 11), pairs[5])
    for other in [(8, 3, 0, 5), (7, 4, 0, 5), (7, 3, 1, 5), (7, 3, 0, 6)]:
        assert not np.array_equal(standard_normals(*other, 11), pairs[5])


def frozen_problem(n_draws, seed=0):
    """One row's cells repeated ``n_draws`` times: every row is an independent draw."""
    rng = np.random.default_rng(seed)
    d, n_other, cells = 3, 30, [2, 5, 7, 11, 19, 23]
    design = rng.normal(size=(n_other, d))
    values = rng.normal(size=len(cells))
    indptr = np.arange(n_draws + 1, dtype=np.int64) * len(cells)
    indices = np.tile(np.array(cells, np.int64), n_draws)
    root = rng.normal(size=(d, d))
    precision = root @ root.T + np.eye(d)
    mean = np.array([0.5, -1.0, 2.0])
    tau = 2.5
    z = design[cells]
    system = precision + tau * z.T @ z  # A_u
    ridge = np.linalg.solve(system, precision @ mean + tau * z.T @ values)
    return (indptr, indices, np.tile(values, n_draws), design, precision, mean, tau), system, ridge


def draw(problem, seed=3, sweep=0, chunks=8):
    indptr, indices, values, design, precision, mean, tau = problem
    out = np.zeros((len(indptr) - 1, design.shape[1]))
    chunk_bounds = balanced_chunks(indptr, design.shape[1], chunks)
    failed = sample_rows(
        indptr, indices, values, design, precision, mean, tau, seed, sweep, 0, chunk_bounds, out
    )
    assert failed == 0
    return out


def test_draws_with_frozen_prior_and_items_have_the_ridge_mean_and_covariance_a_inverse():
    n = 40_000
    problem, system, ridge = frozen_problem(n)
    draws = draw(problem)
    covariance = np.linalg.inv(system)
    standard_error = np.sqrt(np.diag(covariance) / n)
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - ridge), 4.5 * standard_error)
    sample_cov = np.cov(draws, rowvar=False)
    # sampling error of a covariance entry ~ sqrt((s_ii s_jj + s_ij^2) / n)
    scale = np.sqrt((np.outer(np.diag(covariance), np.diag(covariance)) + covariance**2) / n)
    np.testing.assert_array_less(np.abs(sample_cov - covariance), 4.5 * scale)


def test_draws_are_bit_identical_on_one_or_two_threads_and_any_chunking():
    problem, _, _ = frozen_problem(500, seed=1)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = draw(problem, chunks=1)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = draw(problem, chunks=16)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, draw(problem, sweep=1))  # a new sweep, new draws


def test_row_residuals_are_per_row_sums_of_errors():
    rng = np.random.default_rng(0)
    matrix = sp.random(7, 9, density=0.4, random_state=1, format="csr")
    left, right = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    sums, squares = np.empty(7), np.empty(7)
    row_residuals(
        matrix.indptr.astype(np.int64),
        matrix.indices.astype(np.int64),
        matrix.data,
        left,
        right,
        0.75,
        sums,
        squares,
    )
    errors = (matrix.toarray() - 0.75 - left @ right.T) * (matrix.toarray() != 0)
    np.testing.assert_allclose(sums, errors.sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(squares, (errors**2).sum(axis=1), atol=1e-12)


def test_wishart_draws_have_mean_df_times_scale():
    rng = np.random.default_rng(0)
    scale = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]])
    df, n = 6.0, 20_000
    draws = np.array([sample_wishart(rng, scale, df) for _ in range(n)])
    np.testing.assert_allclose(draws.mean(axis=0), df * scale, atol=0.06)
    # Var(W_ii) = 2 df scale_ii^2
    np.testing.assert_allclose(draws[:, 0, 0].var(), 2 * df * scale[0, 0] ** 2, rtol=0.06)


def test_normal_wishart_posterior_concentrates_on_the_rows_mean_and_precision():
    rng = np.random.default_rng(1)
    true_mean = np.array([1.0, -2.0, 0.5])
    true_cov = np.array([[1.0, 0.4, 0.0], [0.4, 2.0, 0.3], [0.0, 0.3, 0.5]])
    rows = rng.multivariate_normal(true_mean, true_cov, size=50_000)
    mean, precision = sample_normal_wishart(rng, rows, np.zeros(3), 2.0, np.eye(3), 3.0)
    np.testing.assert_allclose(mean, true_mean, atol=0.03)
    np.testing.assert_allclose(precision, np.linalg.inv(true_cov), atol=0.05)


@pytest.mark.parametrize("tau", [0.1, 10.0])
def test_a_row_without_cells_is_a_draw_from_the_prior(tau):
    rng = np.random.default_rng(2)
    n, d = 30_000, 2
    precision = np.array([[4.0, 1.0], [1.0, 2.0]])
    mean = np.array([1.0, -1.0])
    out = np.zeros((n, d))
    indptr = np.zeros(n + 1, dtype=np.int64)
    chunks = balanced_chunks(indptr, d, 4)
    design = rng.normal(size=(3, d))
    assert (
        sample_rows(
            indptr,
            np.zeros(0, np.int64),
            np.zeros(0),
            design,
            precision,
            mean,
            tau,
            0,
            0,
            0,
            chunks,
            out,
        )
        == 0
    )
    np.testing.assert_allclose(out.mean(axis=0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.linalg.inv(precision), atol=0.01)

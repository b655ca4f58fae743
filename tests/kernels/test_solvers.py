"""Fast kernels held to the dense numpy reference on small matrices."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit

from alsrec.kernels import (
    balanced_chunks,
    gramian,
    make_weights,
    objective,
    observed_loss,
    solve_cg,
    solve_cholesky,
    solvers,
)
from alsrec.kernels import reference as ref
from alsrec.kernels.simd import half_row_to, padded_product, padded_residual, padded_width
from alsrec.kernels.solvers import (
    HALF_GATHER_MIN_BYTES,
    half_copy,
    prefers_half_gathers,
    times_small,
    times_small_to_half,
)
from alsrec.kernels.weights import CONFIDENCE_CODES, TARGET_CODES, cell_weights

# (w0, confidence, alpha, target): explicit, implicit (Hu), implicit (implicit lib), zeros, custom
SETTINGS = [
    (0.0, "one", 0.0, "value"),
    (1.0, "linear", 2.0, "one"),
    (1.0, "scaled", 3.0, "one"),
    (1.0, "one", 0.0, "value"),
    (0.3, "log", 4.0, "value"),
]


def random_csr(n_rows, n_cols, density, seed, long_row=True):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_rows, n_cols)) < density) * rng.integers(1, 6, (n_rows, n_cols))
    if long_row:
        dense[0] = rng.integers(1, 6, n_cols)  # a row long enough for the blocked gemm path
    matrix = sp.csr_matrix(dense.astype(np.float32))
    matrix.indices = matrix.indices.astype(np.int32)
    matrix.indptr = matrix.indptr.astype(np.int32)
    return matrix


def weights(w0, conf, alpha, tgt):
    return make_weights(w0, CONFIDENCE_CODES[conf], alpha, TARGET_CODES[tgt])


def run_solver(
    kind, matrix, other, reg, w0, conf, alpha, tgt, out, steps=3, short_max=None, half=None
):
    chunks = balanced_chunks(matrix.indptr, other.shape[1], 5)
    args = (
        matrix.indptr,
        matrix.indices,
        matrix.data,
        other,
        reg,
        weights(w0, conf, alpha, tgt),
        chunks,
    )
    if kind == "cg":
        return solve_cg(*args, steps, out, half_gathers=half)
    return solve_cholesky(*args, out, short_max=short_max)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("short_max", [0, 4, 1000])  # general path, mixed, Woodbury everywhere
@pytest.mark.parametrize("k", [6, 9])  # the Gram update takes rows of A in pairs; 9 leaves one
def test_cholesky_half_step_equals_closed_form_ridge(setting, dtype, short_max, k):
    w0, conf, alpha, tgt = setting
    matrix = random_csr(40, 75, 0.2, seed=1)  # a 75-cell row: 4-cell passes and a remainder
    other = np.random.default_rng(2).normal(size=(matrix.shape[1], k)).astype(dtype)
    reg = np.linspace(0.1, 2.0, matrix.shape[0])
    out = np.zeros((matrix.shape[0], k), dtype=dtype)
    failed = run_solver(
        "cholesky", matrix, other, reg, w0, conf, alpha, tgt, out, short_max=short_max
    )
    expected = ref.solve_rows(matrix, other, reg, weights(w0, conf, alpha, tgt))
    assert failed == 0
    tol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("k", [5, 12])  # one padded vector of 8 float64 lanes, or two
def test_cg_with_k_steps_matches_cholesky(setting, k):
    w0, conf, alpha, tgt = setting
    matrix = random_csr(30, 50, 0.3, seed=3)
    other = np.random.default_rng(4).normal(size=(50, k))
    reg = np.full(30, 0.5)
    exact = np.zeros((30, k))
    run_solver("cholesky", matrix, other, reg, w0, conf, alpha, tgt, exact)
    approx = np.random.default_rng(5).normal(size=(30, k))  # any warm start
    run_solver("cg", matrix, other, reg, w0, conf, alpha, tgt, approx, steps=k)
    np.testing.assert_allclose(approx, exact, rtol=1e-6, atol=1e-6)


def test_cg_improves_monotonically_from_warm_start():
    matrix = random_csr(30, 50, 0.3, seed=3)
    other = np.random.default_rng(4).normal(size=(50, 8))
    reg = np.full(30, 0.5)
    exact = np.zeros((30, 8))
    run_solver("cholesky", matrix, other, reg, 1.0, "linear", 1.0, "one", exact)
    start = np.zeros((30, 8))
    errors = []
    for steps in (1, 2, 4, 8):
        x = start.copy()
        run_solver("cg", matrix, other, reg, 1.0, "linear", 1.0, "one", x, steps=steps)
        errors.append(np.abs(x - exact).max())
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-6


def test_zeros_setting_is_the_blogs_dense_ridge():
    # the blog: U = R V (V^T V + lambda I)^-1 with missing ratings set to 0
    matrix = random_csr(25, 30, 0.25, seed=7, long_row=False)
    v = np.random.default_rng(8).normal(size=(30, 4))
    lam = 0.001
    out = np.zeros((25, 4))
    run_solver("cholesky", matrix, v, np.full(25, lam), 1.0, "one", 0.0, "value", out)
    blog = matrix.toarray() @ v @ np.linalg.inv(v.T @ v + lam * np.eye(4))
    np.testing.assert_allclose(out, blog, rtol=1e-8, atol=1e-10)


def test_empty_row_without_prior_gets_zero_factors():
    matrix = sp.csr_matrix(np.array([[0, 0, 0], [1, 2, 0]], dtype=np.float32))
    other = np.eye(3, 2)
    out = np.full((2, 2), 7.0)
    failed = run_solver("cholesky", matrix, other, np.zeros(2), 0.0, "one", 0.0, "value", out)
    assert failed == 0
    assert out[0].tolist() == [0.0, 0.0]


def test_singular_rows_are_counted_not_hidden():
    matrix = sp.csr_matrix(np.array([[1, 0, 0], [1, 2, 0]], dtype=np.float32))
    other = np.ones((3, 2))  # rank one: every A_u is singular without regularisation
    out = np.zeros((2, 2))
    failed = run_solver(
        "cholesky", matrix, other, np.zeros(2), 0.0, "one", 0.0, "value", out, short_max=0
    )
    assert failed == 2
    out = np.zeros((2, 2))
    failed = run_solver("cholesky", matrix, other, np.zeros(2), 0.0, "one", 0.0, "value", out)
    assert failed == 2  # the Woodbury path falls back and finds the same


@pytest.mark.parametrize("setting", SETTINGS)
def test_loss_kernel_equals_dense_objective(setting):
    w0, conf, alpha, tgt = setting
    matrix = random_csr(20, 15, 0.3, seed=9)
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(15, 3))
    user_reg, item_reg = rng.random(20), rng.random(15)
    fast = objective(
        matrix.indptr,
        matrix.indices,
        matrix.data,
        x,
        y,
        user_reg,
        item_reg,
        weights(w0, conf, alpha, tgt),
    )
    dense = ref.dense_objective(matrix, x, y, user_reg, item_reg, weights(w0, conf, alpha, tgt))
    assert fast == pytest.approx(dense, rel=1e-10)


@pytest.mark.parametrize("setting", SETTINGS)
def test_observed_loss_of_row_blocks_adds_up_to_the_objective(setting):
    # what the Spark backend does: observed terms per block, the Gram term and penalties apart
    w0, conf, alpha, tgt = setting
    matrix = random_csr(20, 15, 0.3, seed=9)
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(15, 3))
    user_reg, item_reg = rng.random(20), rng.random(15)
    w = weights(w0, conf, alpha, tgt)
    observed = sum(
        observed_loss(part.indptr, part.indices, part.data, x[lo:hi], y, w)
        for lo, hi in ((0, 7), (7, 20))
        for part in [matrix[lo:hi]]
    )
    total = (
        observed
        + w0 * float(np.sum((x.T @ x) * (y.T @ y)))
        + user_reg @ (x * x).sum(1)
        + item_reg @ (y * y).sum(1)
    )
    dense = ref.dense_objective(matrix, x, y, user_reg, item_reg, w)
    assert total == pytest.approx(dense, rel=1e-10)


@pytest.mark.parametrize("kind", ["cholesky", "cg"])
def test_a_given_gram_replaces_the_computed_one(kind):
    # A_u = gram + sum_{i in S_u} (c - w0) y_i y_i^T + reg_u I,  b_u = sum_{i in S_u} c p y_i
    matrix = random_csr(12, 20, 0.3, seed=11)
    other = np.random.default_rng(12).normal(size=(20, 4))
    reg = np.full(12, 0.5)
    w = weights(1.0, "linear", 2.0, "one")
    gram = 3.0 * other.T @ other + np.diag([1.0, 2.0, 3.0, 4.0])  # not w0 Y^T Y
    c, p = cell_weights(matrix.data, w)
    expected = np.zeros((12, 4))
    for u in range(12):
        cells = slice(matrix.indptr[u], matrix.indptr[u + 1])
        ys = other[matrix.indices[cells]]
        a = gram + ys.T @ ((c[cells] - 1.0)[:, None] * ys) + 0.5 * np.eye(4)
        expected[u] = np.linalg.solve(a, ys.T @ (c[cells] * p[cells]))
    out = np.zeros((12, 4))
    args = (matrix.indptr, matrix.indices, matrix.data, other, reg, w)
    chunks = balanced_chunks(matrix.indptr, 4, 3)
    if kind == "cg":
        failed = solve_cg(*args, chunks, 8, out, gram=gram)
    else:
        failed = solve_cholesky(*args, chunks, out, gram=gram)
    assert failed == 0
    np.testing.assert_allclose(out, expected, rtol=1e-8, atol=1e-8)


def test_gramian_matches_numpy_and_ignores_block_size():
    f = np.random.default_rng(0).normal(size=(1000, 7))
    np.testing.assert_allclose(gramian(f, 64), f.T @ f, rtol=1e-12)
    np.testing.assert_allclose(gramian(f, 10_000), f.T @ f, rtol=1e-12)


def test_balanced_chunks_cover_rows_and_balance_cost():
    indptr = np.concatenate([[0], np.cumsum([1000] + [1] * 999)])
    chunks = balanced_chunks(indptr, 4, 4)
    assert chunks[0] == 0
    assert chunks[-1] == 1000
    assert np.all(np.diff(chunks) > 0)
    # cost (1000 + 4) * 4 for row 0 against (1 + 4) * 4 for the rest: the first chunk
    # holds row 0 and far fewer light rows than the others
    assert chunks[1] < 150 < 250 < np.diff(chunks)[1:].min()


@pytest.mark.parametrize("n_rows", [1, 3, 4, 63, 64, 130])  # around the 4-row and 64-row blocks
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("k", "width"), [(7, 5), (9, 100)])  # one vector; a tile and a part
def test_times_small_is_a_matrix_product_in_place_or_not(n_rows, dtype, k, width):
    rng = np.random.default_rng(n_rows)
    matrix = rng.standard_normal((n_rows, k)).astype(dtype)
    small = rng.standard_normal((k, width)).astype(dtype)
    out = np.empty((n_rows, width), dtype=dtype)
    times_small(matrix, small, out)
    np.testing.assert_allclose(out, matrix.astype(np.float64) @ small, rtol=1e-5, atol=1e-5)
    # square and in place (as the rotations use it): the same numbers, bit for bit
    square = rng.standard_normal((k, k)).astype(dtype)
    expected = np.empty_like(matrix)
    times_small(matrix, square, expected)
    times_small(matrix, square, matrix)
    np.testing.assert_array_equal(matrix, expected)


@pytest.mark.parametrize("k", [5, 6, 7, 64])
def test_times_small_gives_a_row_the_same_bits_wherever_it_sits(k):
    # Spark solves blocks of rows: a row's rotation must not depend on its neighbours
    rng = np.random.default_rng(k)
    matrix = rng.standard_normal((71, k)).astype(np.float32)
    small = rng.standard_normal((k, k)).astype(np.float32)
    together = np.empty_like(matrix)
    times_small(matrix, small, together)
    for start, stop in ((0, 1), (3, 4), (5, 12), (64, 71)):
        part = np.empty((stop - start, k), dtype=np.float32)
        times_small(np.ascontiguousarray(matrix[start:stop]), small, part)
        np.testing.assert_array_equal(part, together[start:stop])


@njit
def _padded_passes(rows, n, weight, coef, v, product, residual, diagonal):
    padded_product(rows, n, weight, v, product)
    padded_residual(rows, n, weight, coef, v, residual, diagonal)


# k: one vector, a partial last tile (5 = 4 + 1 and 7 = 4 + 3 vectors), full tiles, and
# float64's 8 lanes; n: every remainder of the 8-row projections and of the row pairs,
# and more than one 32-row block
@pytest.mark.parametrize(
    ("k", "dtype"),
    [(7, np.float32), (64, np.float32), (80, np.float32), (100, np.float32), (13, np.float64)],
)
@pytest.mark.parametrize("n", [*range(18), 31, 32, 33, 70])
def test_cg_row_passes_match_numpy_on_every_tail_length(n, k, dtype):
    rng = np.random.default_rng(n)
    width = padded_width(k, np.dtype(dtype).itemsize)
    rows = np.zeros((72, width), dtype=dtype)
    rows[:, :k] = rng.standard_normal((72, k))
    rows[n:] = np.nan  # rows past n must not be read
    v = np.zeros(width, dtype=dtype)
    v[:k] = rng.standard_normal(k)
    weight = rng.standard_normal(72).astype(dtype)
    coef = rng.standard_normal(72).astype(dtype)
    start = np.zeros(width, dtype=dtype)
    start[:k] = rng.standard_normal(k)
    used = rows[:n, :k].astype(np.float64)

    diagonal_start = start[::-1].copy()
    diagonal_start[k:] = 0.0
    product, residual, diagonal = start.copy(), start.copy(), diagonal_start.copy()
    _padded_passes(rows, n, weight, coef, v, product, residual, diagonal)
    expected = start[:k] + used.T @ (weight[:n] * (used @ v[:k]))
    np.testing.assert_allclose(product[:k], expected, rtol=1e-4, atol=1e-4)
    expected = start[:k] + used.T @ (coef[:n] - weight[:n] * (used @ v[:k]))
    np.testing.assert_allclose(residual[:k], expected, rtol=1e-4, atol=1e-4)
    expected = diagonal_start[:k] + (used**2).T @ weight[:n]
    np.testing.assert_allclose(diagonal[:k], expected, rtol=1e-4, atol=1e-4)
    # zero padding stays zero: callers never mask a tail
    for padded in (product, residual, diagonal):
        assert not padded[k:].any()


def _half_rows_case(n, k, seed):
    """Rows rounded to float16 (padded, as float32 and as bits) and the pass vectors."""
    rng = np.random.default_rng(seed)
    width = padded_width(k, 4)
    singles = np.zeros((72, width), np.float32)
    singles[:n, :k] = rng.standard_normal((n, k)).astype(np.float16)
    singles[n:] = np.nan  # rows past n must not be read
    bits = singles.astype(np.float16).view(np.uint16)
    v = np.zeros(width, np.float32)
    v[:k] = rng.standard_normal(k)
    weight, coef = rng.standard_normal((2, 72)).astype(np.float32)
    start = np.zeros(width, np.float32)
    start[:k] = rng.standard_normal(k)
    return singles, bits, weight, coef, v, start


def _passes_of_both_buffers(n, k, seed):
    singles, bits, weight, coef, v, start = _half_rows_case(n, k, seed)
    results = []
    for rows in (singles, bits):
        outputs = [start.copy(), start.copy(), start[::-1].copy()]
        _padded_passes(rows, n, weight, coef, v, *outputs)
        results.append(outputs)
    return results


@pytest.mark.parametrize("k", [7, 64, 80, 100, 128])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 33, 70])
def test_cg_row_passes_over_float16_bits_give_the_bits_of_the_widened_rows(n, k):
    # long rows keep their gathered rows as float16 bits: the passes must add the very
    # same values in the very same order as over the float32 buffer
    over_singles, over_bits = _passes_of_both_buffers(n, k, seed=n + k)
    for single, half in zip(over_singles, over_bits, strict=True):
        np.testing.assert_array_equal(half, single)


def test_cg_row_passes_over_float16_bits_are_the_same_on_a_cpu_without_f16c(tmp_path):
    # F16C widens where the CPU has it; a generic x86-64 build widens by integer
    # operations, which must give the same bits (a fresh compile, in a fresh process)
    script = tmp_path / "passes.py"
    script.write_text(
        "import sys, numpy as np\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_solvers import _passes_of_both_buffers\n"
        "np.save(sys.argv[2], np.array([_passes_of_both_buffers(33, 80, 5)]))\n"
    )
    environment = {
        **os.environ,
        "NUMBA_CPU_NAME": "generic",
        "NUMBA_CPU_FEATURES": "",
        "NUMBA_CACHE_DIR": str(tmp_path),
    }
    target = tmp_path / "generic.npy"
    subprocess.run(
        [sys.executable, str(script), str(Path(__file__).parent), str(target)],
        env=environment,
        check=True,
        timeout=600,
    )
    generic = np.load(target)[0]
    np.testing.assert_array_equal(generic[0], generic[1])  # the two buffers, generic build
    np.testing.assert_array_equal(generic, np.array(_passes_of_both_buffers(33, 80, 5)))


def test_float16_rows_are_widened_by_f16c_exactly_where_the_target_has_it():
    # the integer widening is exact too, so only the instructions tell whether the fast
    # path is taken where it can be (it reads numba's target features)
    from llvmlite import binding

    features = os.environ.get("NUMBA_CPU_FEATURES")
    if features is None and not os.environ.get("NUMBA_CPU_NAME"):
        has_f16c = bool(binding.get_host_cpu_features().get("f16c"))
    else:
        has_f16c = "+f16c" in (features or "")
    _passes_of_both_buffers(9, 64, 0)
    listings = _padded_passes.inspect_asm()
    half = [asm for signature, asm in listings.items() if "uint16" in str(signature[0])]
    assert half
    assert all(("vcvtph2ps" in asm) == has_f16c for asm in half)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("capacity", [5, 1 << 15])  # long rows streamed, and resident
def test_float16_row_buffers_change_no_bit_of_the_solves(setting, capacity, monkeypatch):
    # half gathers keep the gathered rows as float16 bits, unless a fixed row beyond
    # float16's range forces the float32 buffer: one such row that no cell touches
    # switches buffers and must change nothing else
    w0, conf, alpha, tgt = setting
    matrix = random_csr(40, 120, 0.3, seed=8)
    matrix.resize(40, 121)
    other = np.random.default_rng(9).normal(scale=0.3, size=(121, 20)).astype(np.float32)
    other[120] = 1e6
    gram = w0 * other[:120].astype(np.float64).T @ other[:120].astype(np.float64)
    monkeypatch.setattr(solvers, "ROW_BUFFER_CAP", capacity)
    results = []
    for fixed in (other[:120], other):  # float16 buffer, then float32 buffer
        x = np.zeros((40, 20), np.float32)
        solve_cg(
            matrix.indptr, matrix.indices, matrix.data, np.ascontiguousarray(fixed),
            np.full(40, 0.3), weights(w0, conf, alpha, tgt),
            balanced_chunks(matrix.indptr, 20, 5), 3, x, gram=gram, half_gathers=True,
        )  # fmt: skip
        results.append(x)
    assert np.isfinite(results[0]).all()
    np.testing.assert_array_equal(results[1], results[0])


def test_half_copy_holds_numpys_float16_bits_and_flags_what_float16_cannot_hold():
    rng = np.random.default_rng(0)
    other = rng.normal(scale=300.0, size=(37, 21)).astype(np.float32)
    other[0, :6] = [6e-8, 3e-5, -65504.0, 65504.0, 1e-3, -0.0]  # subnormal, range edge
    half, beyond = half_copy(other)
    assert half.shape == (37, 32)  # rows padded to whole 16-lane vectors, with zeros
    np.testing.assert_array_equal(half[:, :21], other.astype(np.float16).view(np.uint16))
    assert not half[:, 21:].any()
    assert not beyond.any()
    for bad in (65520.0, 70000.0, -np.inf, np.nan):
        spoiled = other.copy()
        spoiled[5, 7] = bad
        assert np.flatnonzero(half_copy(spoiled)[1]).tolist() == [5]


def test_float16_bits_round_to_nearest_even_and_widen_exactly_like_numpy():
    # every float16 bit pattern widens exactly; float32s round as numpy rounds them
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    finite = every[np.isfinite(every.view(np.float16))]
    widened = _widen(finite.reshape(-1, 16))
    np.testing.assert_array_equal(
        widened, finite.view(np.float16).astype(np.float32).reshape(-1, 16)
    )
    rng = np.random.default_rng(3)
    singles = np.concatenate(
        [
            rng.normal(scale=10.0 ** rng.uniform(-9, 4.8, 20000)).astype(np.float32),
            finite.view(np.float16).astype(np.float32),  # exact halves
            (
                finite.view(np.float16).astype(np.float32)[:-1]
                + finite.view(np.float16).astype(np.float32)[1:]
            )
            / 2,
        ]
    )
    singles = singles[np.abs(singles) <= 65504]
    singles = singles[: len(singles) // 16 * 16].reshape(-1, 16)
    half, beyond = half_copy(singles)
    np.testing.assert_array_equal(half, singles.astype(np.float16).view(np.uint16))
    assert not beyond.any()


@njit
def _widen_rows(bits, out):
    for row in range(bits.shape[0]):
        half_row_to(bits, row, out, row)


def _widen(bits):
    out = np.empty(bits.shape, dtype=np.float32)
    _widen_rows(np.ascontiguousarray(bits), out)
    return out


def test_half_gathers_are_chosen_for_float32_fixed_sides_beyond_the_cache():
    rows_at_threshold = HALF_GATHER_MIN_BYTES // (64 * 4)
    assert prefers_half_gathers(rows_at_threshold, 64, np.float32)
    assert not prefers_half_gathers(rows_at_threshold - 1, 64, np.float32)
    assert not prefers_half_gathers(10 * rows_at_threshold, 64, np.float64)
    # k <= 8: a padded float16 row (16 values) is no smaller than the float32 row
    assert not prefers_half_gathers(10 * rows_at_threshold, 8, np.float32)
    assert prefers_half_gathers(10 * rows_at_threshold, 9, np.float32)


def test_half_gathers_refuse_float64_factors():
    matrix = random_csr(30, 50, 0.3, seed=3)
    other = np.random.default_rng(4).normal(size=(50, 6))
    with pytest.raises(ValueError, match="half_gathers needs float32"):
        run_solver(
            "cg",
            matrix,
            other,
            np.ones(30),
            1.0,
            "linear",
            2.0,
            "one",
            np.zeros((30, 6)),
            half=True,
        )


@pytest.mark.parametrize("k", [5, 20])
def test_half_gathers_of_float16_exact_factors_change_no_bit(k):
    # explicit (w0 = 0): no rotation, so gathering factors that float16 holds exactly
    # must give the very same solves; other weights compare below
    matrix = random_csr(30, 50, 0.3, seed=3)
    other = np.random.default_rng(4).integers(-64, 64, size=(50, k)).astype(np.float32) / 32
    reg = np.full(30, 0.5)
    full, half = (np.ones((30, k), np.float32) for _ in range(2))
    run_solver("cg", matrix, other, reg, 0.0, "one", 0.0, "value", full, half=False)
    run_solver("cg", matrix, other, reg, 0.0, "one", 0.0, "value", half, half=True)
    np.testing.assert_array_equal(half, full)


@pytest.mark.parametrize("setting", SETTINGS)
def test_half_gathers_reach_the_loss_of_full_precision(setting):
    w0, conf, alpha, tgt = setting
    matrix = random_csr(60, 90, 0.2, seed=5)
    rng = np.random.default_rng(6)
    other = rng.normal(scale=0.3, size=(90, 16)).astype(np.float32)
    reg = np.full(60, 0.3)
    full, half = (np.zeros((60, 16), np.float32) for _ in range(2))
    run_solver("cg", matrix, other, reg, w0, conf, alpha, tgt, full, steps=16, half=False)
    run_solver("cg", matrix, other, reg, w0, conf, alpha, tgt, half, steps=16, half=True)
    # the solves use factors rounded to 11 bits: close, not equal
    assert not np.array_equal(half, full)
    np.testing.assert_allclose(half, full, rtol=0.02, atol=0.02)
    w = weights(w0, conf, alpha, tgt)
    y_reg = np.zeros(90)
    losses = [
        objective(matrix.indptr, matrix.indices, matrix.data, x, other, reg, y_reg, w)
        for x in (full, half)
    ]
    assert abs(losses[1] - losses[0]) <= 1e-4 * losses[0]


@pytest.mark.parametrize("w0", [0.0, 1.0])  # without and with the rotation
def test_rows_beyond_float16_range_are_gathered_exactly_and_a_subset_matches(w0):
    # the rule is per fixed row, so solving against only the rows a block touches (as
    # a routed Spark block does) gives the bits of solving against the whole side
    rng = np.random.default_rng(4)
    matrix = random_csr(30, 50, 0.3, seed=3)
    other = rng.normal(size=(50, 20)).astype(np.float32)
    other[7, 2] = 1e5  # beyond float16's range: gathered in full precision
    other[49, 0] = -1e6
    matrix = sp.csr_matrix(matrix[:, :49])  # no row touches fixed row 49
    matrix.resize(30, 50)
    touched = np.unique(matrix.indices)
    assert 7 in touched
    assert 49 not in touched
    gram = w0 * other.astype(np.float64).T @ other.astype(np.float64)
    settings = weights(w0, "linear", 2.0, "one")
    reg = np.full(30, 0.5)
    results = []
    for fixed, indices in (
        (other, matrix.indices),
        (other[touched], np.searchsorted(touched, matrix.indices)),
    ):
        x = np.zeros((30, 20), np.float32)
        chunks = balanced_chunks(matrix.indptr, 20, 5)
        indices = indices.astype(matrix.indices.dtype)
        solve_cg(
            matrix.indptr,
            indices,
            matrix.data,
            np.ascontiguousarray(fixed),
            reg,
            settings,
            chunks,
            3,
            x,
            gram=gram,
            half_gathers=True,
        )
        results.append(x)
    np.testing.assert_array_equal(results[0], results[1])
    assert np.isfinite(results[0]).all()
    exact = np.zeros((30, 20), np.float32)
    run_solver("cg", matrix, other, reg, w0, "linear", 2.0, "one", exact, half=False)
    assert not np.array_equal(exact, results[0])
    np.testing.assert_allclose(results[0], exact, rtol=0.02, atol=0.02)


def test_rotating_into_float16_rounds_the_full_precision_product():
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(70, 12)).astype(np.float32)
    rotation = np.linalg.qr(rng.normal(size=(12, 12)))[0].astype(np.float32)
    full = np.empty_like(matrix)
    times_small(matrix, rotation, full)
    half, beyond = times_small_to_half(matrix, rotation)
    np.testing.assert_array_equal(half, half_copy(full)[0])
    assert not beyond.any()
    matrix[3, 0] = 1e6
    assert np.flatnonzero(times_small_to_half(matrix, rotation)[1]).tolist() == [3]

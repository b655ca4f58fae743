"""Numerical robustness: extreme settings either fit finite factors or stop clearly."""

import numpy as np
import pytest
import scipy.sparse as sp

from alsrec import ALS, Interactions, generate
from alsrec.errors import NumericalError


def skewed():
    """One user with 2,000 interactions next to users with one."""
    rows = [0] * 2000 + list(range(1, 300))
    cols = list(range(2000)) + [int(c) for c in np.random.default_rng(0).integers(0, 2000, 299)]
    matrix = sp.csr_matrix((np.full(len(rows), 3.0), (rows, cols)), shape=(300, 2000))
    return Interactions.from_scipy(matrix)


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_large_alpha_tiny_lambda_float32(solver):
    data = generate(300, 200, 6000, values="implicit", seed=0).interactions
    model = ALS(
        "implicit",
        alpha=1e4,
        regularization=1e-8,
        factors=16,
        iterations=5,
        solver=solver,
        random_state=0,
    )
    message = None
    try:
        model.fit(data)
    except NumericalError as error:
        message = str(error)
    if message is not None:  # stopped: it must say where and leave nothing half-fitted
        assert "iteration" in message
        assert not model.is_fitted
    else:
        assert np.isfinite(model.user_factors_).all()
        assert np.isfinite(model.item_factors_).all()


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_long_rows_next_to_single_interactions(solver):
    model = ALS(
        "implicit", factors=32, iterations=4, solver=solver, random_state=0, compute_loss=True
    )
    model.fit(skewed())
    assert np.isfinite(model.user_factors_).all()
    assert model.loss_history_[-1] <= model.loss_history_[0]


def test_ill_conditioned_cg_stays_finite():
    data = skewed()
    model = ALS("zeros", factors=64, regularization=1e-9, iterations=3, solver="cg", cg_steps=8)
    try:
        model.fit(data)
    except NumericalError:
        assert not model.is_fitted
    else:
        assert np.isfinite(model.item_factors_).all()


def test_keyboard_interrupt_during_fit_leaves_model_unfitted(tmp_path):
    data = generate(100, 50, 1500, values="implicit", seed=0).interactions
    fitted = ALS("implicit", factors=4, iterations=2).fit(data)
    path = tmp_path / "model.alsrec"
    fitted.save(path)
    before = path.read_bytes()

    def interrupt(iteration, elapsed, loss):
        if iteration == 2:
            raise KeyboardInterrupt

    model = ALS("implicit", factors=4, iterations=5, callback=interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.fit(data)
    assert not model.is_fitted
    # refitting a fitted model and interrupting it also leaves it unfitted, file untouched
    fitted.set_params(callback=interrupt, iterations=5)
    with pytest.raises(KeyboardInterrupt):
        fitted.fit(data)
    assert not fitted.is_fitted
    assert path.read_bytes() == before

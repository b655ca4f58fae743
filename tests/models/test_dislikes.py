"""Dislikes in implicit data: negative values are confident zeros with target='liked'."""

import numpy as np
import pytest
import scipy.sparse as sp

from alsrec import ALS, Interactions
from alsrec.errors import DataError
from alsrec.kernels import TARGET_CODES, solve_cholesky
from alsrec.kernels import reference as ref
from alsrec.kernels.weights import CONFIDENCE_CODES, make_weights


def test_one_row_with_a_dislike_by_hand():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((5, 3))
    alpha, reg, w0 = 2.0, 0.1, 1.0
    row = sp.csr_matrix(np.array([[2.0, 0, -3.0, 0, 0]]))
    # c = 1 + alpha |r|: 5 and 7; p = 1 for the like, 0 for the dislike
    a = w0 * y.T @ y + 4 * np.outer(y[0], y[0]) + 6 * np.outer(y[2], y[2]) + reg * np.eye(3)
    expected = np.linalg.solve(a, 5 * y[0])
    out = np.zeros((1, 3))
    args = (row.indptr.astype(np.int64), row.indices.astype(np.int64), row.data, y)
    weights = make_weights(w0, CONFIDENCE_CODES["linear"], alpha, TARGET_CODES["liked"])
    failed = solve_cholesky(*args, np.array([reg]), weights, np.array([0, 1], dtype=np.int64), out)
    assert failed == 0
    np.testing.assert_allclose(out[0], expected, rtol=1e-10)
    np.testing.assert_allclose(ref.solve_rows(row, y, np.array([reg]), weights)[0], expected)


@pytest.fixture(scope="module")
def signed():
    rng = np.random.default_rng(1)
    users, items, values = [], [], []
    for u in range(60):
        for i in rng.choice(24, size=8, replace=False):
            users.append(u)
            items.append(i)
            values.append(float(rng.integers(1, 4)))
    # item 24 is liked by users 1..20 and strongly disliked by user 0
    for u in range(1, 21):
        users.append(u)
        items.append(24)
        values.append(2.0)
    users.append(0)
    items.append(24)
    values.append(-5.0)
    return Interactions.from_arrays(users, items, values)


def test_the_fit_needs_the_option_and_the_loss_decreases(signed):
    with pytest.raises(DataError, match="target='liked'"):
        ALS("implicit", factors=4, iterations=2).fit(signed)
    model = ALS(
        "implicit", target="liked", factors=4, iterations=6, random_state=0, compute_loss=True
    ).fit(signed)
    history = np.array(model.loss_history_)
    assert np.all(np.diff(history) <= 1e-6 * history[:-1])


def test_a_dislike_pushes_the_item_down(signed):
    params = {"factors": 4, "iterations": 8, "random_state": 0, "dtype": "float64"}
    # c = 1 + alpha |r| with alpha = 1 (the dislike's c is 6), light regularization
    params |= {"confidence": "linear", "alpha": 1.0, "regularization": 0.01}
    model = ALS("implicit", target="liked", **params).fit(signed)
    dropped = signed.filter(signed.matrix.data > 0)  # the same data without the dislike
    unaware = ALS("implicit", target="liked", **params).fit(dropped)
    score = model.score_users([0], [24])[0, 0]
    unaware_score = unaware.score_users([0], [24])[0, 0]
    assert score < unaware_score
    assert abs(score) < abs(unaware_score) / 2  # pulled towards its target 0 by c = 1 + 5
    # the disliked item is seen: never recommended back
    assert 24 not in model.recommend(0, n=25)["item"].tolist()


def test_torch_backend_agrees_on_signed_data(signed):
    params = {"factors": 3, "iterations": 3, "random_state": 0, "dtype": "float64"}
    numba = ALS("implicit", target="liked", **params).fit(signed)
    torch = ALS("implicit", target="liked", backend="torch", device="cpu", **params).fit(signed)
    np.testing.assert_allclose(torch.item_factors_, numba.item_factors_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(torch.loss_history_, numba.loss_history_, rtol=1e-8)

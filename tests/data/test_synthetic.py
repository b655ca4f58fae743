import numpy as np
import pytest

from alsrec.data import generate
from alsrec.errors import ParameterError


def test_exact_size_and_determinism():
    a = generate(300, 200, 5000, rank=4, seed=3)
    b = generate(300, 200, 5000, rank=4, seed=3)
    assert a.interactions.nnz == 5000
    assert a.interactions.shape == (300, 200)
    assert (a.interactions.matrix != b.interactions.matrix).nnz == 0
    c = generate(300, 200, 5000, rank=4, seed=4)
    assert (a.interactions.matrix != c.interactions.matrix).nnz > 0


def test_values_are_planted_signal_plus_noise():
    data = generate(400, 300, 20_000, rank=5, noise_std=0.2, seed=1)
    m = data.interactions.matrix.tocoo()
    truth = np.einsum("ij,ij->i", data.user_factors[m.row], data.item_factors[m.col])
    residual = m.data - truth
    assert residual.std() == pytest.approx(0.2, rel=0.05)
    assert abs(residual.mean()) < 0.01


def test_popularity_is_skewed_and_activity_spread():
    data = generate(2000, 1000, 50_000, seed=0)
    items = np.sort(data.interactions.item_counts())[::-1]
    assert items[:10].sum() > 5 * items[-100:].sum()  # power law head vs tail
    users = data.interactions.user_counts()
    assert users.max() > 5 * np.median(users)


def test_implicit_values_are_positive_counts():
    data = generate(100, 100, 1000, values="implicit", seed=0)
    values = data.interactions.matrix.data
    assert values.min() >= 1
    assert np.all(values == np.round(values))


def test_impossible_sizes_are_refused():
    with pytest.raises(ParameterError, match="half the matrix"):
        generate(10, 10, 90)

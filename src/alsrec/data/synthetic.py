"""Synthetic interaction matrices with a known low-rank signal.

Real data sets have a power-law item popularity and a log-normal user
activity; the generator reproduces both, and plants a rank-``rank``
preference matrix ``U V^T`` plus Gaussian noise in the values, so a model's
quality on it is known in advance (the best achievable RMSE is the noise std).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from alsrec.data.interactions import Interactions, build_csr
from alsrec.errors import ParameterError

# MovieLens 25M's shape, used by the benchmarks.
ML25M_SHAPE = (162_541, 59_047)


@dataclass(frozen=True)
class SyntheticData:
    """A generated data set and the truth behind it.

    Attributes
    ----------
    interactions : Interactions
        The observed matrix.
    user_factors, item_factors : numpy.ndarray
        The planted factors; the noiseless preference of user u for item i is
        ``user_factors[u] @ item_factors[i]``.
    noise_std : float
        Standard deviation of the Gaussian noise added to observed values
        (explicit values only).
    """

    interactions: Interactions
    user_factors: np.ndarray
    item_factors: np.ndarray
    noise_std: float


def generate(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 20_000,
    *,
    rank: int = 8,
    noise_std: float = 0.1,
    popularity_exponent: float = 0.9,
    activity_sigma: float = 1.0,
    values: Literal["explicit", "implicit"] = "explicit",
    seed: int = 0,
) -> SyntheticData:
    """Generate a users x items matrix with planted low-rank preferences.

    Parameters
    ----------
    n_users, n_items : int
        Matrix shape.
    n_interactions : int
        Exact number of distinct (user, item) pairs to observe.
    rank : int
        Rank of the planted preference matrix.
    noise_std : float
        Gaussian noise added to explicit values.
    popularity_exponent : float
        Item ``j``-th most popular is drawn with probability proportional to
        ``j ** -popularity_exponent`` (Zipf).
    activity_sigma : float
        User activity is log-normal with this sigma.
    values : {"explicit", "implicit"}
        ``explicit``: value = planted preference + noise. ``implicit``: value is a
        positive count, 1 + Poisson(exp(preference)).
    seed : int
        Everything is determined by it.

    Returns
    -------
    SyntheticData
    """
    if n_users < 1 or n_items < 1 or rank < 1:
        raise ParameterError("n_users, n_items and rank must be positive.")
    if not 0 < n_interactions <= n_users * n_items // 2:
        raise ParameterError(
            f"n_interactions={n_interactions} must be between 1 and half the matrix "
            f"({n_users * n_items // 2}) so that distinct pairs can be drawn."
        )
    rng = np.random.default_rng(seed)
    item_probability = np.arange(1, n_items + 1, dtype=np.float64) ** -popularity_exponent
    item_probability = rng.permutation(item_probability / item_probability.sum())
    activity = rng.lognormal(0.0, activity_sigma, size=n_users)

    keys = np.zeros(0, dtype=np.int64)
    deficit = n_interactions
    for _ in range(20):  # each round draws the missing pairs with a margin, then deduplicates
        per_user = _allocate(activity, int(deficit * 1.15) + n_users, n_items)
        users = np.repeat(np.arange(n_users, dtype=np.int64), per_user)
        items = _draw_items(rng, item_probability, len(users))
        keys = _sorted_unique(np.concatenate([keys, users * n_items + items]))
        deficit = n_interactions - len(keys)
        if deficit <= 0:
            break
    keys = np.sort(rng.choice(keys, size=n_interactions, replace=False))
    rows, cols = keys // n_items, keys % n_items

    user_factors = rng.normal(0.0, 1.0 / np.sqrt(np.sqrt(rank)), (n_users, rank))
    item_factors = rng.normal(0.0, 1.0 / np.sqrt(np.sqrt(rank)), (n_items, rank))
    preference = _rowwise_dot(user_factors, item_factors, rows, cols)
    if values == "explicit":
        observed = preference + rng.normal(0.0, noise_std, size=len(rows))
    elif values == "implicit":
        observed = 1.0 + rng.poisson(np.exp(np.minimum(preference, 5.0)))
    else:
        raise ParameterError(f"values={values!r} must be 'explicit' or 'implicit'.")
    matrix, _ = build_csr(rows, cols, observed, (n_users, n_items))
    interactions = Interactions(
        matrix, np.arange(n_users), np.arange(n_items), name=f"synthetic-{n_users}x{n_items}"
    )
    return SyntheticData(
        interactions,
        user_factors.astype(np.float32),
        item_factors.astype(np.float32),
        noise_std if values == "explicit" else 0.0,
    )


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sort-based unique: far faster than np.unique's hash path on tens of millions."""
    values.sort()
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _allocate(activity: np.ndarray, total: int, n_items: int) -> np.ndarray:
    """Split ``total`` draws over users in proportion to activity, capped per user.

    The final random trim to the exact total may leave a very light user with
    no interaction, as in real logs sampled by time.
    """
    share = activity / activity.sum() * total
    counts = np.floor(share).astype(np.int64)
    counts = np.minimum(np.maximum(counts, 1), n_items)
    return counts


def _draw_items(rng: np.random.Generator, probability: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(probability)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _rowwise_dot(
    left: np.ndarray, right: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.float64)
    step = 1 << 21  # bounded temporary memory for 25M pairs
    for start in range(0, len(rows), step):
        stop = start + step
        out[start:stop] = np.einsum("ij,ij->i", left[rows[start:stop]], right[cols[start:stop]])
    return out

"""Rating-prediction measurements for ``bench_ratings``: one model on one fold per process.

Folds are a fixed random 5-way partition of the ratings (seed 0), computed
the same way in every process, so every model sees the same train/test
ratings. Test ratings of users or items absent from a fold's training part
are predicted by each library's own fallback (alsrec: biases only).
"""

from __future__ import annotations

import sys
import time
import types

import numpy as np

FOLD_SEED = 0
SYNTHETIC = {"n_users": 2000, "n_items": 1000, "n_interactions": 100_000, "rank": 8}
SYNTHETIC_NOISE = 0.5


# ml-100k's shape (never in ../shared): 1,682 movies, every user with >= 20 ratings,
# 6.3% dense. "ml-latest-small-dense" cuts ml-latest-small to that density, a second
# rating regime for choosing defaults (it is the same users' taste, not new data).
DENSE_ITEMS = 1682
DENSE_MIN_PER_USER = 20


def dense_subset(data):
    """``data`` restricted to its most-rated ``DENSE_ITEMS`` items and users with >= 20 of them."""
    counts = data.item_counts()
    keep_items = np.zeros(data.n_items, dtype=bool)
    keep_items[np.argsort(-counts, kind="stable")[:DENSE_ITEMS]] = True
    on_kept = data.filter(keep_items[data.matrix.indices])
    keep_users = on_kept.user_counts() >= DENSE_MIN_PER_USER
    return on_kept.filter(keep_users[on_kept.row_indices()])


def rating_data(name: str):
    """Interactions: ml-latest-small, its ml-100k-dense cut, or planted ratings centred at 3.5."""
    import alsrec

    if name == "ml-latest-small":
        return alsrec.load_movielens("ml-latest-small")
    if name == "ml-latest-small-dense":
        return dense_subset(alsrec.load_movielens("ml-latest-small"))
    synthetic = alsrec.generate(
        SYNTHETIC["n_users"],
        SYNTHETIC["n_items"],
        SYNTHETIC["n_interactions"],
        rank=SYNTHETIC["rank"],
        noise_std=SYNTHETIC_NOISE,
        seed=0,
    ).interactions
    synthetic.matrix.data += 3.5  # a rating-like mean, so biases and the global mean matter
    return synthetic


def fold_masks(nnz: int, n_folds: int, fold: int, seed: int = FOLD_SEED) -> np.ndarray:
    """True for the training ratings of ``fold`` (same permutation in every process)."""
    order = np.random.default_rng(seed).permutation(nnz)
    test = np.zeros(nnz, dtype=bool)
    test[order[fold::n_folds]] = True
    return ~test


def _myfm():
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:  # myfm 0.4 imports it for nothing; setuptools >= 81 dropped it
            shim = types.ModuleType("pkg_resources")
            shim.DistributionNotFound = Exception
            shim.get_distribution = lambda name: None
            sys.modules["pkg_resources"] = shim
    import myfm

    return myfm


def _one_hot(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int):
    import scipy.sparse as sp

    n = len(users)
    rows = np.repeat(np.arange(n), 2)
    cols = np.stack([users, n_users + items], axis=1).ravel()
    return sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n_users + n_items))


def rating_fold(task: dict) -> dict:
    """Fit ``task["model"]`` on one fold's training ratings; RMSE on its test ratings."""
    import alsrec

    data = rating_data(task["data"])
    train_mask = fold_masks(data.nnz, task["folds"], task["fold"], task.get("fold_seed", FOLD_SEED))
    coo = data.matrix.tocoo()
    rows, cols, ratings = coo.row, coo.col, coo.data.astype(np.float64)
    test = ~train_mask
    model_name = task["model"]
    params = task.get("params", {})
    if model_name in ("bayesian", "explicit"):
        if model_name == "bayesian":
            warm = alsrec.BayesianALS(factors=2, sweeps=2, burn_in=0, num_threads=1)
            model = alsrec.BayesianALS(random_state=0, **params)
        else:
            warm = alsrec.ALS("explicit", factors=2, iterations=1, num_threads=1)
            model = alsrec.ALS("explicit", random_state=0, **params)
        warm.fit(alsrec.generate(60, 40, 600, seed=1).interactions)  # JIT cache, not timed
        train = data.filter(train_mask)
        start = time.perf_counter()
        model.fit(train)
        predictions = model.predict(
            data.user_ids[rows[test]], data.item_ids[cols[test]], unknown="bias"
        )
        seconds = time.perf_counter() - start
    elif model_name == "myfm":
        myfm = _myfm()
        start = time.perf_counter()
        fm = myfm.MyFMRegressor(rank=params.get("rank", 10), random_seed=0)
        fm.fit(
            _one_hot(rows[train_mask], cols[train_mask], *data.shape),
            ratings[train_mask],
            n_iter=params.get("n_iter", 200),
        )
        predictions = fm.predict(_one_hot(rows[test], cols[test], *data.shape))
        seconds = time.perf_counter() - start
    elif model_name == "surprise-svd":
        import pandas as pd
        from surprise import SVD, Dataset, Reader

        low, high = float(ratings.min()), float(ratings.max())
        frame = pd.DataFrame(
            {"u": rows[train_mask], "i": cols[train_mask], "r": ratings[train_mask]}
        )
        start = time.perf_counter()
        trainset = Dataset.load_from_df(frame, Reader(rating_scale=(low, high)))
        svd = SVD(random_state=0)
        svd.fit(trainset.build_full_trainset())
        predictions = np.array(
            [svd.predict(u, i).est for u, i in zip(rows[test], cols[test], strict=True)]
        )
        seconds = time.perf_counter() - start
    else:
        raise ValueError(f"unknown model {model_name!r}")
    rmse = float(np.sqrt(np.mean((predictions - ratings[test]) ** 2)))
    return {"rmse": rmse, "seconds": seconds, "n_test": int(test.sum())}

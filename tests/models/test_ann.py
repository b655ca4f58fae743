"""Approximate top-n (alsrec.models.ann): planted catalogues with known rankings."""

from __future__ import annotations

import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from alsrec import ALS, Interactions, load_model
from alsrec.errors import ParameterError
from alsrec.models import FactorModel
from alsrec.models.ann import AnnSettings

FLAT = AnnSettings(kind="flat")


def planted_model(n_users: int, n_items: int, k: int, seed: int, clusters: int = 0):
    """A model whose factors, biases and seen items are drawn, not fitted: rankings are known.

    With ``clusters``, items lie around that many centres with log-normal
    norms, as fitted factors do (popular items have longer vectors); every
    user has seen 1..40 random items.
    """
    rng = np.random.default_rng(seed)
    if clusters:
        centres = rng.normal(size=(clusters, k))
        y = centres[rng.integers(clusters, size=n_items)] + 0.5 * rng.normal(size=(n_items, k))
        y *= rng.lognormal(0.0, 0.4, size=(n_items, 1))
    else:
        y = rng.normal(size=(n_items, k))
    x = rng.normal(size=(n_users, k))
    counts = rng.integers(1, 41, size=n_users)
    users = np.repeat(np.arange(n_users), counts)
    items = np.concatenate([rng.choice(n_items, size=c, replace=False) for c in counts])
    seen = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, n_items))
    data = Interactions(seen, np.arange(n_users), np.arange(n_items))
    model = FactorModel()
    model._set_fitted(
        data,
        x.astype(np.float32),
        y.astype(np.float32),
        global_bias=0.5,
        user_bias=rng.normal(size=n_users),
        item_bias=rng.normal(scale=0.5, size=n_items),
    )
    return model, x, y


def brute_force(model, x, y, n, filter_seen=True, allowed=None, threshold=None):
    """The top-n by numpy: mu + b_u + b_i + x.y, seen / disallowed items removed."""
    scores = 0.5 + model.user_bias_[:, None] + model.item_bias_[None, :] + x @ y.T
    if filter_seen:
        scores[model.seen_.toarray() > 0] = -np.inf
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    if threshold is not None:
        scores[scores < threshold] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    return order, np.take_along_axis(scores, order, axis=1)


def assert_same_ranking(approximate: pd.DataFrame, exact: pd.DataFrame) -> None:
    """Same rows and columns; scores equal up to float32 rounding (another summation order)."""
    assert list(approximate.columns) == list(exact.columns)
    others = [c for c in exact.columns if c != "score"]
    assert approximate[others].equals(exact[others])
    np.testing.assert_allclose(approximate["score"], exact["score"], rtol=1e-6)


def as_lists(frame: pd.DataFrame) -> dict:
    return frame.groupby("user")["item"].apply(list).to_dict()


@pytest.fixture(scope="module")
def planted():
    return planted_model(300, 3000, 12, seed=1)


def test_exact_index_gives_the_exact_top_n_with_biases(planted):
    model, x, y = planted
    top, top_scores = brute_force(model, x, y, 20)
    approximate = model.recommend_batch(n=20, approximate=FLAT)
    exact = model.recommend_batch(n=20)
    assert approximate["item"].tolist() == exact["item"].tolist()
    assert approximate["user"].tolist() == exact["user"].tolist()
    # the planted answer: every user's 20 best unseen items, biases included
    assert approximate["item"].to_numpy().reshape(300, 20).tolist() == top.tolist()
    np.testing.assert_allclose(approximate["score"].to_numpy().reshape(300, 20), top_scores, 1e-5)
    np.testing.assert_allclose(approximate["score"], exact["score"], rtol=1e-6)


def test_filters_mean_what_they_mean_in_exact_ranking(planted):
    model, x, y = planted
    include = np.arange(0, 3000, 3)
    exclude = np.arange(0, 3000, 7)
    allowed = np.zeros(3000, bool)
    allowed[include] = True
    allowed[exclude] = False
    threshold = 2.0
    users = np.arange(0, 300, 5)
    kwargs = dict(n=15, threshold=threshold, items=include, exclude=exclude)
    approximate = model.recommend_batch(users, approximate=FLAT, **kwargs)
    assert_same_ranking(approximate, model.recommend_batch(users, **kwargs))
    top, top_scores = brute_force(model, x, y, 15, allowed=allowed, threshold=threshold)
    expected = {u: top[u][np.isfinite(top_scores[u])].tolist() for u in users}
    assert as_lists(approximate) == {u: v for u, v in expected.items() if v}
    assert (approximate["score"] >= threshold).all()
    # without the seen filter, seen items come back exactly where exact ranking puts them
    unfiltered = model.recommend_batch(users, n=15, filter_seen=False, approximate=FLAT)
    assert_same_ranking(unfiltered, model.recommend_batch(users, n=15, filter_seen=False))
    top, _ = brute_force(model, x, y, 15, filter_seen=False)
    assert unfiltered["item"].to_numpy().reshape(len(users), 15).tolist() == top[users].tolist()


def test_heavy_users_still_get_n_unseen_items():
    """Over-fetching n + the most seen: a user who saw almost everything still gets n."""
    model, _x, _y = planted_model(30, 200, 6, seed=2)
    seen = model.seen_.tolil()
    seen.rows[4] = list(range(0, 190))  # user 4 has seen 190 of 200 items
    seen.data[4] = [1.0] * 190
    model.seen_ = sp.csr_matrix(seen, dtype=np.float32)
    approximate = model.recommend_batch(n=10, approximate=True)
    assert_same_ranking(approximate, model.recommend_batch(n=10))
    assert sorted(approximate.loc[approximate["user"] == 4, "item"]) == list(range(190, 200))


def test_hnsw_recall_at_20_on_a_large_synthetic_catalogue():
    model, _x, _y = planted_model(200, 30_000, 16, seed=3, clusters=50)
    exact = model.recommend_batch(n=20)
    approximate = model.recommend_batch(n=20, approximate=True)
    assert len(approximate) == len(exact) == 200 * 20
    hits = approximate.merge(exact, on=["user", "item"], suffixes=("", "_exact"))
    recall = len(hits) / len(exact)
    assert recall >= 0.9, recall
    # the items it returns carry their exact scores, best first, unseen
    np.testing.assert_allclose(hits["score"], hits["score_exact"], rtol=1e-6)
    assert (approximate.groupby("user")["score"].diff().dropna() <= 0).all()
    users, items = approximate["user"].to_numpy(), approximate["item"].to_numpy()
    assert not np.asarray(model.seen_[users, items]).any()
    # a wider search of the same index (not rebuilt) finds more, a narrower one less
    index = model.__dict__["_ann_index"][1]
    wider = model.recommend_batch(n=20, approximate=AnnSettings(ef_search=600))
    narrower = model.recommend_batch(n=20, approximate=AnnSettings(ef_search=32))
    assert model.__dict__["_ann_index"][1] is index
    found = [len(f.merge(exact, on=["user", "item"])) for f in (narrower, approximate, wider)]
    assert found[0] < found[1] < found[2], found


def small_data() -> Interactions:
    """40 users, 60 items (each seen at least once), 5 more random items per user."""
    rng = np.random.default_rng(0)
    items = np.concatenate([np.arange(60)] + [rng.choice(60, 5, replace=False) for _ in range(40)])
    users = np.concatenate([np.arange(60) % 40, np.repeat(np.arange(40), 5)])
    return Interactions.from_arrays(users, items, duplicates="last")


def test_index_is_built_once_and_dropped_when_items_change():
    data = small_data()
    model = ALS("implicit", factors=4, iterations=4, random_state=0).fit(data)
    model.recommend_batch(n=5, approximate=FLAT)
    index = model.__dict__["_ann_index"][1]
    model.recommend_batch(n=5, approximate=FLAT)
    assert model.__dict__["_ann_index"][1] is index
    # a user update leaves the items as they are: same index
    model.update_users(Interactions.from_arrays([0, 0], [1, 2]))
    model.recommend_batch(n=5, approximate=FLAT)
    assert model.__dict__["_ann_index"][1] is index
    # new items: a new index that ranks them like exact ranking does
    new = Interactions.from_arrays(np.arange(40), np.full(40, 999))
    model.update_items(new)
    assert "_ann_index" not in model.__dict__
    approximate = model.recommend_batch(n=5, filter_seen=False, approximate=FLAT)
    assert_same_ranking(approximate, model.recommend_batch(n=5, filter_seen=False))
    assert 999 in set(approximate["item"])
    assert model.__dict__["_ann_index"][1].index.ntotal == model.n_items == 61
    # changing a build parameter rebuilds; a refit starts without an index
    model.recommend_batch(n=5, approximate=True)
    assert model.__dict__["_ann_index"][1].settings.kind == "hnsw"
    model.fit(data)
    assert "_ann_index" not in model.__dict__


def test_index_is_never_saved(tmp_path):
    model = ALS("explicit", factors=4, iterations=4, random_state=0).fit(small_data())
    model.recommend_batch([0, 1], n=5, approximate=True)
    path = tmp_path / "m.alsrec"
    model.save(path)
    assert not [name for name in zipfile.ZipFile(path).namelist() if "ann" in name.lower()]
    loaded = load_model(path)
    assert "_ann_index" not in loaded.__dict__
    again = loaded.recommend_batch([0, 1], n=5, approximate=FLAT)
    assert_same_ranking(again, model.recommend_batch([0, 1], n=5))


def test_fallback_users_and_single_user_recommend(planted):
    model, _x, _y = planted
    frame = model.recommend_batch([3, "nobody"], n=5, fallback="popularity", approximate=FLAT)
    assert_same_ranking(frame, model.recommend_batch([3, "nobody"], n=5, fallback="popularity"))
    assert_same_ranking(model.recommend(7, n=5, approximate=FLAT), model.recommend(7, n=5))


def test_missing_faiss_names_the_install_command(monkeypatch):
    model, _x, _y = planted_model(5, 60, 3, seed=4)
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(ParameterError, match=r"pip install 'alsrec\[ann\]'"):
        model.recommend_batch(n=3, approximate=True)
    assert len(model.recommend_batch(n=3)) == 15  # exact ranking needs no faiss


def test_bad_approximate_arguments(planted):
    model, _x, _y = planted
    with pytest.raises(ParameterError, match="approximate='yes' must be True, False or"):
        model.recommend_batch(n=3, approximate="yes")
    with pytest.raises(ParameterError, match="kind='ivf' must be 'hnsw' or 'flat'"):
        AnnSettings(kind="ivf")
    with pytest.raises(ParameterError, match="ef_search=0 must be a positive whole number"):
        AnnSettings(ef_search=0)
    row = np.zeros((1, model._scoring_factors()[0].shape[1]), np.float32)
    with pytest.raises(ParameterError, match="folded-in users exactly"):
        model.top_n_indices(np.array([-1]), 3, False, user_factors=row, approximate=True)

"""Queries in both directions and in batches, and the unknown-user fallback."""

import numpy as np
import pytest

from alsrec import ALS
from alsrec.errors import ParameterError, UnknownIdError
from tests.models.helpers import small_rated_data


@pytest.fixture(scope="module")
def data():
    return small_rated_data(1)


@pytest.fixture(scope="module", params=["implicit", "explicit"])
def model(request, data):
    return ALS(request.param, factors=5, iterations=6, random_state=0).fit(data)


def dense_scores(model):
    """mu + b_u + b_i + X Y^T, written out."""
    scores = model.user_factors_.astype(np.float64) @ model.item_factors_.T.astype(np.float64)
    scores += model.global_bias_
    if model.user_bias_ is not None:
        scores += model.user_bias_[:, None] + model.item_bias_[None, :]
    return scores


def test_recommend_users_equals_the_transpose_ranking(model, data):
    scores = dense_scores(model)
    seen = data.matrix.toarray() != 0
    for item in [100, 107, 129]:
        column = model.item_index([item])[0]
        audience = model.recommend_users(item, n=6)
        expected_scores = np.where(seen[:, column], -np.inf, scores[:, column])
        expected = np.argsort(-expected_scores, kind="stable")[:6]
        assert audience["user"].tolist() == data.user_ids[expected].tolist()
        np.testing.assert_allclose(audience["score"], expected_scores[expected], rtol=1e-5)
        # the same number recommend gives for the (user, item) pair
        user = audience["user"][0]
        recs = model.recommend(user, n=30, filter_seen=False).set_index("item")
        assert recs.loc[item, "score"] == pytest.approx(audience["score"][0], rel=1e-5)


def test_recommend_users_filters_and_batch(model, data):
    everyone = model.recommend_users(105, n=40, filter_seen=False)
    assert len(everyone) == 40
    assert everyone["score"].is_monotonic_decreasing
    best = everyone["user"][0]
    without = model.recommend_users(105, n=3, filter_seen=False, exclude=[best])
    assert without["user"].tolist() == everyone["user"][1:4].tolist()
    only = model.recommend_users(105, n=5, filter_seen=False, users=["u1", "u2", "u3"])
    assert set(only["user"]) == {"u1", "u2", "u3"}
    assert only["user"].tolist() == [u for u in everyone["user"] if u in {"u1", "u2", "u3"}]
    cut = float(everyone["score"][4])
    assert len(model.recommend_users(105, n=40, filter_seen=False, threshold=cut)) == 5
    batch = model.recommend_users_batch(n=4)
    assert set(batch["item"]) == set(data.item_ids)
    for item in [100, 111]:
        part = batch[batch["item"] == item]
        assert part["user"].tolist() == model.recommend_users(item, n=4)["user"].tolist()
        assert part["rank"].tolist() == [1, 2, 3, 4]


def cosine(factors):
    unit = factors / np.linalg.norm(factors, axis=1, keepdims=True)
    return unit @ unit.T


def test_similar_users_by_cosine(model, data):
    cos = cosine(model.user_factors_.astype(np.float64))
    u = model.user_index(["u4"])[0]
    cos[u, u] = -np.inf
    expected = np.argsort(-cos[u], kind="stable")[:5]
    result = model.similar_users("u4", n=5)
    assert result["user"].tolist() == data.user_ids[expected].tolist()
    np.testing.assert_allclose(result["similarity"], cos[u, expected], rtol=1e-6)
    filtered = model.similar_users("u4", n=2, exclude=[result["user"][0]])
    assert filtered["user"].tolist() == result["user"][1:3].tolist()


def test_similar_items_batch_matches_single_queries_and_filters(model):
    batch = model.similar_items_batch(n=4)
    assert len(batch) == 30 * 4
    for item in [100, 113, 129]:
        single = model.similar_items(item, n=4)
        part = batch[batch["item"] == item]
        assert part["similar_item"].tolist() == single["item"].tolist()
        np.testing.assert_allclose(part["similarity"], single["similarity"], rtol=1e-6)
        assert part["title"].tolist() == single["title"].tolist()
    allowed = [101, 102, 103, 104, 105]
    some = model.similar_items_batch([101, 120], n=3, items=allowed, exclude=[102])
    first = some[some["item"] == 101]["similar_item"].tolist()
    assert 101 not in first
    assert 102 not in first
    assert set(first) <= set(allowed)
    full = model.similar_items(101, n=29)["item"].tolist()
    assert first == [i for i in full if i in {103, 104, 105}]


def test_unknown_user_fallback_is_popularity_and_stated(model, data):
    with pytest.raises(UnknownIdError, match="nobody"):
        model.recommend("nobody")
    recs = model.recommend("nobody", n=5, fallback="popularity")
    counts = np.diff(data.item_user.indptr)
    expected = np.argsort(-counts, kind="stable")[:5]
    assert recs["item"].tolist() == data.item_ids[expected].tolist()
    np.testing.assert_allclose(recs["score"], counts[expected] / data.n_users)
    assert set(recs["source"]) == {"popularity"}
    mixed = model.recommend_batch(["u1", "nobody", "u2"], n=3, fallback="popularity")
    assert mixed.groupby("user", sort=False)["source"].first().to_dict() == {
        "u1": "model",
        "nobody": "popularity",
        "u2": "model",
    }
    known = mixed[mixed["user"] == "u2"]
    assert known["item"].tolist() == model.recommend("u2", n=3)["item"].tolist()
    filtered = model.recommend("nobody", n=2, fallback="popularity", exclude=[recs["item"][0]])
    assert filtered["item"].tolist() == recs["item"][1:3].tolist()
    with pytest.raises(ParameterError, match="fallback='popularity'"):
        model.recommend("nobody", fallback="average")

"""What users do with a fitted model: recommend, predict, similar items, fold-in."""

import numpy as np
import pytest

from alsrec import ALS, Interactions, Popularity, RandomModel
from alsrec.errors import DataError, ParameterError, UnknownIdError
from alsrec.kernels import reference as ref
from tests.models.helpers import small_rated_data


@pytest.fixture(scope="module")
def data():
    return small_rated_data(0)


@pytest.fixture(scope="module")
def model(data):
    return ALS("implicit", factors=6, iterations=8, random_state=0).fit(data)


@pytest.fixture(scope="module")
def explicit(data):
    return ALS("explicit", factors=4, iterations=8, random_state=0).fit(data)


def full_scores(model, user):
    u = model.user_index([user])[0]
    return model.user_factors_[u] @ model.item_factors_.T


def test_recommend_is_top_n_of_unseen_items_with_titles(model, data):
    recs = model.recommend("u3", n=5)
    assert list(recs.columns) == ["item", "score", "title"]
    seen = set(data.item_ids[data.matrix[data.user_index(["u3"])[0]].indices])
    assert not seen & set(recs["item"])
    scores = full_scores(model, "u3")
    unseen = [i for i in range(30) if data.item_ids[i] not in seen]
    best = sorted(unseen, key=lambda i: -scores[i])[:5]
    assert recs["item"].tolist() == data.item_ids[best].tolist()
    np.testing.assert_allclose(recs["score"], scores[best], rtol=1e-5)
    assert recs["title"].tolist() == [f"T{i - 100}" for i in recs["item"]]


def test_filter_seen_off_threshold_items_and_exclude(model):
    all_items = model.recommend("u3", n=30, filter_seen=False)
    assert len(all_items) == 30
    assert all_items["score"].is_monotonic_decreasing
    cut = float(all_items["score"].iloc[4])
    above = model.recommend("u3", n=30, filter_seen=False, threshold=cut)
    assert above["item"].tolist() == all_items["item"].iloc[:5].tolist()
    only = model.recommend("u3", n=3, filter_seen=False, items=[101, 102, 103, 104])
    assert set(only["item"]) <= {101, 102, 103, 104}
    assert len(only) == 3
    excluded = model.recommend("u3", n=5, filter_seen=False, exclude=[all_items["item"][0]])
    assert excluded["item"].tolist() == all_items["item"].iloc[1:6].tolist()


def test_batch_equals_single_user_calls(model, data):
    batch = model.recommend_batch(n=4)
    assert set(batch["user"]) == set(data.user_ids)
    for user in ["u0", "u17", "u39"]:
        single = model.recommend(user, n=4)
        part = batch[batch["user"] == user]
        assert part["item"].tolist() == single["item"].tolist()
        assert part["rank"].tolist() == list(range(1, len(single) + 1))


def test_bad_queries_are_clear(model):
    with pytest.raises(UnknownIdError, match="unknown user id 'nobody'"):
        model.recommend("nobody")
    with pytest.raises(UnknownIdError, match="unknown item id 999"):
        model.similar_items(999)
    with pytest.raises(ParameterError, match="n=0"):
        model.recommend("u1", n=0)


def test_predict_explicit_scale_and_unknowns(explicit, data):
    frame = data.to_dataframe()
    predicted = explicit.predict(frame["user"], frame["item"])
    assert np.sqrt(np.mean((predicted - frame["rating"]) ** 2)) < frame["rating"].std()
    u, i = explicit.user_index(["u1"])[0], explicit.item_index([105])[0]
    manual = (
        explicit.global_bias_
        + explicit.user_bias_[u]
        + explicit.item_bias_[i]
        + explicit.user_factors_[u] @ explicit.item_factors_[i]
    )
    assert explicit.predict(["u1"], [105])[0] == pytest.approx(manual, rel=1e-5)
    # the ranking score includes the biases too
    recs = explicit.recommend("u1", n=30, filter_seen=False)
    assert recs.set_index("item").loc[105, "score"] == pytest.approx(manual, rel=1e-5)
    with pytest.raises(UnknownIdError):
        explicit.predict(["new"], [105])
    bias_only = explicit.predict(["new", "u1"], [105, 999], unknown="bias")
    assert bias_only[0] == pytest.approx(explicit.global_bias_ + explicit.item_bias_[i])
    assert bias_only[1] == pytest.approx(explicit.global_bias_ + explicit.user_bias_[u])


def test_similar_items_by_cosine(model):
    result = model.similar_items(100, n=5)
    y = model.item_factors_.astype(np.float64)
    cos = y @ y[0] / (np.linalg.norm(y, axis=1) * np.linalg.norm(y[0]))
    cos[0] = -np.inf
    expected = np.argsort(-cos)[:5]
    assert result["item"].tolist() == (100 + expected).tolist()
    np.testing.assert_allclose(result["similarity"], cos[expected], rtol=1e-6)
    assert 100 not in result["item"].tolist()


def test_fold_in_solves_the_users_ridge_against_fixed_items(model, data):
    user = data.user_index(["u5"])[0]
    row = data.matrix[user]
    vector, bias = model.fold_in(data.item_ids[row.indices], row.data)
    objective = model.objective_
    reg = objective.row_regularization(np.array([row.nnz]), data.n_items)
    expected = ref.solve_rows(
        row,
        model.item_factors_,
        reg,
        objective.weights,
    )[0]
    np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-6)
    assert bias == 0.0
    # one more user half-step would give every training user exactly this vector
    recs = model.recommend_new_user(data.item_ids[row.indices], row.data, n=5)
    assert not set(recs["item"]) & set(data.item_ids[row.indices])
    scores = model.item_factors_ @ vector
    scores[row.indices] = -np.inf
    assert recs["item"].tolist() == data.item_ids[np.argsort(-scores)[:5]].tolist()


def test_fold_in_with_biases_and_bad_input(explicit):
    _vector, bias = explicit.fold_in([101, 102], [5.0, 5.0])
    assert bias > 0  # a user who rates everything 5 is above average
    recs = explicit.recommend_new_user([101, 102], [5.0, 5.0], n=3)
    assert len(recs) == 3
    assert 101 not in recs["item"].tolist()
    with pytest.raises(DataError, match="one rating per item"):
        explicit.fold_in([101, 102], [5.0])
    with pytest.raises(UnknownIdError):
        explicit.fold_in([12345], [5.0])


def test_popularity_and_random_baselines(data):
    pop = Popularity().fit(data)
    counts = data.item_counts()
    recs = pop.recommend_batch(n=3, filter_seen=False)
    order = np.argsort(-counts, kind="stable")[:3]
    first = recs[recs["user"] == data.user_ids[0]]
    assert first["item"].tolist() == data.item_ids[order].tolist()
    a = RandomModel(random_state=1).fit(data).recommend("u2", n=5)
    b = RandomModel(random_state=1).fit(data).recommend("u2", n=5)
    assert a["item"].tolist() == b["item"].tolist()
    with pytest.raises(ParameterError, match="no objective"):
        pop.fold_in([101], [1.0])


def test_update_users_refreshes_known_and_adds_new_users(data):
    model = ALS("implicit", factors=6, iterations=8, random_state=0).fit(data)
    items_before = model.item_factors_.copy()
    fresh = Interactions.from_arrays(["u3", "u3", "newbie"], [101, 107, 103], [2.0, 5.0, 4.0])
    model.update_users(fresh)
    np.testing.assert_array_equal(model.item_factors_, items_before)  # items stay fixed
    for user, items, ratings in (("u3", [101, 107], [2.0, 5.0]), ("newbie", [103], [4.0])):
        expected, _ = model.fold_in(items, ratings)
        np.testing.assert_allclose(model.user_factors_[model.user_index([user])[0]], expected)
        recs = model.recommend(user, n=5)
        assert not set(items) & set(recs["item"])
    assert model.n_users == data.n_users + 1
    seen_u3 = model.seen_[model.user_index(["u3"])[0]].indices
    assert sorted(model.item_ids_[seen_u3].tolist()) == [101, 107]
    with pytest.raises(UnknownIdError):
        model.update_users(Interactions.from_arrays(["u1"], [999], [1.0]))


def test_update_users_with_biases(explicit):
    explicit.update_users(Interactions.from_arrays(["fan"], [101], [5.0]))
    assert explicit.predict(["fan"], [101])[0] > explicit.global_bias_

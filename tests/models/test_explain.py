"""explain: the score split over the user's interactions, summing to the score."""

import copy

import numpy as np
import pandas as pd
import pytest

from alsrec import ALS, Interactions
from alsrec.models.explain import reasons


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    rows = []
    for u in range(30):
        for i in rng.choice(25, size=rng.integers(3, 10), replace=False):
            rows.append((u, 100 + i, float(rng.integers(1, 6))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    catalogue = pd.DataFrame({"item": 100 + np.arange(25), "title": [f"T{i}" for i in range(25)]})
    return Interactions.from_dataframe(frame, items=catalogue)


@pytest.mark.parametrize("preset", ["implicit", "explicit", "zeros"])
def test_contributions_sum_to_the_refolded_score(data, preset):
    model = ALS(preset, factors=4, iterations=5, random_state=0, dtype="float64").fit(data)
    user, item = 7, 112
    why = model.explain(user, item)
    row = data.matrix[data.user_index([user])[0]]
    vector, bias = model.fold_in(data.item_ids[row.indices], row.data)
    i = model.item_index([item])[0]
    expected = model.global_bias_ + bias + vector @ model.item_factors_[i]
    if model.item_bias_ is not None:
        expected += model.item_bias_[i]
    assert why["contribution"].sum() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert why.attrs["score"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    items = why[why["source"] == "item"]
    assert sorted(items["item"]) == sorted(data.item_ids[row.indices])
    assert items["contribution"].is_monotonic_decreasing
    np.testing.assert_allclose(items["contribution"], items["weight"] * items["similarity"])
    assert items["title"].tolist() == [f"T{j - 100}" for j in items["item"]]
    sources = set(why["source"]) - {"item"}
    assert sources == ({"global bias", "user bias", "item bias"} if preset == "explicit" else set())
    if preset == "implicit":  # weight = c p = 1 + alpha log(1 + r), p = 1 (preset defaults)
        objective = model.objective_
        assert (objective.confidence, objective.alpha) == ("log", 2.0)
        np.testing.assert_allclose(items["weight"], 1 + 2.0 * np.log1p(items["rating"]))


def test_explain_equals_the_recommend_score_after_update_users(data):
    model = ALS("explicit", factors=4, iterations=5, random_state=0, dtype="float64").fit(data)
    model = copy.deepcopy(model)
    user = 3
    mine = data.select_users(data.user_index([user]))
    model.update_users(mine)  # the user's factors are now exactly the ridge solve
    recs = model.recommend(user, n=5)
    for item, score in zip(recs["item"], recs["score"], strict=True):
        assert model.explain(user, item).attrs["score"] == pytest.approx(score, rel=1e-9)


def test_reasons_are_the_top_contributions(data):
    model = ALS("implicit", factors=4, iterations=5, random_state=0).fit(data)
    table = reasons(model, 5, [101, 110], top=2)
    assert table["item"].tolist() == [101, 101, 110, 110]
    for item in (101, 110):
        why = model.explain(5, item)
        part = table[table["item"] == item]
        assert part["because"].tolist() == why["item"][:2].tolist()
        np.testing.assert_allclose(part["contribution"], why["contribution"][:2], rtol=1e-6)
        assert part["because_title"].tolist() == why["title"][:2].tolist()

"""One contract for every model in the catalog (like scikit-learn's ``check_estimator``).

The cases are read from :mod:`alsrec.models.catalog`, so a model that registers
(``class M(FactorModel, name=..., specs=...)``) is held to the contract without
editing this file: unfitted errors, fit, predict, recommend (seen filter,
threshold, n beyond the catalogue), recommend_batch, similar_items,
get/set_params and clone, the save/load round trip, and fold-in or a clear
refusal of it. Every expected value is recomputed here from the fitted factors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsrec import Interactions, generate, load_model
from alsrec.errors import NotFittedError, ParameterError
from alsrec.models import catalog
from alsrec.models.params import check_params

# Small, fast settings for whichever of these a model's constructor takes.
SMALL = {"factors": 4, "iterations": 3, "random_state": 0, "num_blocks": 2}
# Extra marks for models that need an optional backend.
MARKS = {"pyspark": [pytest.mark.spark, pytest.mark.slow]}


def _cases():
    cases = []
    for entry in catalog.entries():
        marks = MARKS.get(entry.requires[0], []) if entry.requires else []
        for spec in entry.specs:
            cases.append(pytest.param((entry, spec), marks=marks, id=f"{entry.name}[{spec}]"))
    return cases


CASES = _cases()


def _new_model(entry, spec):
    if entry.requires is not None:
        pytest.importorskip(entry.requires[0])
    params = entry.constructor_parameters()
    small = {k: v for k, v in SMALL.items() if k in params and k not in entry.specs[spec]}
    return catalog.make_model(spec, **small)


@pytest.fixture(scope="module")
def data() -> Interactions:
    planted = generate(50, 30, 600, rank=3, values="implicit", seed=5).interactions
    users = np.array([f"u{u}" for u in planted.user_ids], dtype=object)[planted.row_indices()]
    items = planted.item_ids[planted.matrix.indices]
    return Interactions.from_arrays(users, items, planted.matrix.data)


@pytest.fixture(scope="module", params=CASES)
def case(request, data):
    entry, spec = request.param
    model = _new_model(entry, spec)
    assert model.fit(data) is model
    return entry, spec, model


def _expected_scores(model, user_row: int) -> np.ndarray:
    """mu + b_u + b_i + x_u . y_i from the fitted attributes, in float64."""
    scores = model.item_factors_.astype(np.float64) @ model.user_factors_[user_row]
    scores += model.global_bias_
    if model.user_bias_ is not None:
        scores += model.user_bias_[user_row]
    if model.item_bias_ is not None:
        scores += model.item_bias_
    return scores


def test_every_catalog_entry_but_the_base_offers_a_spec():
    without = [e.name for e in catalog.entries() if not e.specs]
    assert without == ["FactorModel"]  # the bare fitted state, for loading files only
    assert {"zeros", "implicit", "explicit", "popularity", "random"} <= set(catalog.spec_names())


@pytest.mark.parametrize("entry_spec", CASES)
def test_unfitted_model_refuses_queries_and_declares_its_parameters(entry_spec, tmp_path):
    entry, spec = entry_spec
    model = _new_model(entry, spec)
    assert not model.is_fitted
    for call in (
        lambda: model.recommend("u0"),
        lambda: model.predict(["u0"], [0]),
        lambda: model.similar_items(0),
        lambda: model.save(tmp_path / "m.alsrec"),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()
    declared = [p.name for p in entry.cls.parameters]
    assert set(declared) <= set(entry.constructor_parameters())
    check_params(model.get_params(), entry.cls.parameters, only_given=True)
    with pytest.raises(ParameterError, match="unknown parameter 'no_such_option'"):
        catalog.make_model(spec, no_such_option=1)


def test_fit_gives_factors_of_one_dimension_for_every_id(case, data):
    _, _, model = case
    x, y = model.user_factors_, model.item_factors_
    assert x.shape[0] == data.n_users
    assert y.shape[0] == data.n_items
    assert x.shape[1] == y.shape[1] >= 1
    assert np.isfinite(x).all()
    assert np.isfinite(y).all()
    assert list(model.user_ids_) == list(data.user_ids)


def test_predict_is_the_factor_dot_product_plus_biases(case, data):
    _, _, model = case
    users, items = data.user_ids[[0, 3, 7]], data.item_ids[[2, 0, 5]]
    expected = [_expected_scores(model, r)[c] for r, c in ((0, 2), (3, 0), (7, 5))]
    np.testing.assert_allclose(model.predict(users, items), expected, rtol=1e-5, atol=1e-5)


def test_recommend_filters_seen_sorts_and_caps_at_the_catalogue(case, data):
    _, _, model = case
    row = 4
    user = data.user_ids[row]
    seen = set(
        data.item_ids[data.matrix.indices[data.matrix.indptr[row] : data.matrix.indptr[row + 1]]]
    )
    everything = model.recommend(user, n=10 * data.n_items)
    assert len(everything) == data.n_items - len(seen)  # n beyond the catalogue
    assert not seen & set(everything["item"])
    assert everything["score"].is_monotonic_decreasing
    scores = _expected_scores(model, row)
    top = model.recommend(user, n=3)
    np.testing.assert_allclose(
        top["score"], scores[model.item_index(top["item"])], rtol=1e-5, atol=1e-5
    )
    with_seen = model.recommend(user, n=data.n_items, filter_seen=False)
    assert len(with_seen) == data.n_items
    # a threshold halfway between two distinct scores: exactly the items above it qualify
    distinct = np.unique(scores)[::-1]
    threshold = float(distinct[len(distinct) // 2] + distinct[len(distinct) // 2 + 1]) / 2
    above = model.recommend(user, n=data.n_items, filter_seen=False, threshold=threshold)
    assert len(above) == int(np.sum(scores > threshold))
    assert (above["score"] >= threshold).all()


def test_recommend_batch_agrees_with_recommend(case, data):
    _, _, model = case
    users = data.user_ids[[1, 2, 9]]
    batch = model.recommend_batch(users, n=5)
    assert list(batch.columns[:4]) == ["user", "rank", "item", "score"]
    for user in users:
        one = model.recommend(user, n=5)
        part = batch[batch["user"] == user]
        assert list(part["item"]) == list(one["item"])
        assert list(part["rank"]) == list(range(1, len(one) + 1))
    assert len(model.recommend_batch(None, n=2)) == 2 * data.n_users


def test_similar_items_rank_by_cosine_without_the_item(case, data):
    _, _, model = case
    item = data.item_ids[0]
    similar = model.similar_items(item, n=5)
    assert item not in set(similar["item"])
    assert similar["similarity"].is_monotonic_decreasing
    y = model.item_factors_.astype(np.float64)
    norms = np.linalg.norm(y, axis=1)
    cosine = (y @ y[0]) / np.where(norms > 0, norms, 1.0) / (norms[0] or 1.0)
    np.testing.assert_allclose(
        similar["similarity"], cosine[model.item_index(similar["item"])], atol=1e-6
    )


def test_params_set_params_and_clone(case):
    _, _, model = case
    params = model.get_params()
    clone = type(model)(**params)
    assert clone.get_params() == params
    assert not clone.is_fitted
    if params:
        name = next(iter(params))
        assert clone.set_params(**{name: params[name]}) is clone
    with pytest.raises(ParameterError, match="no parameter"):
        clone.set_params(no_such_option=1)


def test_save_then_load_gives_the_same_model(case, data, tmp_path):
    entry, _, model = case
    path = tmp_path / "model.alsrec"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is entry.cls
    json_params = {k: v for k, v in model.get_params().items() if k != "spark"}
    assert {k: loaded.get_params()[k] for k in json_params} == json_params
    for name in ("user_factors_", "item_factors_", "user_ids_", "item_ids_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.global_bias_ == model.global_bias_
    pd.testing.assert_frame_equal(
        loaded.recommend_batch(data.user_ids[:5], n=4),
        model.recommend_batch(data.user_ids[:5], n=4),
    )


def test_fold_in_where_supported_and_a_clear_error_elsewhere(case, data):
    _, _, model = case
    items, ratings = data.item_ids[[0, 1, 2]], [3.0, 1.0, 2.0]
    if model.objective_ is None:
        with pytest.raises(ParameterError, match="no objective to fold new users into"):
            model.fold_in(items, ratings)
        return
    vector, bias = model.fold_in(items, ratings)
    assert vector.shape == (model.user_factors_.shape[1],)
    assert np.isfinite(vector).all()
    assert np.isfinite(bias)
    fresh = model.recommend_new_user(items, ratings, n=5)
    assert not set(items) & set(fresh["item"])
    assert len(fresh) == 5

"""update_items: the mirror of update_users, equal to the reference ridge solve."""

import numpy as np
import pytest
import scipy.sparse as sp

from alsrec import ALS, Interactions
from alsrec.errors import UnknownIdError
from alsrec.kernels import reference as ref
from tests.models.helpers import small_rated_data


@pytest.fixture
def data():
    return small_rated_data(3)


def reference_item_rows(model, fresh):
    """The items' ridge solutions against the fixed user factors, written densely."""
    o = model.objective_
    users = model.user_index(fresh.user_ids)
    item_user = fresh.item_user.tocoo()
    rows = sp.csr_matrix(
        (item_user.data, (item_user.row, users[item_user.col])),
        shape=(fresh.n_items, model.n_users),
    )
    reg = o.row_regularization(np.diff(rows.indptr), model.n_users)
    return ref.solve_rows(
        rows,
        model.user_factors_,
        reg,
        o.weights,
    )


def test_update_items_equals_the_reference_solve_and_adds_new_items(data):
    model = ALS("implicit", factors=6, iterations=8, random_state=0, dtype="float64").fit(data)
    users_before = model.user_factors_.copy()
    untouched = model.item_factors_[model.item_index([110])[0]].copy()
    fresh = Interactions.from_arrays(
        ["u1", "u2", "u3", "u4", "u2"], [105, 105, 105, 777, 777], [5.0, 3.0, 1.0, 2.0, 4.0]
    )
    expected = reference_item_rows(model, fresh)
    model.update_items(fresh)
    np.testing.assert_array_equal(model.user_factors_, users_before)  # users stay fixed
    rows = model.item_index(fresh.item_ids)
    np.testing.assert_allclose(model.item_factors_[rows], expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(model.item_factors_[model.item_index([110])[0]], untouched)
    assert model.n_items == data.n_items + 1
    assert model.item_ids_[-1] == 777
    assert model.item_titles_[-1] is None
    assert model.item_titles_[model.item_index([105])[0]] == "T5"
    # the new interactions replace the item's training ones for filter_seen
    column_105 = model.seen_[:, model.item_index([105])[0]]
    assert sorted(model.user_ids_[column_105.nonzero()[0]]) == ["u1", "u2", "u3"]
    # recommendations and similar items see the new item at once
    audience = model.recommend_users(777, n=40)
    assert not {"u2", "u4"} & set(audience["user"])
    recs = model.recommend("u9", n=31, filter_seen=False)
    scores = model.user_factors_[model.user_index(["u9"])[0]] @ model.item_factors_.T
    assert recs.set_index("item").loc[777, "score"] == pytest.approx(scores[-1], rel=1e-9)
    assert 777 in model.similar_items(105, n=30)["item"].tolist()
    assert 777 not in model.recommend("u4", n=31)["item"].tolist()


def test_update_items_with_biases_is_the_mirror_of_fold_in(data):
    model = ALS("explicit", factors=4, iterations=6, random_state=0, dtype="float64").fit(data)
    fresh = Interactions.from_arrays(["u1", "u2", "u3"], [900, 900, 900], [5.0, 5.0, 4.0])
    model.update_items(fresh)
    column = model.item_index([900])[0]
    users = model.user_index(["u1", "u2", "u3"])
    residual = np.array([5.0, 5.0, 4.0]) - model.global_bias_ - model.user_bias_[users]
    bias = residual.sum() / (3 + model.objective_.bias_damping)
    assert model.item_bias_[column] == pytest.approx(bias)
    o = model.objective_
    row = sp.csr_matrix((residual - bias, (np.zeros(3, int), users)), shape=(1, model.n_users))
    expected = ref.solve_rows(
        row,
        model.user_factors_,
        o.row_regularization(np.array([3]), model.n_users),
        o.weights,
    )[0]
    np.testing.assert_allclose(model.item_factors_[column], expected, rtol=1e-8, atol=1e-10)
    assert model.predict(["u1"], [900])[0] > model.global_bias_  # a well-liked new item


def test_update_items_needs_known_users(data):
    model = ALS("implicit", factors=4, iterations=3, random_state=0).fit(data)
    with pytest.raises(UnknownIdError, match="stranger"):
        model.update_items(Interactions.from_arrays(["stranger"], [101], [1.0]))
    assert model.n_items == data.n_items

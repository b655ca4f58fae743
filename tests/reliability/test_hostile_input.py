"""The catalogue of broken input: each case gets a clear error or a documented behaviour."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from alsrec import ALS, Interactions, Popularity
from alsrec.errors import AlsrecError, DataError, ParameterError, UnknownIdError


def test_empty_csv_files(tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("user,item,rating\n")
    with pytest.raises(DataError, match="no data rows"):
        Interactions.from_csv(header_only)
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(DataError, match="could not be read as CSV"):
        Interactions.from_csv(blank)


def test_empty_matrix_cannot_be_fitted():
    empty = Interactions.from_scipy(sp.csr_matrix((3, 4), dtype=np.float32))
    with pytest.raises(DataError, match="holds no interactions"):
        ALS().fit(empty)


def test_users_and_items_without_interactions_get_defined_factors():
    matrix = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0], [2, 3, 0]], dtype=np.float32))
    data = Interactions.from_scipy(matrix)
    for preset in ("explicit", "implicit", "zeros"):
        model = ALS(preset, factors=2, iterations=3, random_state=0).fit(data)
        assert np.isfinite(model.user_factors_).all()
        assert np.isfinite(model.item_factors_).all()
    explicit = ALS("explicit", factors=2, iterations=3, use_biases=False).fit(data)
    np.testing.assert_array_equal(explicit.user_factors_[1], 0)  # no data, no prior pull
    assert len(model.recommend(1, n=2)) == 2  # an empty user still gets a ranking


def test_ids_that_overflow_int32_are_kept_exactly():
    big = [2**40, 2**40 + 1, 2**62]
    data = Interactions.from_arrays(big, [7, 8, 7], [1.0, 2.0, 3.0])
    assert data.user_ids.tolist() == big
    model = Popularity().fit(data)
    assert model.recommend(2**62, n=1, filter_seen=False)["item"].tolist() == [7]


def test_single_user_and_single_item():
    one_user = Interactions.from_arrays([1, 1, 1], [1, 2, 3], [5.0, 3.0, 1.0])
    with pytest.warns(UserWarning, match="exceeds min"):
        model = ALS("explicit", factors=2, iterations=2).fit(one_user)
    assert model.predict([1], [1]).shape == (1,)
    one_item = Interactions.from_arrays([1, 2], [9, 9], [4.0, 2.0])
    recs = ALS("implicit", factors=1, iterations=2).fit(one_item).recommend(1, filter_seen=False)
    assert recs["item"].tolist() == [9]
    with pytest.raises(DataError, match="single item"):
        Popularity().fit(one_item).similar_items(9)


def test_factors_larger_than_matrix_warn_and_still_fit():
    data = Interactions.from_arrays([1, 2, 3], [1, 2, 1], [1.0, 1.0, 1.0])
    with pytest.warns(UserWarning, match="factors=10 exceeds min"):
        model = ALS("implicit", factors=10, iterations=2).fit(data)
    assert np.isfinite(model.item_factors_).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"factors": -3}, "factors=-3"),
        ({"factors": 2.5}, "factors=2.5"),
        ({"iterations": 0}, "iterations=0"),
        ({"preset": "spark"}, "preset='spark' is not known"),
        ({"solver": "lu"}, "solver='lu'"),
        ({"solver": "cg", "cg_steps": 0}, "cg_steps=0"),
        ({"alpha": float("nan")}, "alpha=nan"),
        ({"unobserved_weight": -1.0}, "unobserved_weight=-1.0"),
        ({"dtype": "float16"}, "dtype='float16'"),
        ({"tol": -1.0}, "tol=-1.0"),
    ],
)
def test_absurd_parameters(params, message):
    data = Interactions.from_arrays([1, 2], [1, 2], [1.0, 1.0])
    with pytest.raises(ParameterError, match=message):
        ALS(**params).fit(data)


def test_unknown_ids_at_query_time():
    data = Interactions.from_arrays(["a", "b"], ["x", "y"], [1.0, 2.0])
    model = ALS("implicit", factors=1, iterations=1).fit(data)
    with pytest.raises(UnknownIdError, match="unknown user id 'z'"):
        model.recommend("z")
    with pytest.raises(UnknownIdError, match="unknown item id 'q'"):
        model.predict(["a"], ["q"])
    with pytest.raises(UnknownIdError, match="unknown item id 'q'"):
        model.similar_items("q")
    with pytest.raises(UnknownIdError, match="1 and '1' differ"):
        model.recommend("a", items=[1])


def test_every_deliberate_error_is_an_alsrec_error_and_a_builtin_kind():
    for kind in (DataError, ParameterError):
        assert issubclass(kind, AlsrecError)
        assert issubclass(kind, ValueError)
    assert issubclass(UnknownIdError, KeyError)


def test_negative_ratings_are_legal_for_explicit_models():
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "rating": [-2.0, 1.0, -1.0]})
    model = ALS("explicit", factors=1, iterations=3).fit(Interactions.from_dataframe(frame))
    assert model.global_bias_ < 0

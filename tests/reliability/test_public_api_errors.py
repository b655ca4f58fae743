"""For arbitrary input, every exception escaping alsrec's public API is an AlsrecError.

A wrong Python type for a parameter may raise TypeError instead (documented); nothing
else may escape: no raw ValueError, IndexError, ZeroDivisionError or numba TypingError.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsrec import ALS, Interactions, Popularity
from alsrec.errors import AlsrecError

ids = st.one_of(
    st.integers(-3, 5),
    st.text("ab0", min_size=0, max_size=2),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.none(),
    st.binary(max_size=2),
    st.booleans(),
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.sampled_from(["5", "x", "", None, 1e39, -1e39]),
)
numbers = st.one_of(
    st.integers(-2, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 10**12, -1, 0.5, "3", None, True]),
)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def outcome(call):
    """``(result, None)`` or ``(None, exception)``."""
    try:
        return call(), None
    except Exception as exc:
        return None, exc


def check_allowed(error: Exception | None) -> None:
    assert error is None or isinstance(error, AlsrecError | TypeError), (
        f"{type(error).__name__}: {error}"
    )


def frame_from(rows):
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


@SETTINGS
@given(rows=st.lists(st.tuples(ids, ids, values), min_size=0, max_size=8))
def test_building_interactions_raises_only_alsrec_errors(rows):
    data, error = outcome(lambda: Interactions.from_dataframe(frame_from(rows), duplicates="sum"))
    check_allowed(error)
    if data is not None:
        assert np.isfinite(data.matrix.data).all()


@SETTINGS
@given(
    preset=st.sampled_from(["explicit", "implicit", "zeros"]),
    factors=numbers,
    regularization=numbers,
    iterations=numbers,
    alpha=numbers,
    solver=st.sampled_from(["cholesky", "cg", "lu", None, 3]),
)
def test_fitting_with_arbitrary_parameters_raises_only_alsrec_errors(
    preset, factors, regularization, iterations, alpha, solver
):
    data = Interactions.from_arrays([1, 1, 2, 3], ["a", "b", "b", "c"], [1.0, 2.0, 3.0, 4.0])
    params = {"factors": factors, "regularization": regularization, "iterations": iterations}
    if preset == "implicit":
        params["alpha"] = alpha
    if isinstance(iterations, int) and iterations > 5:
        params["iterations"] = 5  # keep the run short; the size is not what is tested
    if isinstance(factors, int) and factors > 16:
        params["factors"] = 16
    model, error = outcome(lambda: ALS(preset, solver=solver, random_state=0, **params).fit(data))
    check_allowed(error)
    if model is not None:
        assert np.isfinite(model.item_factors_).all()


@SETTINGS
@given(
    user=ids,
    n=numbers,
    threshold=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    items=st.lists(ids, max_size=4),
    ratings=st.lists(values, max_size=4),
)
def test_queries_with_arbitrary_arguments_raise_only_alsrec_errors(
    fitted_models, user, n, threshold, items, ratings
):
    for model in fitted_models:
        calls = [
            lambda m=model: m.recommend(user, n=n, threshold=threshold),
            lambda m=model: m.predict([user], items[:1] or [user]),
            lambda m=model: m.similar_items(user, n=n),
            lambda m=model: m.recommend_new_user(items, ratings or None, n=n),
        ]
        for call in calls:
            result, error = outcome(call)
            check_allowed(error)
            if isinstance(result, pd.DataFrame) and "score" in result:
                assert all(math.isfinite(v) for v in result["score"])


@pytest.fixture(scope="module")
def fitted_models():
    data = Interactions.from_arrays([1, 1, 2, 3], ["a", "b", "b", "c"], [1.0, 2.0, 3.0, 4.0])
    return [
        ALS("explicit", factors=2, iterations=2, random_state=0).fit(data),
        ALS("implicit", factors=2, iterations=2, random_state=0).fit(data),
        Popularity().fit(data),
    ]

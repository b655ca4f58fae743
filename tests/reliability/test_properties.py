"""Invariants under property-based tests."""

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from alsrec import ALS, Interactions
from alsrec.kernels import reference as ref
from alsrec.models.als import Trainer

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def small_matrices(draw):
    m, n = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    dense = (rng.random((m, n)) < draw(st.floats(0.2, 0.9))) * rng.integers(1, 6, (m, n))
    dense[0, 0] = max(dense[0, 0], 1)
    return sp.csr_matrix(dense.astype(np.float32)), seed


@SETTINGS
@given(
    case=small_matrices(),
    preset=st.sampled_from(["explicit", "implicit", "zeros"]),
    k=st.integers(1, 4),
    lam=st.floats(0.01, 1.0),
)
def test_every_half_step_lowers_or_keeps_the_objective(case, preset, k, lam):
    matrix, seed = case
    data = Interactions.from_scipy(matrix)
    objective = ALS(preset, regularization=lam, use_biases=False).resolved_objective()
    rng = np.random.default_rng(seed)
    trainer = Trainer(
        data,
        data.matrix.data.astype(np.float64),
        data.item_user.data.astype(np.float64),
        objective,
        rng.normal(size=(data.n_users, k)),
        rng.normal(size=(data.n_items, k)),
        "cholesky",
        3,
    )
    losses = [trainer.loss()]
    for _ in range(3):
        trainer.solve_users()
        losses.append(trainer.loss())
        trainer.solve_items()
        losses.append(trainer.loss())
    for before, after in itertools.pairwise(losses):
        assert after <= before * (1 + 1e-9) + 1e-9


@SETTINGS
@given(case=small_matrices(), preset=st.sampled_from(["implicit", "zeros"]))
def test_fold_in_reproduces_the_users_exact_ridge_solution(case, preset):
    matrix, _ = case
    data = Interactions.from_scipy(matrix)
    model = ALS(preset, factors=2, iterations=2, dtype="float64", random_state=0).fit(data)
    user = 0
    row = data.matrix[user]
    vector, _ = model.fold_in(data.item_ids[row.indices], row.data)
    o = model.objective_
    reg = o.row_regularization(np.array([row.nnz]), data.n_items)
    expected = ref.solve_rows(
        row,
        model.item_factors_,
        reg,
        o.weights,
    )[0]
    np.testing.assert_allclose(vector, expected, rtol=1e-7, atol=1e-9)


ids = st.one_of(st.integers(-(2**40), 2**40), st.text("abcxyz_-", min_size=1, max_size=6))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 30),
            st.integers(0, 30),
            st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 3) or 1.0),
            st.integers(0, 2**40),
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda r: r[:2],
    ),
    as_text=st.booleans(),
)
def test_round_trip_through_dataframe_csv_and_parquet(rows, as_text):
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    if as_text:
        frame["user"] = "u" + frame["user"].astype(str)
    data = Interactions.from_dataframe(frame)
    expected = frame.sort_values(["user", "item"]).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as folder:
        csv, parquet = Path(folder) / "r.csv", Path(folder) / "r.parquet"
        data.to_dataframe().to_csv(csv, index=False)
        data.to_dataframe().to_parquet(parquet)
        for loaded in (data, Interactions.from_csv(csv), Interactions.from_parquet(parquet)):
            got = loaded.to_dataframe().sort_values(["user", "item"]).reset_index(drop=True)
            assert got["user"].tolist() == expected["user"].tolist()
            assert got["item"].tolist() == expected["item"].tolist()
            np.testing.assert_allclose(got["rating"], expected["rating"].astype(np.float32))
            assert got["timestamp"].tolist() == expected["timestamp"].tolist()


def test_interactions_reject_ids_of_mixed_types_in_round_trip_input():
    with pytest.raises(ValueError, match="mixes id types"):
        Interactions.from_dataframe(pd.DataFrame({"user": [1, "a"], "item": [1, 2]}))

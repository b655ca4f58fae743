"""ALS against known answers: ridge solutions, monotone objective, planted data."""

import itertools

import numpy as np
import pandas as pd
import pytest

from alsrec import ALS, Interactions, generate
from alsrec.errors import DataError, NotFittedError, NumericalError, ParameterError
from alsrec.kernels import reference as ref
from alsrec.models.als import Trainer

PRESETS = ["explicit", "implicit", "zeros"]


@pytest.fixture(scope="module")
def small():
    return generate(120, 80, 2500, rank=4, values="implicit", seed=11).interactions


def small_ratings():
    rng = np.random.default_rng(0)
    dense = (rng.random((60, 40)) < 0.2) * rng.integers(1, 6, (60, 40))
    dense[:, 0] = 3  # no empty rows or columns
    dense[0, :] = 4
    users, items = np.nonzero(dense)
    return Interactions.from_arrays(users, items, dense[users, items].astype(float))


@pytest.mark.parametrize("preset", PRESETS)
def test_objective_never_increases_across_half_steps(preset):
    data = small_ratings()
    model = ALS(preset, factors=5, iterations=1, random_state=0, dtype="float64").fit(data)
    objective = model.objective_
    rng = np.random.default_rng(1)
    trainer = Trainer(
        data,
        data.matrix.data.astype(np.float64),
        data.item_user.data.astype(np.float64),
        objective,
        np.zeros((60, 5)),
        rng.normal(scale=0.1, size=(40, 5)),
        "cholesky",
        3,
    )
    trainer.solve_users()
    losses = [trainer.loss()]
    for _ in range(6):
        trainer.solve_items()
        losses.append(trainer.loss())
        trainer.solve_users()
        losses.append(trainer.loss())
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(losses))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("preset", PRESETS)
def test_half_steps_equal_dense_ridge_solutions(preset):
    data = small_ratings()
    model = ALS(preset, factors=4, iterations=1, dtype="float64", random_state=3)
    objective = model.resolved_objective()
    y = np.random.default_rng(2).normal(size=(40, 4))
    trainer = Trainer(
        data,
        data.matrix.data.astype(np.float64),
        data.item_user.data.astype(np.float64),
        objective,
        np.zeros((60, 4)),
        y.copy(),
        "cholesky",
        3,
    )
    trainer.solve_users()
    expected_x = ref.solve_rows(
        data.matrix,
        y,
        trainer.user_reg,
        objective.weights,
    )
    np.testing.assert_allclose(trainer.x, expected_x, rtol=1e-9, atol=1e-10)
    trainer.solve_items()
    expected_y = ref.solve_rows(
        data.item_user,
        trainer.x,
        trainer.item_reg,
        objective.weights,
    )
    np.testing.assert_allclose(trainer.y, expected_y, rtol=1e-9, atol=1e-10)


def test_explicit_regularisation_is_count_scaled_like_spark():
    data = small_ratings()
    objective = ALS("explicit", regularization=0.1).resolved_objective()
    reg = objective.row_regularization(data.user_counts(), data.n_items)
    np.testing.assert_allclose(reg, 0.1 * data.user_counts())


def test_zeros_preset_fits_the_blogs_dense_als():
    data = small_ratings()
    k, lam = 4, 0.001
    model = ALS(
        "zeros", factors=k, regularization=lam, iterations=3, dtype="float64", random_state=5
    ).fit(data)
    # replay the blog's dense updates from the same starting item factors
    v = np.random.default_rng(5).standard_normal((data.n_items, k)) * 0.01
    r = data.matrix.toarray()
    for _ in range(3):
        u = r @ v @ np.linalg.inv(v.T @ v + lam * np.eye(k))
        v = r.T @ u @ np.linalg.inv(u.T @ u + lam * np.eye(k))
    np.testing.assert_allclose(model.user_factors_ @ model.item_factors_.T, u @ v.T, atol=1e-6)


def test_planted_low_rank_data_is_recovered_to_noise_level():
    truth = generate(800, 400, 60_000, rank=4, noise_std=0.1, seed=2)
    data = truth.interactions
    rng = np.random.default_rng(0)
    test = rng.random(data.nnz) < 0.1
    train = data.filter(~test)
    model = ALS(
        "explicit",
        factors=4,
        regularization=0.002,
        iterations=25,
        use_biases=False,
        random_state=0,
        compute_loss=True,
    ).fit(train)
    heldout = data.filter(test).to_dataframe()
    predicted = model.predict(heldout["user"], heldout["item"])
    rmse = np.sqrt(np.mean((predicted - heldout["rating"]) ** 2))
    assert rmse < 0.13  # noise std is 0.1; a useless model would be near the signal std (~1)
    assert model.loss_history_[-1] < model.loss_history_[0]


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_same_seed_same_factors_across_runs_and_thread_counts(small, solver):
    a = ALS("implicit", factors=8, iterations=3, solver=solver, random_state=4, num_threads=1).fit(
        small
    )
    b = ALS("implicit", factors=8, iterations=3, solver=solver, random_state=4, num_threads=0).fit(
        small
    )
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    c = ALS("implicit", factors=8, iterations=3, solver=solver, random_state=5).fit(small)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_cg_reaches_cholesky_loss(small):
    chol = ALS("implicit", factors=8, iterations=10, solver="cholesky", random_state=0).fit(small)
    cg = ALS("implicit", factors=8, iterations=10, solver="cg", cg_steps=8, random_state=0).fit(
        small
    )
    assert cg.loss_history_[-1] == pytest.approx(chol.loss_history_[-1], rel=1e-3)


def test_callback_early_stopping_and_history(small):
    seen = []

    def record(iteration, elapsed, loss):
        seen.append((iteration, loss))
        return iteration < 3  # False stops training

    model = ALS("implicit", factors=4, iterations=10, random_state=0, callback=record).fit(small)
    assert [it for it, _ in seen] == [1, 2, 3]
    assert model.n_iter_ == 3
    assert model.loss_history_ == [loss for _, loss in seen]
    converged = ALS("implicit", factors=4, iterations=200, tol=1e-3, random_state=0).fit(small)
    assert converged.n_iter_ < 200


def test_bad_parameters_name_the_fix(small):
    cases = [
        ({"preset": "magic"}, "preset='magic' is not known"),
        ({"factors": -1}, "factors=-1 must be a positive"),
        ({"iterations": 0}, "iterations=0 must be a positive"),
        ({"solver": "qr"}, "solver='qr'"),
        ({"regularization": -1.0}, "regularization=-1.0 must be"),
        ({"confidence": "cubic"}, "confidence='cubic'"),
        ({"device": "cuda"}, "device='cuda'"),
    ]
    for params, message in cases:
        with pytest.raises(ParameterError, match=message):
            ALS(**params).fit(small)
    with pytest.raises(DataError, match="expects alsrec.Interactions"):
        ALS().fit(pd.DataFrame())


def test_negative_values_refused_for_implicit_confidences():
    data = Interactions.from_arrays([1, 2], [1, 2], [-1.0, 2.0])
    with pytest.raises(DataError, match="values >= 0"):
        ALS("implicit", factors=2, iterations=1).fit(data)
    ALS("explicit", factors=2, iterations=1).fit(data)  # signed ratings are fine there


def test_singular_system_stops_with_clear_error_and_leaves_model_unfitted():
    data = Interactions.from_arrays([1, 1, 2], [1, 2, 1], [4.0, 3.0, 5.0])
    model = ALS("explicit", factors=8, regularization=0.0, iterations=2, use_biases=False)
    with pytest.raises(NumericalError, match="iteration 1.*regularization is 0"):
        model.fit(data)
    assert not model.is_fitted
    with pytest.raises(NotFittedError, match="call fit"):
        model.recommend(1)


def test_get_set_params_and_repr():
    model = ALS("zeros", factors=3)
    assert model.get_params()["factors"] == 3
    assert model.set_params(factors=5).factors == 5
    assert "factors=5" in repr(model)
    with pytest.raises(ParameterError, match="no parameter 'factor'"):
        model.set_params(factor=2)


def test_loss_is_computed_where_it_is_read(small):
    common = {"factors": 4, "iterations": 4, "random_state": 0}
    every = ALS("implicit", compute_loss=True, **common).fit(small).loss_history_
    assert len(every) == 4
    assert np.all(np.isfinite(every))
    # default: nothing reads the loss during the fit, so only the final loss is computed
    lazy = ALS("implicit", **common).fit(small).loss_history_
    assert np.isnan(lazy[:3]).all()
    assert lazy[3] == every[3]
    assert np.isnan(ALS("implicit", compute_loss=False, **common).fit(small).loss_history_).all()
    # a tolerance, a progress bar or a callback reads it after every iteration
    with_tol = ALS("implicit", tol=1e-12, **common).fit(small).loss_history_
    np.testing.assert_array_equal(with_tol, every)
    seen = []
    ALS("implicit", callback=lambda it, t, loss: seen.append(loss), **common).fit(small)
    np.testing.assert_array_equal(seen, every)

    # a callback that declares it does not read the loss gets NaN, and no loss is computed
    def blind(iteration, elapsed, loss):
        seen.append(loss)

    blind.needs_loss = False
    seen.clear()
    history = ALS("implicit", callback=blind, **common).fit(small).loss_history_
    assert np.isnan(seen[:3]).all()
    assert np.isnan(history[:3]).all()
    assert history[3] == every[3]


def test_solver_defaults_to_the_presets_and_an_explicit_one_wins():
    from alsrec.models import PRESETS

    # measured choices (benchmarks/bench_als.py defaults): CG only where it lost no recall
    assert {p: d["solver"] for p, d in PRESETS.items()} == {
        "explicit": "cholesky",
        "implicit": "cg",
        "zeros": "cholesky",
    }
    for preset, defaults in PRESETS.items():
        assert ALS(preset).resolved_solver() == defaults["solver"]
        assert ALS(preset, solver="cg").resolved_solver() == "cg"
        assert ALS(preset, solver="cholesky").resolved_solver() == "cholesky"
